package eroute

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	tests := []struct {
		in     string
		family Family
		want   string // the prefix as netip prints it
	}{
		// Short dotted forms: a missing trailing part is zero.
		{"10/8", Unspec, "10.0.0.0/8"},
		{"10.1/16", Unspec, "10.1.0.0/16"},
		{"10.1.2/24", Inet, "10.1.2.0/24"},
		{"0/0", Unspec, "0.0.0.0/0"},
		{"0/0", Inet, "0.0.0.0/0"},
		// Leading zeros are decimal.
		{"128.009.000.032/32", Unspec, "128.9.0.32/32"},
		{"010.0.0.0/8", Unspec, "10.0.0.0/8"},
		// Hexadecimal address.
		{"0x80090020/32", Unspec, "128.9.0.32/32"},
		{"0X80090020/32", Inet, "128.9.0.32/32"},
		{"0xc0A80001/16", Unspec, "192.168.0.0/16"},
		// Host bits are cleared.
		{"192.168.0.1/24", Unspec, "192.168.0.0/24"},
		{"192.168.0.1/32", Unspec, "192.168.0.1/32"},
		{"255.255.255.255/1", Unspec, "128.0.0.0/1"},
		{"10.1.2.3/0", Unspec, "0.0.0.0/0"},
		// Masks: bits (leading zeros decimal), dotted, hexadecimal.
		{"10.0.0.0/08", Unspec, "10.0.0.0/8"},
		{"10.0.0.0/255.255.0.0", Unspec, "10.0.0.0/16"},
		{"10.0.0.0/0xffff0000", Unspec, "10.0.0.0/16"},
		{"10.0.0.0/0XFFFFFF00", Unspec, "10.0.0.0/24"},
		{"10.9.8.7/255.255.255.255", Unspec, "10.9.8.7/32"},
		{"10.9.8.7/0.0.0.0", Unspec, "0.0.0.0/0"},
		{"10.9.8.7/255.255.255.128", Unspec, "10.9.8.0/25"},
		{"10.9.8.7/255.255", Unspec, "10.9.0.0/16"}, // short dotted mask
		// IPv6, printed back in RFC 5952 form.
		{"3049:2::/64", Unspec, "3049:2::/64"},
		{"3049:2::/64", Inet6, "3049:2::/64"},
		{"3049:0002:0000:0000:0000:0000:0000:0000/64", Unspec, "3049:2::/64"},
		{"3049:1:0:0:0:0:0:1/128", Inet6, "3049:1::1/128"},
		{"2001:DB8:0:0:1:0:0:1/128", Unspec, "2001:db8::1:0:0:1/128"},
		{"2001:db8:0:0:0:0:2:1/128", Unspec, "2001:db8::2:1/128"},
		{"2001:db8::1/32", Unspec, "2001:db8::/32"},
		{"::/0", Unspec, "::/0"},
		{"::1/128", Unspec, "::1/128"},
		{"::ffff:1.2.3.4/128", Unspec, "::ffff:1.2.3.4/128"},
		{"::1.2.3.4/128", Unspec, "::102:304/128"},
		// %default.
		{"%default", Inet, "0.0.0.0/0"},
		{"%default", Inet6, "::/0"},
		{"%default", Unspec, "0.0.0.0/0"}, // KLIPS' family when none is known
		// Host names through the resolver.
		{"company.com/24", Inet, "192.0.2.0/24"},
		{"company.com/24", Unspec, "192.0.2.0/24"}, // IPv4 preferred
		{"company.com/64", Inet6, "2001:db8::/64"},
		{"mail.ngo.org/32", Inet, "198.51.100.25/32"},
		{"v6only.org/48", Unspec, "2001:db8:6::/48"},
		{"gw.ngo.org/255.255.255.0", Inet, "198.51.100.0/24"},
	}
	for _, tt := range tests {
		got, err := ParseSubnet(tt.in, tt.family, newFakeResolver())
		if err != nil {
			t.Errorf("ParseSubnet(%q, %s): %v", tt.in, tt.family, err)
			continue
		}
		if got.String() != tt.want {
			t.Errorf("ParseSubnet(%q, %s) = %s, want %s", tt.in, tt.family, got, tt.want)
		}
		if got != got.Masked() {
			t.Errorf("ParseSubnet(%q, %s) = %s has host bits", tt.in, tt.family, got)
		}
	}
}

func TestParseSubnetErrors(t *testing.T) {
	tests := []struct {
		in     string
		family Family
		reason string // a part of the error text
	}{
		{"10.0.0.0", Unspec, "no /"},
		{"", Unspec, "no /"},
		{"%default/0", Inet, "bad character"},
		{"10.0.0.0/", Unspec, "bad mask"},
		{"/8", Unspec, "empty address"},
		{"10.0.0.0/33", Unspec, "out of range (0-32)"},
		{"10.0.0.0/99999999999999999999999", Unspec, "out of range"},
		{"3049:2::/129", Unspec, "out of range (0-128)"},
		{"3049:2::/", Inet6, "IPv6 mask"},
		{"10.0.0.0/-1", Unspec, "bad mask"},
		{"10.0.0.0/0x10", Unspec, "bad mask"},
		{"10.0.0.0/255.0.255.0", Unspec, "not contiguous"},
		{"10.0.0.0/0xff00ff00", Unspec, "not contiguous"},
		{"10.0.0.0/255.255.255.1", Unspec, "not contiguous"},
		{"10.0.0.0/0.255.255.255", Unspec, "not contiguous"},
		{"10.0.0.0/255.255.256.0", Unspec, "bad mask"},
		{"10.0.0.0/ffff::", Unspec, "bad mask"},
		{"3049:2::/ffff:ffff:ffff:ffff::", Unspec, "IPv6 mask"},
		{"3049:2::/255.255.0.0", Inet6, "IPv6 mask"},
		{"3049:2::/0xffff0000", Unspec, "IPv6 mask"},
		{"256.0.0.0/8", Unspec, "out of range (0-255)"},
		{"1.256/16", Unspec, "out of range (0-255)"},
		{"1..2/8", Unspec, "empty part"},
		{"1.2.3.4.5/32", Unspec, "too many parts"},
		{"10./8", Unspec, "empty part"},
		{"./8", Unspec, "empty part"},
		{".10/8", Unspec, "empty part"},
		{"0x8009002/32", Unspec, "8 digits"},
		{"0x800900200/32", Unspec, "8 digits"},
		{"0x8009002g/32", Unspec, "non-hex"},
		{"0x/32", Unspec, "8 digits"},
		{"3049::2::1/64", Unspec, "bad IPv6"},
		{"fe80::1%eth0/64", Unspec, "zone"},
		{"1.2.3.4:80/32", Unspec, "bad IPv6"},
		{"1.2.3.4/8/8", Unspec, "bad character"},
		{"bad host!/24", Inet, "bad character"},
		{"h\u00f4te.example/24", Inet, "bad character 'ô' in address"}, // the whole character
		{"\u00c3/24", Inet, "bad character 'Ã' in address"},
		{"zero\u200bwidth/24", Inet, `bad character '\u200b' in address`},
		{"bad\xffbyte/24", Inet, `bad byte "\xff" (not UTF-8) in address`},
		{"bad\ufffdreplacement/24", Inet, "bad character '�' in address"},
		{strings.Repeat("a", 254) + "/24", Inet, "too long"},
		// Families.
		{"10.0.0.0/8", Inet6, "is not inet6"},
		{"0x0a000000/8", Inet6, "is not inet6"},
		{"3049:2::/64", Inet, "is not inet"},
		{"v6only.org/64", Inet, "no inet address"},
		// Names the resolver does not know.
		{"nowhere.example/24", Inet, `"nowhere.example" not found`},
	}
	for _, tt := range tests {
		got, err := ParseSubnet(tt.in, tt.family, newFakeResolver())
		if err == nil {
			t.Errorf("ParseSubnet(%q, %s) = %s, want an error", tt.in, tt.family, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("ParseSubnet(%q, %s) error %q, want it to contain %q", tt.in, tt.family, err, tt.reason)
		}
		if got.IsValid() {
			t.Errorf("ParseSubnet(%q, %s) gave %s with its error", tt.in, tt.family, got)
		}
	}
}

func TestParseSubnetResolverUse(t *testing.T) {
	r := newFakeResolver()
	for _, s := range []string{"10/8", "3049::/16", "0x0a000000/8", "%default"} {
		if _, err := ParseSubnet(s, Unspec, r); err != nil {
			t.Fatalf("ParseSubnet(%q): %v", s, err)
		}
	}
	if len(r.calls) != 0 {
		t.Errorf("numeric subnets were looked up: %v", r.calls)
	}
	if _, err := ParseSubnet("company.com/24", Inet6, r); err != nil {
		t.Fatal(err)
	}
	if want := "company.com/inet6"; len(r.calls) != 1 || r.calls[0] != want {
		t.Errorf("lookups %v, want [%s]", r.calls, want)
	}
	// Without a resolver, names are refused.
	if _, err := ParseSubnet("company.com/24", Inet, nil); err == nil {
		t.Error("ParseSubnet with a nil Resolver resolved a name")
	}
	if _, err := ParseSubnet("company.com/24", Inet, NoResolver{}); err == nil {
		t.Error("ParseSubnet with NoResolver resolved a name")
	}
}

// A resolver that answers with the wrong family, or with no address at all,
// must not slip an address of the wrong family (or an invalid prefix with a
// nil error) past ParseAddr.
func TestParseAddrChecksResolverAnswer(t *testing.T) {
	tests := []struct {
		answer netip.Addr
		family Family
	}{
		{netip.MustParseAddr("2001:db8::1"), Inet},
		{netip.MustParseAddr("192.0.2.1"), Inet6},
		{netip.Addr{}, Inet},
		{netip.Addr{}, Unspec},
	}
	for _, tt := range tests {
		r := badResolver{tt.answer}
		if a, err := ParseAddr("host.example", tt.family, r); err == nil {
			t.Errorf("ParseAddr(host.example, %s) with resolver answer %v = %v, want an error", tt.family, tt.answer, a)
		}
		if p, err := ParseSubnet("host.example/8", tt.family, r); err == nil {
			t.Errorf("ParseSubnet(host.example/8, %s) with resolver answer %v = %v, want an error", tt.family, tt.answer, p)
		}
	}
	a, err := ParseAddr("host.example", Unspec, badResolver{netip.MustParseAddr("2001:db8::1")})
	if err != nil || a != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("ParseAddr(host.example, unspec) = %v, %v", a, err)
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in     string
		family Family
		want   string
	}{
		{"192.168.0.2", Inet, "192.168.0.2"},
		{"192.168.0.2", Unspec, "192.168.0.2"},
		{"10", Unspec, "10.0.0.0"},
		{"0", Unspec, "0.0.0.0"},
		{"0x0A090909", Unspec, "10.9.9.9"},
		{"3049:1::2", Inet6, "3049:1::2"},
		{"3049:1:0::2", Unspec, "3049:1::2"},
		{"gw.ngo.org", Inet, "198.51.100.1"},
		{"company.com", Inet6, "2001:db8::77"},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in, tt.family, newFakeResolver())
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseAddr(%q, %s) = %v, %v; want %s", tt.in, tt.family, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1.2.3.4.5", "::g", "gw.ngo.org:", "@", "a b"} {
		if got, err := ParseAddr(bad, Unspec, newFakeResolver()); err == nil {
			t.Errorf("ParseAddr(%q) = %v, want an error", bad, got)
		}
	}
}

func TestAddrFamily(t *testing.T) {
	tests := []struct {
		in   string
		want Family
	}{
		{"10/8", Inet},
		{"192.168.0.1/24", Inet},
		{"192.168.0.1", Inet},
		{"10.0.0.0/255.255.0.0", Inet},
		{"0x80090020/32", Inet},
		{"0/0", Inet},
		{"3049:2::/64", Inet6},
		{"3049:1::2", Inet6},
		{"::/0", Inet6},
		{"::ffff:1.2.3.4/128", Inet6},
		{"%default", Unspec},
		{"company.com/24", Unspec},
		{"company.com", Unspec},
		{"", Unspec},
		{"256.0.0.0/8", Unspec}, // not an address at all: ParseSubnet says why
		{"3049::2::1/64", Unspec},
	}
	for _, tt := range tests {
		if got := AddrFamily(tt.in); got != tt.want {
			t.Errorf("AddrFamily(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFamily(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Family
	}{{"inet", Inet}, {"inet6", Inet6}} {
		got, err := ParseFamily(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseFamily(%q) = %v, %v", tt.in, got, err)
		}
		if got.String() != tt.in {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	for _, bad := range []string{"", "INET", "inet4", "ipv6", "unspec"} {
		if _, err := ParseFamily(bad); err == nil {
			t.Errorf("ParseFamily(%q) succeeded", bad)
		}
	}
	if Unspec.String() != "unspec" {
		t.Errorf("Unspec.String() = %q", Unspec.String())
	}
	if Inet.Bits() != 32 || Inet6.Bits() != 128 || Unspec.Bits() != 32 {
		t.Errorf("Bits: inet %d, inet6 %d, unspec %d", Inet.Bits(), Inet6.Bits(), Unspec.Bits())
	}
	if Inet.Unspecified() != netip.IPv4Unspecified() || Inet6.Unspecified() != netip.IPv6Unspecified() {
		t.Error("Unspecified gives the wrong address")
	}
	if FamilyOf(netip.Addr{}) != Unspec || FamilyOf(netip.MustParseAddr("1.2.3.4")) != Inet ||
		FamilyOf(netip.MustParseAddr("::ffff:1.2.3.4")) != Inet6 {
		t.Error("FamilyOf gives the wrong family")
	}
}

// subnetTexts are subnets good and bad, numeric and not, for
// TestParseSubnetExactAt.
var subnetTexts = []string{"10.1.2.3/24", "10.1.2.3/255.255.0.0", "10.1.2.3/0xffffff00", "0x0a010203/32", "10.1.2.3",
	"10.1.2.3/33", "10.1.2.3/", "10.1.2.300/24", "3049:1::1/64", "3049:1::1/129", "3049:1::1/255.0.0.0", "::ffff:10.1.2.3/120",
	"%default", "host.example/24", "fe80::1%eth0/64", "/24", "", "1.2.3.4/24/8", "10.1.2.3/-1", "3049:1::1"}

// ParseSubnetExactAt with the address NumericAddr read gives what
// ParseSubnetExact gives, errors included, for every family asked.
func TestParseSubnetExactAt(t *testing.T) {
	for _, s := range subnetTexts {
		checkSubnetExactAt(t, s)
	}
}

func FuzzParseSubnetExactAt(f *testing.F) {
	for _, s := range subnetTexts {
		f.Add(s)
	}
	f.Fuzz(checkSubnetExactAt)
}

func checkSubnetExactAt(t *testing.T, s string) {
	numeric, ok := NumericAddr(s)
	if ok != numeric.IsValid() || ok != (AddrFamily(s) != Unspec) {
		t.Errorf("NumericAddr(%q) = %v, %v; AddrFamily %v", s, numeric, ok, AddrFamily(s))
	}
	for _, family := range []Family{Unspec, Inet, Inet6} {
		want, wantErr := ParseSubnetExact(s, family, NoResolver{})
		got, err := ParseSubnetExactAt(s, numeric, family, NoResolver{})
		if got != want || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Errorf("ParseSubnetExactAt(%q, %v, %v) = %v, %v; ParseSubnetExact gives %v, %v", s, numeric, family, got, err, want, wantErr)
		}
	}
}
