package eroute

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sel(src, dst string, proto uint8, sport, dport uint16) Selector {
	return Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), Proto: proto, SrcPort: sport, DstPort: dport}
}

// TestEroutePaperExamples checks the lines of section 5 of the KLIPS
// reference, read from the document itself where it is at hand.
func TestEroutePaperExamples(t *testing.T) {
	eroutes := []Eroute{
		{Selector: sel("192.168.0.1/32", "192.168.2.0/24", 0, 0, 0), SAID: said(ProtoTun, 0x135, "192.168.0.2")},
		{Selector: sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110), SAID: said(ProtoTun, 0x135, "10.9.9.9"), Count: 12},
		{Selector: sel("3049:1::1/128", "3049:2::/64", 0, 0, 0), SAID: said(ProtoTun, 0x145, "3049:1::2")},
		{Selector: sel("192.168.6.0/24", "192.168.7.0/24", 0, 0, 0), SAID: Pass},
	}
	want := []string{
		"0          192.168.0.1/32     -> 192.168.2.0/24     => tun0x135@192.168.0.2",
		"12         10.0.0.0/24        -> 10.1.1.1/32:110    => tun0x135@10.9.9.9:6",
		"0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2",
		"0          192.168.6.0/24     -> 192.168.7.0/24     => %pass",
	}
	if doc, err := os.ReadFile("../../../shared/docs/klips-reference.md"); err == nil {
		var fromDoc []string
		for _, line := range strings.Split(string(doc), "\n") {
			if l, ok := strings.CutPrefix(line, "    "); ok && l != "" && l[0] >= '0' && l[0] <= '9' {
				fromDoc = append(fromDoc, l)
			}
		}
		if diff := cmp.Diff(want, fromDoc); diff != "" {
			t.Errorf("the examples of the reference changed (-test +doc):\n%s", diff)
		}
	}
	var got []string
	for _, e := range eroutes {
		got = append(got, e.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listing lines (-want +got):\n%s", diff)
	}
}

func TestErouteString(t *testing.T) {
	tests := []struct {
		e    Eroute
		want string
	}{
		{
			Eroute{Selector: sel("3049:1::/64", "3049:2::/64", TCP, 110, 0), SAID: said(ProtoTun, 0x145, "3049:1::2")},
			"0          [3049:1::/64]:110  -> 3049:2::/64        => tun0x145@3049:1::2:6",
		},
		{
			Eroute{Selector: sel("3049:1::/64", "3049:2::1/128", UDP, 0, 53), SAID: said(ProtoESP, 0x200, "3049:1::2"), Count: 7},
			"7          3049:1::/64        -> [3049:2::1/128]:53 => esp0x200@3049:1::2:17",
		},
		{
			Eroute{Selector: sel("10.0.0.0/8", "0.0.0.0/0", 1, 0, 0), SAID: Drop},
			"0          10.0.0.0/8         -> 0.0.0.0/0          => %drop:1",
		},
		{
			Eroute{Selector: sel("::/0", "::/0", 0, 0, 0), SAID: Passthrough6},
			"0          ::/0               -> ::/0               => %passthrough6",
		},
		{
			Eroute{Selector: sel("0.0.0.0/0", "0.0.0.0/0", 0, 0, 0), SAID: Passthrough4},
			"0          0.0.0.0/0          -> 0.0.0.0/0          => %passthrough4",
		},
		{
			Eroute{Selector: sel("192.168.100.100/32", "192.168.200.200/32", UDP, 65535, 65535), SAID: Trap, Count: 4294967296},
			"4294967296 192.168.100.100/32:65535 -> 192.168.200.200/32:65535 => %trap:17",
		},
		{
			Eroute{Selector: sel("1.2.3.4/32", "5.6.7.8/32", 0, 0, 0), SAID: Hold, Count: 12345678901},
			"12345678901 1.2.3.4/32         -> 5.6.7.8/32         => %hold",
		},
		{
			Eroute{Selector: sel("1.2.3.0/24", "5.6.7.0/24", 0, 0, 0), SAID: said(ProtoESP, 0x101, "1.2.3.0")},
			"0          1.2.3.0/24         -> 5.6.7.0/24         => esp0x101@1.2.3.0",
		},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("Eroute.String():\n got %q\nwant %q", got, tt.want)
		}
	}
}

func TestEndTextAndSelectorString(t *testing.T) {
	tests := []struct {
		p    string
		port uint16
		want string
	}{
		{"10.0.0.0/24", 0, "10.0.0.0/24"},
		{"10.0.0.0/24", 110, "10.0.0.0/24:110"},
		{"3049:1::/64", 0, "3049:1::/64"},
		{"3049:1::/64", 110, "[3049:1::/64]:110"},
		{"::ffff:1.2.3.4/128", 80, "[::ffff:1.2.3.4/128]:80"},
	}
	for _, tt := range tests {
		if got := EndText(netip.MustParsePrefix(tt.p), tt.port); got != tt.want {
			t.Errorf("EndText(%s, %d) = %q, want %q", tt.p, tt.port, got, tt.want)
		}
	}
	if got, want := sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110).String(), "10.0.0.0/24 -> 10.1.1.1/32:110:6"; got != want {
		t.Errorf("Selector.String() = %q, want %q", got, want)
	}
	if got, want := sel("3049:1::1/128", "3049:2::/64", 0, 0, 0).String(), "3049:1::1/128 -> 3049:2::/64"; got != want {
		t.Errorf("Selector.String() = %q, want %q", got, want)
	}
}

func TestSelectorFamily(t *testing.T) {
	if f := sel("10.0.0.0/8", "10.0.0.0/8", 0, 0, 0).Family(); f != Inet {
		t.Errorf("IPv4 selector family %s", f)
	}
	if f := sel("::/0", "::/0", 0, 0, 0).Family(); f != Inet6 {
		t.Errorf("IPv6 selector family %s", f)
	}
	if f := (Selector{}).Family(); f != Unspec {
		t.Errorf("zero selector family %s", f)
	}
}

func TestSelectorValidate(t *testing.T) {
	valid := []Selector{
		sel("192.168.0.1/32", "192.168.2.0/24", 0, 0, 0),
		sel("0.0.0.0/0", "0.0.0.0/0", 0, 0, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110),
		sel("10.0.0.0/24", "10.1.1.1/32", UDP, 53, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", 1, 0, 0),
		sel("3049:1::1/128", "3049:2::/64", 0, 0, 0),
		sel("3049:1::/64", "3049:2::/64", TCP, 110, 110),
		sel("10.0.0.0/24", "10.1.1.1/32", 1, 8, 0),
		sel("::/0", "::/0", 58, 135, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", 47, 1, 2),
		sel("::/0", "::/0", 135, 5, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", 132, 5000, 5001),
	}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%v.Validate(): %v", s, err)
		}
	}
	invalid := []struct {
		s      Selector
		reason string
	}{
		{Selector{}, "source and a destination"},
		{Selector{Src: netip.MustParsePrefix("10.0.0.0/8")}, "source and a destination"},
		{Selector{Dst: netip.MustParsePrefix("10.0.0.0/8")}, "source and a destination"},
		{sel("10.0.0.0/8", "3049::/16", 0, 0, 0), "different families"},
		{sel("::ffff:10.0.0.0/104", "10.0.0.0/8", 0, 0, 0), "different families"},
		{sel("10.0.0.1/8", "10.0.0.0/8", 0, 0, 0), "host bits"},
		{sel("10.0.0.0/8", "3049::1/16", 0, 0, 0), "different families"},
		{sel("3049::/16", "3049::1/16", 0, 0, 0), "host bits"},
		{sel("10.0.0.0/8", "10.0.0.0/8", 0, 0, 110), "ports need TCP or UDP"},
		{sel("10.0.0.0/8", "10.0.0.0/8", 1, 256, 0), "0 to 255"},
		{sel("10.0.0.0/8", "10.0.0.0/8", 58, 8, 256), "0 to 255"},
		{sel("::/0", "::/0", 135, 1, 1), "MH has no code"},
		{sel("10.0.0.0/8", "10.0.0.0/8", 50, 1, 1), "ports need TCP or UDP"},
	}
	for _, tt := range invalid {
		err := tt.s.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%+v.Validate() = %v, want an error containing %q", tt.s, err, tt.reason)
		}
	}
}

func TestCompare(t *testing.T) {
	// The order the KLIPS table listed: by source, then destination, each by
	// address then prefix length; IPv4 before IPv6; then protocol and ports.
	ordered := []Selector{
		sel("0.0.0.0/0", "0.0.0.0/0", 0, 0, 0),
		sel("0.0.0.0/0", "10.0.0.0/8", 0, 0, 0),
		sel("10.0.0.0/8", "0.0.0.0/0", 0, 0, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", 0, 0, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110),
		sel("10.0.0.0/24", "10.1.1.1/32", TCP, 1, 0),
		sel("10.0.0.0/24", "10.1.1.1/32", UDP, 0, 0),
		sel("10.0.0.0/24", "10.1.1.2/32", 0, 0, 0),
		sel("192.168.0.0/16", "192.168.2.0/24", 0, 0, 0),
		sel("192.168.0.0/24", "192.168.2.0/24", 0, 0, 0),
		sel("192.168.0.1/32", "192.168.2.0/24", 0, 0, 0),
		sel("::/0", "::/0", 0, 0, 0),
		sel("3049:1::/64", "3049:2::/64", 0, 0, 0),
		sel("3049:1::1/128", "3049:2::/64", 0, 0, 0),
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
	shuffled := slices.Clone(ordered)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) {
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	})
	slices.SortFunc(shuffled, Compare)
	if diff := cmp.Diff(ordered, shuffled, addrComparer); diff != "" {
		t.Errorf("sorted selectors (-want +got):\n%s", diff)
	}
	for _, a := range ordered {
		for _, b := range ordered {
			checkKey(t, a, b)
		}
	}
}

// checkKey: keys compare as Compare does, and are equal only for equal
// selectors.
func checkKey(t *testing.T, a, b Selector) {
	t.Helper()
	ka, kb := a.Key(), b.Key()
	if got, want := bytes.Compare(ka[:], kb[:]), Compare(a, b); got != want {
		t.Errorf("keys of %v and %v compare %d, the selectors %d", a, b, got, want)
	}
	if (ka == kb) != (a == b) {
		t.Errorf("keys of %v and %v equal %v, the selectors %v", a, b, ka == kb, a == b)
	}
}

// FuzzSelectorKey checks Key against Compare on any two valid selectors.
func FuzzSelectorKey(f *testing.F) {
	f.Add("10.0.0.0/24", "10.1.1.1/32", uint8(6), uint16(0), uint16(110), "10.0.0.0/24", "10.1.1.1/32", uint8(6), uint16(1), uint16(0))
	f.Add("3049:1::/64", "3049:2::/64", uint8(0), uint16(0), uint16(0), "10.0.0.0/8", "0.0.0.0/0", uint8(0), uint16(0), uint16(0))
	f.Add("::ffff:10.0.0.0/104", "::/0", uint8(17), uint16(53), uint16(0), "10.0.0.0/8", "0.0.0.0/0", uint8(17), uint16(53), uint16(0))
	f.Fuzz(func(t *testing.T, s1, d1 string, p1 uint8, sp1, dp1 uint16, s2, d2 string, p2 uint8, sp2, dp2 uint16) {
		a, okA := fuzzSelector(s1, d1, p1, sp1, dp1)
		b, okB := fuzzSelector(s2, d2, p2, sp2, dp2)
		if okA && okB {
			checkKey(t, a, b)
		}
	})
}

func fuzzSelector(src, dst string, proto uint8, sport, dport uint16) (Selector, bool) {
	s, err1 := netip.ParsePrefix(src)
	d, err2 := netip.ParsePrefix(dst)
	sel := Selector{Src: s.Masked(), Dst: d.Masked(), Proto: proto, SrcPort: sport, DstPort: dport}
	return sel, err1 == nil && err2 == nil && sel.Validate() == nil
}

func TestSpecificity(t *testing.T) {
	// Each pair: the first is more specific than the second.
	tests := []struct {
		name       string
		more, less Selector
	}{
		{"a /32 source beats /24",
			sel("192.168.0.1/32", "10.0.0.0/8", 0, 0, 0), sel("192.168.0.0/24", "10.0.0.0/8", 0, 0, 0)},
		{"a longer source beats any destination and ports",
			sel("192.168.0.1/32", "0.0.0.0/0", 0, 0, 0), sel("192.168.0.0/31", "10.1.1.1/32", TCP, 1, 1)},
		{"a longer source beats in IPv6",
			sel("3049::1/128", "::/0", 0, 0, 0), sel("3049::/127", "::1/128", TCP, 1, 1)},
		{"a longer destination beats a shorter with the same source",
			sel("10.0.0.0/24", "10.1.1.0/25", 0, 0, 0), sel("10.0.0.0/24", "10.1.1.0/24", 0, 0, 0)},
		{"a longer destination beats protocol and ports",
			sel("10.0.0.0/24", "10.1.1.1/32", 0, 0, 0), sel("10.0.0.0/24", "10.1.1.0/31", TCP, 1, 1)},
		{"the POP3 example: protocol and port beat %pass to the same host",
			sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110), sel("10.0.0.0/24", "10.1.1.1/32", 0, 0, 0)},
		{"a protocol alone beats none",
			sel("10.0.0.0/24", "10.1.1.1/32", 1, 0, 0), sel("10.0.0.0/24", "10.1.1.1/32", 0, 0, 0)},
		{"a protocol and port beat a protocol alone",
			sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110), sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 0)},
		{"a destination port beats a source port",
			sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110), sel("10.0.0.0/24", "10.1.1.1/32", TCP, 110, 0)},
		{"both ports beat one",
			sel("10.0.0.0/24", "10.1.1.1/32", TCP, 1, 110), sel("10.0.0.0/24", "10.1.1.1/32", TCP, 0, 110)},
	}
	for _, tt := range tests {
		if m, l := tt.more.Specificity(), tt.less.Specificity(); m <= l {
			t.Errorf("%s: %v rank %d, %v rank %d", tt.name, tt.more, m, tt.less, l)
		}
	}
	if got := sel("::/0", "::/0", 0, 0, 0).Specificity(); got != 0 {
		t.Errorf("least specific rank %d, want 0", got)
	}
	if got := sel("::1/128", "::1/128", TCP, 1, 1).Specificity(); got != MaxSpecificity {
		t.Errorf("most specific IPv6 rank %d, want MaxSpecificity %d", got, MaxSpecificity)
	}
	if got := sel("1.2.3.4/32", "1.2.3.4/32", TCP, 1, 1).Specificity(); got >= MaxSpecificity {
		t.Errorf("most specific IPv4 rank %d, want below %d", got, MaxSpecificity)
	}
}

// TestSpecificityDistinct checks the claim of the Specificity comment: all
// the combinations of prefix lengths and set fields have distinct ranks.
func TestSpecificityDistinct(t *testing.T) {
	seen := make(map[uint32]string)
	for sb := 0; sb <= 128; sb++ {
		for db := 0; db <= 128; db++ {
			for f := 0; f < 8; f++ {
				s := Selector{
					Src: netip.PrefixFrom(netip.IPv6Unspecified(), sb),
					Dst: netip.PrefixFrom(netip.IPv6Unspecified(), db),
				}
				if f&1 != 0 {
					s.Proto = TCP
				}
				if f&2 != 0 {
					s.DstPort = 1
				}
				if f&4 != 0 {
					s.SrcPort = 1
				}
				r := s.Specificity()
				if r > MaxSpecificity {
					t.Fatalf("%v rank %d above MaxSpecificity", s, r)
				}
				if prev, ok := seen[r]; ok {
					t.Fatalf("%v and %s share rank %d", s, prev, r)
				}
				seen[r] = s.String()
			}
		}
	}
}

// Fields that are not ports are listed as what they are, in the words of
// the options that give them back.
func TestSelectorFieldsText(t *testing.T) {
	for _, c := range []struct {
		s    Selector
		want string
	}{
		{sel("::/0", "::/0", ICMPv6, 135, 0), "::/0 -> ::/0:58 icmp-type 135"},
		{sel("10.0.0.0/8", "10.1.0.0/16", ICMP, 3, 4), "10.0.0.0/8 -> 10.1.0.0/16:1 icmp-type 3 icmp-code 4"},
		{sel("10.0.0.0/8", "10.1.0.0/16", ICMP, 0, 4), "10.0.0.0/8 -> 10.1.0.0/16:1 icmp-code 4"},
		{sel("10.0.0.0/8", "10.1.0.0/16", GRE, 1, 2), "10.0.0.0/8 -> 10.1.0.0/16:47 gre-key 65538"},
		{sel("::/0", "::/0", MH, 5, 0), "::/0 -> ::/0:135 mh-type 5"},
		{sel("10.0.0.0/8", "10.1.0.0/16", 132, 5, 6), "10.0.0.0/8:5 -> 10.1.0.0/16:6:132"},
		{sel("10.0.0.0/8", "10.1.0.0/16", TCP, 0, 110), "10.0.0.0/8 -> 10.1.0.0/16:110:6"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
		line := Eroute{Selector: c.s, SAID: Pass}.String()
		proto := fmt.Sprintf(":%d", c.s.Proto)
		if want := "%pass" + c.want[strings.LastIndex(c.want, proto):]; !strings.HasSuffix(line, want) {
			t.Errorf("listing line %q does not end as %q", line, want)
		}
	}
}
