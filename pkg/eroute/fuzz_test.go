package eroute

import (
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func FuzzParseSAID(f *testing.F) {
	for _, s := range []string{
		"%passthrough", "%passthrough4", "%passthrough6", "%pass", "%drop", "%reject",
		"%hold", "%trap", "%trapsubnet",
		"tun0x135@192.168.0.2", "tun.135@192.168.0.2", "esp:101@::1", "ah0x200@1.2.3.4",
		"esp256@1.2.3.4", "esp0400@1.2.3.4", "comp0x1000@10.0.0.1", "int256@0.0.0.0",
		"int0x100@0.0.0.0", "int0x104@0.0.0.0", "int0x105@::", "tun0x0@0.0.0.0", "tun:0@::",
		"esp.101@::1", "int0x200@0.0.0.0", "tun.135@gw.ngo.org", "esp:200@company.com",
		"tun0x130@3058:4::5", "esp0x101@10", "esp0x101@0x0a090909", "esp:101@::ffff:1.2.3.4",
		"esp0xff@1.2.3.4", "esp0x101@fe80::1%eth0", "ah1@", "",
		"tun0x200@0.0.0.0", "tun:200@::", "tun0x200@224.0.0.1", "tun:200@ff02::1",
		"tun0x200@255.255.255.255", "tun:200@::ffff:1.2.3.4", "esp.200@239.1.1.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSAID(text, newFakeResolver())
		if err != nil {
			if !s.IsZero() {
				t.Fatalf("ParseSAID(%q) gave %+v with error %v", text, s, err)
			}
			return
		}
		switch {
		case s.IsMagic():
		case s.SPI < MinSPI:
			t.Fatalf("ParseSAID(%q) = %+v: reserved SPI accepted", text, s)
		case s.Proto == ProtoInt:
			t.Fatalf("ParseSAID(%q) = %+v: unknown internal SAID accepted", text, s)
		case !s.Dst.IsValid() || s.Dst.Zone() != "":
			t.Fatalf("ParseSAID(%q) = %+v: bad address", text, s)
		case s.Dst.IsUnspecified() || s.Dst.IsMulticast() || s.Dst.Is4In6() || s.Dst == netip.MustParseAddr("255.255.255.255"):
			t.Fatalf("ParseSAID(%q) = %+v: an address no SA can have", text, s)
		}
		str := s.String()
		back, err := ParseSAID(str, NoResolver{})
		if err != nil {
			t.Fatalf("ParseSAID(%q) = %+v, whose text %q does not parse: %v", text, s, str, err)
		}
		if back != s {
			t.Fatalf("ParseSAID(%q) = %+v, text %q, read back as %+v", text, s, str, back)
		}
		if again := back.String(); again != str {
			t.Fatalf("String not stable: %q then %q", str, again)
		}
		afs := s.AFString()
		if back, err := ParseSAID(afs, NoResolver{}); err != nil || back != s {
			t.Fatalf("ParseSAID(%q) = %+v, AFString %q reads back as %+v, %v", text, s, afs, back, err)
		}
	})
}

func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{
		"10/8", "10.1/16", "0/0", "128.009.000.032/32", "0x80090020/32", "192.168.0.1/24",
		"10.0.0.0/255.255.0.0", "10.0.0.0/0xffff0000", "10.0.0.0/255.0.255.0", "3049:2::/64",
		"3049:0002:0000:0000:0000:0000:0000:0000/64", "3049:2::/ffff::", "%default", "10.0.0.0",
		"10.0.0.0/33", "3049::/129", "256.0.0.0/8", "1..2/8", "1.2.3.4.5/32", "10./8",
		"company.com/24", "nowhere.example/24", "::ffff:1.2.3.4/96", "fe80::1%eth0/64",
	} {
		for fam := range 3 {
			f.Add(s, uint8(fam))
		}
	}
	f.Fuzz(func(t *testing.T, text string, fam uint8) {
		family := Family(fam % 3)
		p, err := ParseSubnet(text, family, newFakeResolver())
		if err != nil {
			if p.IsValid() {
				t.Fatalf("ParseSubnet(%q, %s) gave %s with error %v", text, family, p, err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
			t.Fatalf("ParseSubnet(%q, %s) = %s: invalid, zoned or with host bits", text, family, p)
		}
		got := FamilyOf(p.Addr())
		if family != Unspec && got != family {
			t.Fatalf("ParseSubnet(%q, %s) = %s of family %s", text, family, p, got)
		}
		if af := AddrFamily(text); af != Unspec && af != got {
			t.Fatalf("AddrFamily(%q) = %s, but ParseSubnet gave %s", text, af, p)
		}
		str := p.String()
		if af := AddrFamily(str); af != got {
			t.Fatalf("AddrFamily(%q) = %s, want %s", str, af, got)
		}
		back, err := ParseSubnet(str, family, NoResolver{})
		if err != nil || back != p {
			t.Fatalf("ParseSubnet(%q, %s) = %s, whose text reads back as %s, %v", text, family, p, back, err)
		}
	})
}

// base0Reference is strtoul with base 0 on the whole text, with math/big:
// a second implementation to hold parseBase0 against.
func base0Reference(s string, max uint64) (uint64, bool) {
	base, digits := 10, s
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		base, digits = 16, s[2:]
	} else if len(s) > 1 && s[0] == '0' {
		base, digits = 8, s[1:]
	}
	if digits == "" {
		return 0, false
	}
	n := new(big.Int)
	b := big.NewInt(int64(base))
	for _, c := range []byte(digits) {
		d := -1
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		}
		if d < 0 || d >= base {
			return 0, false
		}
		n.Mul(n, b).Add(n, big.NewInt(int64(d)))
	}
	if !n.IsUint64() || n.Uint64() > max {
		return 0, false
	}
	return n.Uint64(), true
}

func FuzzParseBase0(f *testing.F) {
	for _, s := range []string{
		"0", "00", "0x", "0X1f", "08", "017", "0400", "256", "4294967295", "4294967296",
		"0xffffffff", "0x100000000", "18446744073709551615", "18446744073709551616", "-1",
		"+1", "1_0", "0b1", "0o7", " 1", "",
	} {
		f.Add(s, uint64(0xffffffff))
	}
	f.Add("65535", uint64(65535))
	f.Add("255", uint64(255))
	f.Add("18446744073709551615", uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, s string, max uint64) {
		n, err := parseBase0(s, max)
		want, ok := base0Reference(s, max)
		if (err == nil) != ok || n != want {
			t.Fatalf("parseBase0(%q, %d) = %d, %v; reference %d, %v", s, max, n, err, want, ok)
		}
		if err != nil {
			return
		}
		// Every base prints back to the same number.
		for _, text := range []string{
			strconv.FormatUint(n, 10), "0x" + strconv.FormatUint(n, 16), "0" + strconv.FormatUint(n, 8),
		} {
			if back, err := parseBase0(text, max); err != nil || back != n {
				t.Fatalf("parseBase0(%q, %d) = %d, %v; want %d", text, max, back, err, n)
			}
		}
	})
}

// parseEndText reads what EndText writes.
func parseEndText(s string) (netip.Prefix, uint16, error) {
	var port uint64
	if rest, ok := strings.CutPrefix(s, "["); ok {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return netip.Prefix{}, 0, strconv.ErrSyntax
		}
		var err error
		if port, err = strconv.ParseUint(rest[end+2:], 10, 16); err != nil {
			return netip.Prefix{}, 0, err
		}
		s = rest[:end]
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[:i], ":") {
		var err error
		if port, err = strconv.ParseUint(s[i+1:], 10, 16); err != nil {
			return netip.Prefix{}, 0, err
		}
		s = s[:i]
	}
	p, err := ParseSubnet(s, Unspec, NoResolver{})
	return p, uint16(port), err
}

func FuzzEndText(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0}, 24, uint16(110))
	f.Add([]byte{10, 1, 1, 1}, 32, uint16(0))
	f.Add([]byte{0x30, 0x49, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 64, uint16(110))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, 128, uint16(65535))
	f.Fuzz(func(t *testing.T, b []byte, bits int, port uint16) {
		a, ok := netip.AddrFromSlice(b)
		if !ok || bits < 0 || bits > a.BitLen() {
			return
		}
		p := netip.PrefixFrom(a, bits).Masked()
		text := EndText(p, port)
		gotP, gotPort, err := parseEndText(text)
		if err != nil || gotP != p || gotPort != port {
			t.Fatalf("EndText(%s, %d) = %q, read back as %s, %d, %v", p, port, text, gotP, gotPort, err)
		}
		if port == 0 && text != p.String() {
			t.Fatalf("EndText(%s, 0) = %q", p, text)
		}
	})
}
