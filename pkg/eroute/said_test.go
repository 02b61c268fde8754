package eroute

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// addrComparer lets cmp look at netip values, whose fields are unexported.
var addrComparer = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func said(proto Proto, spi uint32, addr string) SAID {
	return SAID{Proto: proto, SPI: spi, Dst: netip.MustParseAddr(addr)}
}

func TestParseSAIDMagic(t *testing.T) {
	tests := []struct {
		in   string
		want SAID
	}{
		{"%passthrough", Passthrough4},
		{"%passthrough4", Passthrough4},
		{"%passthrough6", Passthrough6},
		{"%pass", Pass},
		{"%drop", Drop},
		{"%reject", Reject},
		{"%hold", Hold},
		{"%trap", Trap},
		{"%trapsubnet", TrapSubnet},
	}
	for _, tt := range tests {
		got, err := ParseSAID(tt.in, nil)
		if err != nil {
			t.Errorf("ParseSAID(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, addrComparer); diff != "" {
			t.Errorf("ParseSAID(%q) (-want +got):\n%s", tt.in, diff)
		}
		if !got.IsMagic() {
			t.Errorf("ParseSAID(%q).IsMagic() = false", tt.in)
		}
	}
	// The internal SPIs of section 3.
	for _, m := range []struct {
		s   SAID
		spi uint32
	}{{Pass, 256}, {Drop, 257}, {Reject, 258}, {Hold, 259}, {Trap, 260}, {TrapSubnet, 261}} {
		if m.s.Proto != ProtoInt || m.s.SPI != m.spi || m.s.Dst.IsValid() {
			t.Errorf("%s = %+v, want int SPI %d without address", m.s, m.s, m.spi)
		}
	}
	if Passthrough4 != said(ProtoTun, 0, "0.0.0.0") || Passthrough6 != said(ProtoTun, 0, "::") {
		t.Error("passthrough is not tun, SPI 0, unspecified address")
	}
	if PassthroughFor(Inet) != Passthrough4 || PassthroughFor(Inet6) != Passthrough6 || PassthroughFor(Unspec) != Passthrough4 {
		t.Error("PassthroughFor gives the wrong SAID")
	}
}

func TestParseSAID(t *testing.T) {
	tests := []struct {
		in   string
		want SAID
	}{
		{"tun0x135@192.168.0.2", said(ProtoTun, 0x135, "192.168.0.2")},
		{"tun.135@192.168.0.2", said(ProtoTun, 0x135, "192.168.0.2")},
		{"tun.0135@192.168.0.2", said(ProtoTun, 0x135, "192.168.0.2")}, // hex, not octal
		{"esp.101@1.2.3.0", said(ProtoESP, 0x101, "1.2.3.0")},
		{"esp.ABCDEF@1.2.3.0", said(ProtoESP, 0xabcdef, "1.2.3.0")},
		{"esp:101@::1", said(ProtoESP, 0x101, "::1")},
		{"tun:130@3058:4::5", said(ProtoTun, 0x130, "3058:4::5")},
		{"tun0x130@3058:4:0:0::5", said(ProtoTun, 0x130, "3058:4::5")},
		{"ah0x200@1.2.3.4", said(ProtoAH, 0x200, "1.2.3.4")},
		{"ah.ffffffff@1.2.3.4", said(ProtoAH, 0xffffffff, "1.2.3.4")},
		{"esp256@1.2.3.4", said(ProtoESP, 0x100, "1.2.3.4")},  // decimal
		{"esp0400@1.2.3.4", said(ProtoESP, 0x100, "1.2.3.4")}, // octal
		{"esp0X100@1.2.3.4", said(ProtoESP, 0x100, "1.2.3.4")},
		{"esp4294967295@1.2.3.4", said(ProtoESP, 0xffffffff, "1.2.3.4")},
		{"comp0x1000@10.0.0.1", said(ProtoComp, 0x1000, "10.0.0.1")},
		{"comp.1000@10.0.0.1", said(ProtoComp, 0x1000, "10.0.0.1")},
		{"esp0x101@10", said(ProtoESP, 0x101, "10.0.0.0")},              // short dotted address
		{"esp0x101@0x0a090909", said(ProtoESP, 0x101, "10.9.9.9")},      // hexadecimal address
		{"esp0x101@010.009.009.009", said(ProtoESP, 0x101, "10.9.9.9")}, // decimal parts
		// Internal texts.
		{"int256@0.0.0.0", Pass},
		{"int0x100@0.0.0.0", Pass},
		{"int0400@0.0.0.0", Pass},
		{"int.100@0.0.0.0", Pass},
		{"int0x101@0.0.0.0", Drop},
		{"int0x102@0.0.0.0", Reject},
		{"int0x103@0.0.0.0", Hold},
		{"int0x104@0.0.0.0", Trap},
		{"int0x105@::", TrapSubnet},
		{"int:105@::", TrapSubnet},
		{"int0x100@0", Pass},
		// Passthrough as tun, SPI 0, unspecified address.
		{"tun0x0@0.0.0.0", Passthrough4},
		{"tun0@0.0.0.0", Passthrough4},
		{"tun.0@0.0.0.0", Passthrough4},
		{"tun0x0@0", Passthrough4},
		{"tun:0@::", Passthrough6},
		{"tun0x0@::", Passthrough6},
		{"tun0x0@0:0:0:0:0:0:0:0", Passthrough6},
		// Host names through the resolver.
		{"tun.135@gw.ngo.org", said(ProtoTun, 0x135, "198.51.100.1")},
		{"tun0x135@mail.ngo.org", said(ProtoTun, 0x135, "198.51.100.25")},
		{"esp:200@company.com", said(ProtoESP, 0x200, "2001:db8::77")},
		{"esp0x200@company.com", said(ProtoESP, 0x200, "192.0.2.77")}, // IPv4 preferred
	}
	for _, tt := range tests {
		got, err := ParseSAID(tt.in, newFakeResolver())
		if err != nil {
			t.Errorf("ParseSAID(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, addrComparer); diff != "" {
			t.Errorf("ParseSAID(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseSAIDErrors(t *testing.T) {
	tests := []struct {
		in     string
		reason string
	}{
		{"", "too short"},
		{"%pas", "too short"},
		{"ah1@", "too short"},
		{"%PASS", "unknown SA protocol"},
		{"%passthrough5", "unknown SA protocol"},
		{"%default", "unknown SA protocol"},
		{"tun0x135", "no @"},
		{"tun.135-192.168.0.2", "no @"},
		{"xyz0x135@1.2.3.4", "unknown SA protocol"},
		{"ESP0x135@1.2.3.4", "unknown SA protocol"},
		{"ipcomp0x135@1.2.3.4", "unknown SA protocol"},
		{"esp@1.2.3.4", "bad SPI"},
		{"esp.@1.2.3.4", "bad SPI"},
		{"esp:@::1", "bad SPI"},
		{"esp0x@1.2.3.4", "bad SPI"},
		{"esp0x10g@1.2.3.4", "bad SPI"},
		{"esp.0x135@1.2.3.4", "bad SPI"}, // no 0x after the AF character
		{"esp0999@1.2.3.4", "bad SPI"},   // octal
		{"esp-256@1.2.3.4", "bad SPI"},
		{"esp 256@1.2.3.4", "bad SPI"},
		{"esp0x100000000@1.2.3.4", "bad SPI"},
		{"esp.100000000@1.2.3.4", "bad SPI"},
		{"esp..135@1.2.3.4", "bad SPI"},
		// Reserved SPIs.
		{"esp0xff@1.2.3.4", "values less than 0x100 are reserved"},
		// Addresses that cannot be an SA's destination.
		{"tun0x200@0.0.0.0", "unspecified address"},
		{"tun.135@0.0.0.0", "unspecified address"},
		{"esp0x101@0.0.0.0", "unspecified address"},
		{"tun:200@::", "unspecified address"},
		{"tun0x200@::", "unspecified address"},
		{"esp:101@::ffff:1.2.3.4", "IPv4-mapped IPv6 address, which cannot be an SA's destination: write 1.2.3.4"},
		{"tun0x200@::ffff:0a00:0001", "IPv4-mapped"},
		{"tun0x200@224.0.0.1", "multicast address"},
		{"tun0x200@239.255.255.250", "multicast address"},
		{"tun:200@ff02::1", "multicast address"},
		{"ah0x200@ff05::2", "multicast address"},
		{"tun0x200@255.255.255.255", "broadcast address"},
		{"tun0x200@0xffffffff", "broadcast address"},
		{"esp255@1.2.3.4", "values less than 0x100 are reserved"},
		{"ah.0@1.2.3.4", "values less than 0x100 are reserved"},
		{"esp0x0@0.0.0.0", "values less than 0x100 are reserved"}, // only tun passes through
		{"tun0x0@1.2.3.4", "values less than 0x100 are reserved"},
		{"tun0x1@0.0.0.0", "values less than 0x100 are reserved"},
		{"tun0x0@::ffff:0.0.0.0", "values less than 0x100 are reserved"},
		// Addresses and families.
		{"esp0x101@", "empty address"},
		{"esp.101@::1", "is not inet"},
		{"esp:101@1.2.3.4", "is not inet6"},
		{"tun:0@0.0.0.0", "is not inet6"},
		{"tun.0@::", "is not inet"},
		{"esp0x101@1.2.3.4.5", "too many parts"},
		{"esp0x101@256.1.1.1", "out of range"},
		{"esp0x101@1.2.3.4/32", "bad character"},
		{"esp0x101@1.2.3.4@5", "bad character"},
		{"esp0x101@fe80::1%eth0", "zone"},
		{"esp0x101@nowhere.example", "not found"},
		{"esp:101@gw.ngo.org", "no inet6 address"},
		// Internal SAIDs.
		{"int0x200@0.0.0.0", "unknown internal SPI"},
		{"int0x106@0.0.0.0", "unknown internal SPI"},
		{"int0xff@0.0.0.0", "unknown internal SPI"},
		{"int0@0.0.0.0", "unknown internal SPI"},
		{"int0x100@1.2.3.4", "address 0.0.0.0 or ::"},
		{"int0x100@::1", "address 0.0.0.0 or ::"},
		{"int0x100@", "address 0.0.0.0 or ::"},
		{"int0x100@localhost", "address 0.0.0.0 or ::"},
		{"int.100@::", "is not inet"},
		{"int:100@0.0.0.0", "is not inet6"},
	}
	for _, tt := range tests {
		if tt.reason == "" {
			continue
		}
		got, err := ParseSAID(tt.in, newFakeResolver())
		if err == nil {
			t.Errorf("ParseSAID(%q) = %v, want an error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("ParseSAID(%q) error %q, want it to contain %q", tt.in, err, tt.reason)
		}
		if !got.IsZero() {
			t.Errorf("ParseSAID(%q) gave %+v with its error", tt.in, got)
		}
	}
	if _, err := ParseSAID("esp0xff@1.2.3.4", nil); !errors.Is(err, ErrReservedSPI) {
		t.Errorf("reserved SPI error %v is not ErrReservedSPI", err)
	}
	// The address is checked after names are looked up, too.
	if got, err := ParseSAID("tun0x200@anycast.example", multicastResolver{}); err == nil {
		t.Errorf("ParseSAID of a name for a multicast address = %v", got)
	}
	// Without a resolver, names are refused.
	if got, err := ParseSAID("tun.135@gw.ngo.org", nil); err == nil {
		t.Errorf("ParseSAID with a nil Resolver resolved a name: %v", got)
	}
}

func TestSAIDString(t *testing.T) {
	tests := []struct {
		s        SAID
		str, afs string
	}{
		{said(ProtoTun, 0x135, "192.168.0.2"), "tun0x135@192.168.0.2", "tun.135@192.168.0.2"},
		{said(ProtoESP, 0x101, "1.2.3.0"), "esp0x101@1.2.3.0", "esp.101@1.2.3.0"},
		{said(ProtoESP, 0x101, "::1"), "esp0x101@::1", "esp:101@::1"},
		{said(ProtoTun, 0x130, "3058:4::5"), "tun0x130@3058:4::5", "tun:130@3058:4::5"},
		{said(ProtoTun, 0x145, "3049:1:0:0:0:0:0:2"), "tun0x145@3049:1::2", "tun:145@3049:1::2"},
		{said(ProtoAH, 0xABCDEF01, "10.0.0.1"), "ah0xabcdef01@10.0.0.1", "ah.abcdef01@10.0.0.1"},
		{said(ProtoComp, 0x1000, "10.0.0.1"), "comp0x1000@10.0.0.1", "comp.1000@10.0.0.1"},
		// Printed as they are (a foreign policy may hold them), though
		// ParseSAID refuses them (below).
		{said(ProtoESP, 0x100, "0.0.0.0"), "esp0x100@0.0.0.0", "esp.100@0.0.0.0"},
		{said(ProtoTun, 0x100, "::"), "tun0x100@::", "tun:100@::"},
		{Pass, "%pass", "%pass"},
		{Drop, "%drop", "%drop"},
		{Reject, "%reject", "%reject"},
		{Hold, "%hold", "%hold"},
		{Trap, "%trap", "%trap"},
		{TrapSubnet, "%trapsubnet", "%trapsubnet"},
		{Passthrough4, "%passthrough4", "%passthrough4"},
		{Passthrough6, "%passthrough6", "%passthrough6"},
		{said(ProtoTun, 0, "0.0.0.0"), "%passthrough4", "%passthrough4"},
		{SAID{Proto: ProtoInt, SPI: 0x200}, "int0x200@0.0.0.0", "int.200@0.0.0.0"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.str {
			t.Errorf("%+v.String() = %q, want %q", tt.s, got, tt.str)
		}
		if got := tt.s.AFString(); got != tt.afs {
			t.Errorf("%+v.AFString() = %q, want %q", tt.s, got, tt.afs)
		}
		// Both forms read back as the same SAID, where that SAID is valid.
		if tt.s.Proto == ProtoInt && !tt.s.IsMagic() || !tt.s.IsMagic() && CheckSADst(tt.s.Dst) != nil {
			continue
		}
		for _, text := range []string{tt.str, tt.afs} {
			back, err := ParseSAID(text, nil)
			if err != nil || back != tt.s {
				t.Errorf("ParseSAID(%q) = %v, %v; want %+v", text, back, err, tt.s)
			}
		}
	}
}

func TestSAIDPredicates(t *testing.T) {
	if !(SAID{}).IsZero() || Pass.IsZero() || Passthrough4.IsZero() {
		t.Error("IsZero")
	}
	if !Passthrough4.IsPassthrough() || !Passthrough6.IsPassthrough() || Pass.IsPassthrough() ||
		said(ProtoTun, 0x100, "0.0.0.0").IsPassthrough() {
		t.Error("IsPassthrough")
	}
	if !Passthrough6.IsMagic() || !Trap.IsMagic() || said(ProtoESP, 0x100, "1.2.3.4").IsMagic() ||
		(SAID{Proto: ProtoInt, SPI: 0x200}).IsMagic() {
		t.Error("IsMagic")
	}
}

func TestProto(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Proto
		num  int
	}{{"ah", ProtoAH, 51}, {"esp", ProtoESP, 50}, {"comp", ProtoComp, 108}, {"tun", ProtoTun, 4}} {
		got, err := ParseProto(tt.in)
		if err != nil || got != tt.want || int(got) != tt.num || got.String() != tt.in {
			t.Errorf("ParseProto(%q) = %v (%d), %v; want %d", tt.in, got, got, err, tt.num)
		}
	}
	for _, bad := range []string{"int", "", "ESP", "ipcomp", "4"} {
		if got, err := ParseProto(bad); err == nil {
			t.Errorf("ParseProto(%q) = %v, want an error", bad, got)
		}
	}
	if ProtoInt.String() != "int" || Proto(7).String() != "proto(7)" {
		t.Errorf("Proto names: %q %q", ProtoInt, Proto(7))
	}
}

// multicastResolver gives every name a multicast address.
type multicastResolver struct{}

func (multicastResolver) LookupHost(string, Family) (netip.Addr, error) {
	return netip.MustParseAddr("224.0.0.5"), nil
}

// TestProtoStringNames pins Proto.String's switch to protoNames, which
// ParseProto reads.
func TestProtoStringNames(t *testing.T) {
	for p := range 256 {
		want, ok := protoNames[Proto(p)]
		if !ok {
			want = fmt.Sprintf("proto(%d)", p)
		}
		if got := Proto(p).String(); got != want {
			t.Errorf("Proto(%d).String() = %q, want %q", p, got, want)
		}
	}
}
