package eroute

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// quickSeeds are texts of the quick forms and near them: the forms a
// generated file holds, then what the general readers read differently
// or refuse.
var quickSeeds = []string{
	"10.0.0.1/32", "10.100.3.0/24", "0.0.0.0/0", "255.255.255.255/32", "1.2.3.4/0",
	"fd00:1::3:4/128", "fd00:3:0:1::/64", "::/0", "::1/128", "FD00:ABCD::/16",
	"2001:db8::1", "192.0.2.7", "tun0x1000@192.0.2.7", "tun0x1002@2001:db8::2",
	"esp0x135@3049::1", "ah0x200@1.2.3.4", "comp0x1000@10.0.0.1", "tun0xFFFFFFFF@10.0.0.1",
	"%pass", "%drop", "%reject", "%hold", "%trap", "%trapsubnet", "%passthrough",
	"%passthrough4", "%passthrough6",
	// read otherwise, or refused
	"10.0.0.1", "10.0.0/24", "10/8", "010.000.000.001/32", "1.2.3.4.5/32", "256.0.0.0/8",
	"1..2.3/8", "10.0.0.0/33", "10.0.0.0/032", "10.0.0.0/0032", "::/129", "::/-1", "10.0.0.0/",
	"10.0.0.0/255.0.0.0", "0x0a000001/32", "::ffff:1.2.3.4/96", "fe80::1%eth0/64",
	"fd00::/64/64", "fd00:::1/64", "fd00::g/64", "company.com/24", "%default", "abcd/16",
	"10.0.0.1 /32", "10.0.0.1\t/32", "１0.0.0.1/32", "tun0x100@0.0.0.0", "tun0x0@0.0.0.0",
	"tun0xff@10.0.0.1", "tun0x100@224.0.0.1", "tun0x100@255.255.255.255", "tun0x100@::ffff:10.0.0.1",
	"tun0x100@ff02::1", "tun0x100@::", "tun0x123456789@10.0.0.1", "tun0X100@10.0.0.1",
	"tun.100@10.0.0.1", "tun:100@::1", "tun256@10.0.0.1", "tun0x@10.0.0.1", "tun0x100@",
	"tun0x100@@10.0.0.1", "tun0x100@company.com", "int0x100@0.0.0.0", "TUN0x100@10.0.0.1",
	"tun0x1g0@10.0.0.1", "%Pass", "%pass ", "%",
}

// quickAlphabet is what mutations put in: the bytes the quick forms are
// made of, and bytes just outside them.
const quickAlphabet = "0123456789abcdefABCDEFgxX.:/@%tunespcmd \t-+é\x00"

// mutate changes text at one to three random places.
func mutate(r *rand.Rand, text string) string {
	b := []byte(text)
	for range 1 + r.IntN(3) {
		c := quickAlphabet[r.IntN(len(quickAlphabet))]
		i := 0
		if len(b) > 0 {
			i = r.IntN(len(b) + 1)
		}
		switch r.IntN(3) {
		case 0: // insert
			b = append(b[:i], append([]byte{c}, b[i:]...)...)
		case 1: // replace
			if i < len(b) {
				b[i] = c
			}
		default: // delete
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		}
	}
	return string(b)
}

// randomQuickText makes an address, a subnet or a SAID near the quick
// forms: parts of one to four digits, any value to 999, short and long
// IPv6 groups, SPIs of any width.
func randomQuickText(r *rand.Rand) string {
	v4 := func() string {
		n := 4
		if r.IntN(4) == 0 {
			n = 3 + 2*r.IntN(2)
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = strconv.Itoa(r.IntN(256))
			if r.IntN(8) == 0 {
				parts[i] = fmt.Sprintf("%0*d", 1+r.IntN(4), r.IntN(1000))
			}
		}
		return strings.Join(parts, ".")
	}
	v6 := func() string {
		var b [16]byte
		for i := range b {
			if r.IntN(3) > 0 {
				b[i] = byte(r.Uint32())
			}
		}
		text := netip.AddrFrom16(b).String() // compressed, lower case
		switch r.IntN(4) {
		case 0:
			text = netip.AddrFrom16(b).StringExpanded()
		case 1:
			text = strings.ToUpper(text)
		case 2:
			groups := make([]string, 1+r.IntN(9))
			for i := range groups {
				if r.IntN(5) > 0 {
					groups[i] = fmt.Sprintf("%x", r.IntN(1<<(4*(1+r.IntN(5)))))
				}
			}
			text = strings.Join(groups, ":")
		}
		return text
	}
	addr := v4
	if r.IntN(2) == 0 {
		addr = v6
	}
	switch r.IntN(3) {
	case 0:
		return addr()
	case 1:
		return fmt.Sprintf("%s/%0*d", addr(), 1+r.IntN(3), r.IntN(140)>>uint(r.IntN(2)))
	}
	protos := []string{"tun", "esp", "ah", "comp", "int", "tunx"}
	return fmt.Sprintf("%s0x%0*x@%s", protos[r.IntN(len(protos))], 1+r.IntN(9), r.Uint32()>>uint(r.IntN(32)), addr())
}

// checkQuick fails when a quick reader takes text and gives other than
// the general one. It reports how many of the three took it.
func checkQuick(t *testing.T, text string) (taken int) {
	if a, ok := QuickAddr(text); ok {
		taken++
		if b, err := ParseAddr(text, Unspec, NoResolver{}); err != nil || a != b {
			t.Fatalf("QuickAddr(%q) = %v, ParseAddr %v, %v", text, a, b, err)
		}
	}
	if p, ok := QuickSubnet(text); ok {
		taken++
		if q, err := ParseSubnetExact(text, Unspec, NoResolver{}); err != nil || p != q {
			t.Fatalf("QuickSubnet(%q) = %v, ParseSubnetExact %v, %v", text, p, q, err)
		}
	}
	if s, ok := QuickSAID(text); ok {
		taken++
		if u, err := ParseSAID(text, NoResolver{}); err != nil || s != u {
			t.Fatalf("QuickSAID(%q) = %+v, ParseSAID %+v, %v", text, s, u, err)
		}
	}
	return taken
}

// TestQuickReaders compares the quick readers with the general ones on
// the seeds, on random texts near the quick forms and on mutations of
// both, and checks that they take the forms they are for.
func TestQuickReaders(t *testing.T) {
	for _, text := range []string{"10.0.0.1", "fd00:1::3:4", "FD00::A"} {
		if _, ok := QuickAddr(text); !ok {
			t.Errorf("QuickAddr leaves %q to ParseAddr", text)
		}
	}
	for _, text := range []string{"10.0.0.1/32", "10.100.3.0/24", "0.0.0.0/0", "fd00:3:0:1::/64", "::/0", "1:2:3:4:5:6:7:8/128"} {
		if _, ok := QuickSubnet(text); !ok {
			t.Errorf("QuickSubnet leaves %q to ParseSubnetExact", text)
		}
	}
	for _, text := range []string{"tun0x1000@192.0.2.7", "esp0x135@3049::1", "ah0x100@1.2.3.4", "comp0xffffffff@10.0.0.1", "%drop", "%pass"} {
		if _, ok := QuickSAID(text); !ok {
			t.Errorf("QuickSAID leaves %q to ParseSAID", text)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for _, text := range quickSeeds {
		checkQuick(t, text)
		for range 300 {
			taken += checkQuick(t, mutate(r, text))
		}
	}
	for range 100000 {
		text := randomQuickText(r)
		taken += checkQuick(t, text)
		taken += checkQuick(t, mutate(r, text))
	}
	t.Logf("the quick readers took %d texts", taken)
	if taken < 50000 {
		t.Errorf("the quick readers took only %d of the texts: the comparison says little", taken)
	}
}

// FuzzQuickReaders: whatever the text, a quick reader leaves it to the
// general one or gives what the general one gives.
func FuzzQuickReaders(f *testing.F) {
	for _, s := range quickSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkQuick(t, text)
	})
}

// BenchmarkQuickSubnet reads the subnets of the mix: IPv4 and IPv6,
// hosts and subnets.
func BenchmarkQuickSubnet(b *testing.B) {
	texts := []string{"10.0.1.2/32", "172.16.1.2/32", "10.100.3.0/24", "172.17.5.0/24",
		"fd00:1::0:102/128", "fd00:2::0:102/128", "fd00:3:0:103::/64", "fd00:4:103::/48"}
	for i := 0; i < b.N; i++ {
		if _, ok := QuickSubnet(texts[i%len(texts)]); !ok {
			b.Fatal(texts[i%len(texts)])
		}
	}
}
