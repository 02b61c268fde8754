package eroute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// DefaultRoute is the keyword for the whole address space of a family.
const DefaultRoute = "%default"

// ParseAddr reads one address in any KLIPS form: a dotted quad, possibly
// short ("10" is 10.0.0.0, "10.1" is 10.1.0.0; leading zeros are decimal),
// "0x" and eight hexadecimal digits for IPv4, IPv6 text, or a host name
// looked up through r. family, when not Unspec, is the family the address
// must have.
func ParseAddr(s string, family Family, r Resolver) (netip.Addr, error) {
	a, err := parseNumericAddr(s)
	if errors.Is(err, errNotNumeric) {
		if err := checkHostName(s); err != nil {
			return netip.Addr{}, err
		}
		if r == nil {
			r = NoResolver{}
		}
		a, err = r.LookupHost(s, family)
		if err == nil && !a.IsValid() {
			err = fmt.Errorf("host name %q gave no address", s)
		}
	}
	if err != nil {
		return netip.Addr{}, err
	}
	// Checked for names too: a Resolver is not trusted to honour family.
	if err := checkFamily(a, family); err != nil {
		return netip.Addr{}, err
	}
	return a, nil
}

// checkFamily refuses an address of another family than the one wanted
// (any, when family is Unspec).
func checkFamily(a netip.Addr, family Family) error {
	if family != Unspec && FamilyOf(a) != family {
		return fmt.Errorf("address %s is not %s", a, family)
	}
	return nil
}

var errNotNumeric = errors.New("not a numeric address")

// parseNumericAddr reads the numeric forms; errNotNumeric means the text is
// no number at all and may be a host name.
func parseNumericAddr(s string) (netip.Addr, error) {
	switch {
	case s == "":
		return netip.Addr{}, errors.New("empty address")
	case strings.Contains(s, ":"):
		return parseIPv6(s)
	case len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		return parseHexIPv4(s[2:])
	case onlyDigits(s, '.'):
		return parseDottedIPv4(s)
	}
	return netip.Addr{}, errNotNumeric
}

func parseIPv6(s string) (netip.Addr, error) {
	if strings.Contains(s, "%") {
		return netip.Addr{}, errors.New("IPv6 zone not allowed")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, fmt.Errorf("bad IPv6 address %q", s)
	}
	return a, nil
}

func parseHexIPv4(digits string) (netip.Addr, error) {
	if len(digits) != 8 {
		return netip.Addr{}, errors.New("hexadecimal address must have 8 digits")
	}
	n, err := parseDigits(digits, 16, 0xffffffff)
	if err != nil {
		return netip.Addr{}, errors.New("non-hex digit in hexadecimal address")
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), nil
}

// parseDottedIPv4 reads one to four decimal parts; missing trailing parts
// are zero, as in the KLIPS library (not inet_aton, which fills the middle).
// The caller has checked that s holds only digits and dots. It scans the
// text once without allocating: a batch parses 100,000 of these.
func parseDottedIPv4(s string) (netip.Addr, error) {
	var b [4]byte
	part, value, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			value = min(value*10+int(s[i]-'0'), 256)
			digits++
			continue
		}
		switch {
		case digits == 0:
			return netip.Addr{}, errors.New("empty part in dotted address")
		case part == 4:
			return netip.Addr{}, errors.New("too many parts in dotted address")
		case value > 255:
			return netip.Addr{}, errors.New("dotted address part out of range (0-255)")
		}
		b[part] = byte(value)
		part, value, digits = part+1, 0, 0
	}
	return netip.AddrFrom4(b), nil
}

// checkHostName refuses text that cannot be a host name, so that a typo is
// reported as such rather than as a failed DNS lookup.
func checkHostName(s string) error {
	if len(s) > 253 {
		return errors.New("host name too long")
	}
	// By rune, so that a non-ASCII letter is reported whole, not as its
	// first byte; a byte that is not UTF-8 is reported as \xNN.
	for i, c := range s {
		ok := c == '-' || c == '.' || c == '_' ||
			(c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		switch {
		case ok:
		case c == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("bad byte %q (not UTF-8) in address", s[i:i+1])
		default:
			return fmt.Errorf("bad character %q in address", c)
		}
	}
	return nil
}

// AddrFamily tells the family a written address has without looking up a
// name: Unspec for host names and %default, whose family follows from the
// rest of the command.
func AddrFamily(s string) Family {
	a, ok := NumericAddr(s)
	if !ok {
		return Unspec
	}
	return FamilyOf(a)
}

// NumericAddr reads the address of ADDR or ADDR/MASK when it is written as
// numbers (what AddrFamily looks at); false for host names, %default and
// text that is no address. ParseSubnetExactAt takes what it gives, so that
// a --batch line's addresses are read once.
func NumericAddr(s string) (netip.Addr, bool) {
	if s == DefaultRoute {
		return netip.Addr{}, false
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, err := parseNumericAddr(s)
	return a, err == nil
}

// ParseSubnet reads ADDR/BITS or ADDR/MASK (the mask dotted or hexadecimal,
// IPv4 only, and contiguous), or %default. Host bits are cleared, as KLIPS
// did. family must be Inet or Inet6 when s is %default or a host name;
// otherwise it may be Unspec.
func ParseSubnet(s string, family Family, r Resolver) (netip.Prefix, error) {
	p, err := ParseSubnetExact(s, family, r)
	return p.Masked(), err
}

// ParseSubnetExact is ParseSubnet keeping the host bits as given: the
// kernel keeps them in a selector someone else wrote (ip xfrm does not
// clear them), and the listing shows them.
func ParseSubnetExact(s string, family Family, r Resolver) (netip.Prefix, error) {
	return ParseSubnetExactAt(s, netip.Addr{}, family, r)
}

// ParseSubnetExactAt is ParseSubnetExact of text whose address NumericAddr
// has read already (numeric; the zero Addr when it gave none): the same
// prefix and the same errors, without reading the address again.
func ParseSubnetExactAt(s string, numeric netip.Addr, family Family, r Resolver) (netip.Prefix, error) {
	if s == DefaultRoute {
		return netip.PrefixFrom(family.Unspecified(), 0), nil
	}
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 {
		return netip.Prefix{}, errors.New("no / in subnet specification")
	}
	addr, err := numeric, checkFamily(numeric, family)
	if !numeric.IsValid() {
		addr, err = ParseAddr(s[:slash], family, r)
	}
	if err != nil {
		return netip.Prefix{}, err
	}
	n, err := parseMask(s[slash+1:], FamilyOf(addr))
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(addr, n), nil
}

// parseMask reads a bit count, or for IPv4 a dotted or hexadecimal mask.
func parseMask(s string, family Family) (int, error) {
	if s != "" && onlyDigits(s, 0) {
		n, err := parseDigits(s, 10, uint64(family.Bits()))
		if err != nil {
			return 0, fmt.Errorf("mask bits %s out of range (0-%d)", s, family.Bits())
		}
		return int(n), nil
	}
	if family == Inet6 {
		return 0, fmt.Errorf("bad IPv6 mask %q: give the number of bits", s)
	}
	m, err := parseNumericAddr(s)
	if err != nil || !m.Is4() {
		return 0, fmt.Errorf("bad mask %q", s)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	ones := bits.LeadingZeros32(^v)
	if v<<ones != 0 {
		return 0, fmt.Errorf("mask %s is not contiguous", s)
	}
	return ones, nil
}

// onlyDigits reports whether s holds decimal digits and, if extra is not 0,
// that character only (strings.Trim builds a set each call: too slow for a
// batch of 100,000 lines).
func onlyDigits(s string, extra byte) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (extra == 0 || c != extra) {
			return false
		}
	}
	return true
}

// The quick readers below take only the forms a generated batch file
// holds, the same way the general readers do, so that a --batch or
// --sync line of them is checked in a fraction of the time: a dotted quad
// of four parts (one to three digits each), IPv6 text of hexadecimal
// digits and colons, a decimal bit count. ok is false for any other text,
// which the general reader reads and, if need be, refuses with its own
// message; ok is also false where the general reader gives an error.
// TestQuickReaders and FuzzQuickSubnet compare them with the general
// readers.

// QuickAddr is ParseAddr(s, Unspec, r) of an address in the quick forms.
func QuickAddr(s string) (netip.Addr, bool) {
	a, rest, ok := quickAddr(s)
	return a, ok && rest == ""
}

// quickAddr reads an address in the quick forms at the start of s, up to
// the first byte that cannot go on with it, and gives the rest of s.
// Either reader fails on the other family's text within a few bytes.
func quickAddr(s string) (netip.Addr, string, bool) {
	if a, rest, ok := quickIPv4(s); ok {
		return a, rest, true
	}
	return quickIPv6(s)
}

// quickIPv4 reads A.B.C.D, each part one to three decimal digits up to 255.
func quickIPv4(s string) (netip.Addr, string, bool) {
	var b [4]byte
	for part := range 4 {
		if part > 0 {
			if s == "" || s[0] != '.' {
				return netip.Addr{}, s, false
			}
			s = s[1:]
		}
		value, digits := 0, 0
		for digits < len(s) && digits < 3 && s[digits] >= '0' && s[digits] <= '9' {
			value = value*10 + int(s[digits]-'0')
			digits++
		}
		if digits == 0 || value > 255 {
			return netip.Addr{}, s, false
		}
		b[part] = byte(value)
		s = s[digits:]
	}
	return netip.AddrFrom4(b), s, true
}

// quickIPv6 reads IPv6 text of hexadecimal digits and colons, as
// netip.ParseAddr does (groups of one to four digits, one "::" for one or
// more groups of zeros), without a zone or an IPv4 part, which parseIPv6
// would read or refuse. The groups go into two 64-bit halves as they are
// read, and those before the "::" move up at the end: no 16-byte array
// moved about (a third of its time).
func quickIPv6(s string) (netip.Addr, string, bool) {
	// The groups read (since the "::", once read), the last lowest; the
	// groups before the "::" and how many.
	var hi, lo, beforeHi, beforeLo uint64
	groups, before := 0, -1
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		before, s = 0, s[2:]
	}
	for len(s) > 0 && (before != groups || hexValue[s[0]] < 16) {
		if groups == 8 {
			return netip.Addr{}, s, false
		}
		group, digits := uint64(0), 0
		for ; digits < len(s) && digits < 5; digits++ {
			d := hexValue[s[digits]]
			if d >= 16 {
				break
			}
			group = group<<4 | uint64(d)
		}
		if digits == 0 || digits > 4 {
			return netip.Addr{}, s, false
		}
		hi, lo = hi<<16|lo>>48, lo<<16|group
		groups++
		s = s[digits:]
		if len(s) == 0 || s[0] != ':' {
			break
		}
		if len(s) == 1 {
			return netip.Addr{}, s, false
		}
		s = s[1:]
		if s[0] == ':' {
			if before >= 0 {
				return netip.Addr{}, s, false
			}
			before, beforeHi, beforeLo, hi, lo = groups, hi, lo, 0, 0
			s = s[1:]
		}
	}
	switch {
	case groups < 8 && before < 0, groups == 8 && before >= 0:
		return netip.Addr{}, s, false
	case before >= 0:
		// The groups before the "::" go to the top: 8-before groups up.
		switch n := uint(16 * (8 - before)); {
		case n >= 64:
			hi |= beforeLo << (n - 64)
		default:
			hi |= beforeHi<<n | beforeLo>>(64-n)
			lo |= beforeLo << n
		}
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b), s, true
}

// hexValue is the value of each hexadecimal digit, and 255 for any other
// byte: digitValue without its branches, for quickIPv6's inner loop.
var hexValue = func() (t [256]byte) {
	for c := range t {
		t[c] = byte(min(digitValue(byte(c)), 255))
	}
	return t
}()

// QuickSubnet is ParseSubnetExact(s, Unspec, r) of ADDR/BITS in the quick
// forms: the prefix with its host bits as given.
func QuickSubnet(s string) (netip.Prefix, bool) {
	a, mask, ok := quickAddr(s)
	if !ok || len(mask) < 2 || len(mask) > 4 || mask[0] != '/' {
		return netip.Prefix{}, false
	}
	bits := 0
	for i := 1; i < len(mask); i++ {
		if mask[i] < '0' || mask[i] > '9' {
			return netip.Prefix{}, false
		}
		bits = bits*10 + int(mask[i]-'0')
	}
	if bits > a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, bits), true
}
