package eroute

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Proto is the protocol of a SAID. The values are the IP protocol numbers
// KLIPS used for them.
type Proto uint8

// The SAID protocols.
const (
	ProtoTun  Proto = 4   // IP-in-IP: on XFRM, ESP in tunnel mode
	ProtoESP  Proto = 50  // ESP, transport mode
	ProtoAH   Proto = 51  // AH, transport mode
	ProtoInt  Proto = 61  // internal: the magic SAIDs
	ProtoComp Proto = 108 // IPCOMP, transport mode
)

var protoNames = map[Proto]string{
	ProtoTun: "tun", ProtoESP: "esp", ProtoAH: "ah", ProtoInt: "int", ProtoComp: "comp",
}

// String gives the SAID text prefix: "tun", "esp", "ah", "comp" or "int".
// A switch, not protoNames: every SAID parsed and listed asks (five times
// for each one parsed: splitProto), and a map lookup was 4% of --sync.
func (p Proto) String() string {
	switch p {
	case ProtoTun:
		return "tun"
	case ProtoESP:
		return "esp"
	case ProtoAH:
		return "ah"
	case ProtoInt:
		return "int"
	case ProtoComp:
		return "comp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// ParseProto reads the --proto value: ah, esp, comp or tun.
func ParseProto(s string) (Proto, error) {
	for p, n := range protoNames {
		if n == s && p != ProtoInt {
			return p, nil
		}
	}
	return 0, errors.New("must be ah, esp, comp or tun")
}

// SAID is a Security Association IDentifier: protocol, SPI and effective
// destination. The magic SAIDs are internal ones (protocol int, SPI 256 to
// 261, no address), and passthrough is tun with SPI 0 to 0.0.0.0 or ::.
type SAID struct {
	Proto Proto
	SPI   uint32
	Dst   netip.Addr // invalid (zero) for the internal SAIDs
}

// The internal SPIs of the magic SAIDs.
const (
	SPIPass       = 256
	SPIDrop       = 257
	SPIReject     = 258
	SPIHold       = 259
	SPITrap       = 260
	SPITrapSubnet = 261
)

// MinSPI is the smallest SPI a real SA may have; smaller ones are reserved.
const MinSPI = 0x100

// The magic SAIDs.
var (
	Pass          = SAID{Proto: ProtoInt, SPI: SPIPass}
	Drop          = SAID{Proto: ProtoInt, SPI: SPIDrop}
	Reject        = SAID{Proto: ProtoInt, SPI: SPIReject}
	Hold          = SAID{Proto: ProtoInt, SPI: SPIHold}
	Trap          = SAID{Proto: ProtoInt, SPI: SPITrap}
	TrapSubnet    = SAID{Proto: ProtoInt, SPI: SPITrapSubnet}
	Passthrough4  = SAID{Proto: ProtoTun, Dst: netip.IPv4Unspecified()}
	Passthrough6  = SAID{Proto: ProtoTun, Dst: netip.IPv6Unspecified()}
	magicByName   = map[string]SAID{}
	magicNameByID = map[SAID]string{}
)

func init() {
	for _, m := range []struct {
		name string
		said SAID
	}{
		{"%pass", Pass}, {"%drop", Drop}, {"%reject", Reject}, {"%hold", Hold},
		{"%trap", Trap}, {"%trapsubnet", TrapSubnet},
		{"%passthrough4", Passthrough4}, {"%passthrough6", Passthrough6},
	} {
		magicByName[m.name] = m.said
		magicNameByID[m.said] = m.name
	}
	// %passthrough alone is IPv4 in KLIPS; see PassthroughFor.
	magicByName["%passthrough"] = Passthrough4
}

// PassthroughFor gives %passthrough4 or %passthrough6 for an eroute family:
// the unqualified %passthrough follows the family of the eroute it is used on.
func PassthroughFor(f Family) SAID {
	if f == Inet6 {
		return Passthrough6
	}
	return Passthrough4
}

// IsMagic reports whether s is one of the magic SAIDs (including passthrough).
func (s SAID) IsMagic() bool {
	_, ok := magicNameByID[s]
	return ok
}

// IsPassthrough reports whether s is %passthrough4 or %passthrough6.
func (s SAID) IsPassthrough() bool {
	return s == Passthrough4 || s == Passthrough6
}

// IsZero reports whether s is the zero SAID (none given).
func (s SAID) IsZero() bool { return s == SAID{} }

// String gives the canonical text: the magic name, or PROTO0xSPI@ADDR with
// the SPI in lower-case hexadecimal.
func (s SAID) String() string {
	if n, ok := magicNameByID[s]; ok {
		return n
	}
	return fmt.Sprintf("%s0x%x@%s", s.Proto, s.SPI, addrText(s.Dst))
}

// AFString gives the form used in messages and in the manual, where the
// address family character replaces "0x": esp.101@1.2.3.0, esp:101@::1.
func (s SAID) AFString() string {
	if n, ok := magicNameByID[s]; ok {
		return n
	}
	sep := "."
	if s.Dst.Is6() {
		sep = ":"
	}
	return fmt.Sprintf("%s%s%x@%s", s.Proto, sep, s.SPI, addrText(s.Dst))
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "0.0.0.0"
	}
	return a.String()
}

// ParseSAID reads a SAID text, PROTO[AF]SPI@ADDR or a magic name. After AF
// ("." IPv4, ":" IPv6) the SPI is plain hexadecimal; without it the SPI is a
// base-0 number and the family comes from ADDR. Host names in ADDR are looked
// up through r. SPIs below 0x100 are refused except for the internal SAIDs
// and passthrough (tun, SPI 0, unspecified address).
func ParseSAID(text string, r Resolver) (SAID, error) {
	if m, ok := magicByName[text]; ok {
		return m, nil
	}
	if len(text) < 5 {
		return SAID{}, errors.New("string too short to be a SA specifier")
	}
	proto, rest, err := splitProto(text)
	if err != nil {
		return SAID{}, err
	}
	at := strings.IndexByte(rest, '@')
	if at < 0 {
		return SAID{}, errors.New("no @ in SA specifier")
	}
	family, spi, err := parseSPIText(rest[:at])
	if err != nil {
		return SAID{}, err
	}
	addrText := rest[at+1:]
	if proto == ProtoInt {
		return internalSAID(spi, addrText, family)
	}
	dst, err := ParseAddr(addrText, family, r)
	if err != nil {
		return SAID{}, err
	}
	s := SAID{Proto: proto, SPI: spi, Dst: dst}
	if proto == ProtoTun && spi == 0 && dst.IsUnspecified() {
		return s, nil // passthrough
	}
	if spi < MinSPI {
		return SAID{}, ErrReservedSPI
	}
	if err := CheckSADst(dst); err != nil {
		return SAID{}, err
	}
	return s, nil
}

// CheckSADst refuses an address that cannot be the destination of an SA
// (the far end of a tunnel, or the peer of a transport SA): the kernel
// would take the policy, but no packet could ever reach such an SA. The
// unspecified address is only passthrough's (SPI 0); multicast and the
// IPv4 broadcast address are not one host; an IPv4-mapped IPv6 address is
// an IPv4 host written as IPv6, which XFRM would look up as IPv6 and never
// find.
func CheckSADst(a netip.Addr) error {
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("%s is the unspecified address, which cannot be an SA's destination (only passthrough, SPI 0, has it)", a)
	case a.Is4In6():
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address, which cannot be an SA's destination: write %s", a, a.Unmap())
	case a.IsMulticast():
		return fmt.Errorf("%s is a multicast address, which cannot be an SA's destination", a)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s is the broadcast address, which cannot be an SA's destination", a)
	}
	return nil
}

func splitProto(text string) (Proto, string, error) {
	// "comp" before the others, none is a prefix of another.
	for _, p := range []Proto{ProtoComp, ProtoESP, ProtoAH, ProtoTun, ProtoInt} {
		if n := p.String(); strings.HasPrefix(text, n) {
			return p, text[len(n):], nil
		}
	}
	return 0, "", errors.New("unknown SA protocol (want ah, esp, comp, tun or int)")
}

// parseSPIText reads [AF]SPI.
func parseSPIText(s string) (Family, uint32, error) {
	family := Unspec
	var n uint64
	var err error
	switch {
	case strings.HasPrefix(s, "."):
		family = Inet
		n, err = parseDigits(s[1:], 16, 0xffffffff)
	case strings.HasPrefix(s, ":"):
		family = Inet6
		n, err = parseDigits(s[1:], 16, 0xffffffff)
	default:
		n, err = parseBase0(s, 0xffffffff)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("bad SPI %q: %v", s, err)
	}
	return family, uint32(n), nil
}

// internalSAID checks an int SAID: a magic SPI to an unspecified address,
// of the family the AF character gave, if any.
func internalSAID(spi uint32, addr string, family Family) (SAID, error) {
	s := SAID{Proto: ProtoInt, SPI: spi}
	if _, ok := magicNameByID[s]; !ok {
		return SAID{}, fmt.Errorf("unknown internal SPI 0x%x (want 0x100 to 0x105)", spi)
	}
	a, err := parseNumericAddr(addr)
	if err != nil || !a.IsUnspecified() {
		return SAID{}, errors.New("internal SA must have address 0.0.0.0 or ::")
	}
	if family != Unspec && FamilyOf(a) != family {
		return SAID{}, fmt.Errorf("address %s is not %s", a, family)
	}
	return s, nil
}

// QuickSAID is ParseSAID(s, r) of a magic name or of PROTO0xSPI@ADDR:
// tun, esp, ah or comp, one to eight hexadecimal digits from 0x100, and
// ADDR in QuickAddr's forms; ok is false for any other text, and where
// ParseSAID refuses (see QuickAddr).
func QuickSAID(s string) (SAID, bool) {
	if strings.HasPrefix(s, "%") {
		m, ok := magicByName[s]
		return m, ok
	}
	var said SAID
	switch {
	case strings.HasPrefix(s, "tun0x"):
		said.Proto, s = ProtoTun, s[5:]
	case strings.HasPrefix(s, "esp0x"):
		said.Proto, s = ProtoESP, s[5:]
	case strings.HasPrefix(s, "ah0x"):
		said.Proto, s = ProtoAH, s[4:]
	case strings.HasPrefix(s, "comp0x"):
		said.Proto, s = ProtoComp, s[6:]
	default:
		return SAID{}, false
	}
	at := 0
	for ; at < len(s) && at < 9 && hexValue[s[at]] < 16; at++ {
		said.SPI = said.SPI<<4 | uint32(hexValue[s[at]])
	}
	if at > 8 || at == len(s) || s[at] != '@' {
		return SAID{}, false
	}
	var ok bool
	if said.Dst, ok = QuickAddr(s[at+1:]); !ok || said.SPI < MinSPI || CheckSADst(said.Dst) != nil {
		return SAID{}, false
	}
	return said, true
}
