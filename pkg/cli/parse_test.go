package cli

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/eroute/eroute/pkg/eroute"
)

func sel(src, dst string, proto uint8, sport, dport uint16) eroute.Selector {
	return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst),
		Proto: proto, SrcPort: sport, DstPort: dport}
}

func sa(p eroute.Proto, spi uint32, dst string) eroute.SAID {
	return eroute.SAID{Proto: p, SPI: spi, Dst: netip.MustParseAddr(dst)}
}

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want Request
	}{
		{nil, Request{Action: List}},
		{[]string{"--netns", "blue", "--debug", "--label", "pluto"},
			Request{Action: List, Netns: "blue", Debug: true, Label: "pluto"}},
		{[]string{"--clear", "--netns=red"}, Request{Action: Clear, Netns: "red"}},
		{[]string{"--help"}, Request{Action: Help}},
		{[]string{"--version"}, Request{Action: Version}},
		{[]string{"--add", "--src", "bogus", "--help"}, Request{Action: Help}},
		{manualCommands[0], Request{Action: Add, Eroute: eroute.Eroute{
			Selector: sel("192.168.0.1/32", "192.168.2.0/24", 0, 0, 0),
			SAID:     sa(eroute.ProtoTun, 0x135, "192.168.0.2")}}},
		{manualCommands[1], Request{Action: Add, Eroute: eroute.Eroute{
			Selector: sel("3049:1::1/128", "3049:2::/64", 0, 0, 0),
			SAID:     sa(eroute.ProtoTun, 0x145, "3049:1::2")}}},
		{manualCommands[2], Request{Action: Replace, Eroute: eroute.Eroute{
			Selector: sel("192.0.2.0/24", "198.51.100.21/32", 0, 0, 0),
			SAID:     sa(eroute.ProtoTun, 0x135, "198.51.100.1")}}},
		{manualCommands[4], Request{Action: Delete, Eroute: eroute.Eroute{
			Selector: sel("192.0.2.0/24", "203.0.113.80/32", 0, 0, 0)}}},
		{manualCommands[5], Request{Action: Add, Eroute: eroute.Eroute{
			Selector: sel("192.0.2.0/24", "198.51.100.25/32", eroute.TCP, 0, 110),
			SAID:     sa(eroute.ProtoTun, 0x135, "198.51.100.25")}}},
		{manualCommands[6], Request{Action: Add, Eroute: eroute.Eroute{
			Selector: sel("192.0.2.0/24", "198.51.100.25/32", 0, 0, 0),
			SAID:     eroute.Pass}}},
		{[]string{"--addin", "--src", "10.1.2.3/8", "--dst", "%default", "--transport-proto", "udp",
			"--src-port", "0x1f4", "--dst-port", "0764", "--said", "%trap", "--netns", "x"},
			Request{Action: AddInbound, Netns: "x", Eroute: eroute.Eroute{
				Selector: sel("10.0.0.0/8", "0.0.0.0/0", eroute.UDP, 500, 500),
				SAID:     eroute.Trap}}},
		{[]string{"--replacein", "--src", "3049::1/64", "--dst", "%default", "--said", "%passthrough"},
			Request{Action: ReplaceInbound, Eroute: eroute.Eroute{
				Selector: sel("3049::/64", "::/0", 0, 0, 0),
				SAID:     eroute.Passthrough6}}},
		{[]string{"--replace", "--eraf", "inet6", "--src", "%default", "--dst", "3049::9/128", "--transport-proto", "0",
			"--af", "inet6", "--edst", "3049::9", "--spi", "4096", "--proto", "comp"},
			Request{Action: Replace, Eroute: eroute.Eroute{
				Selector: sel("::/0", "3049::9/128", 0, 0, 0),
				SAID:     sa(eroute.ProtoComp, 4096, "3049::9")}}},
		{[]string{"--add", "--src", "10/8", "--dst", "10.9.9.9/32", "--transport-proto", "icmp", "--said", "esp0400@10.9.9.9"},
			Request{Action: Add, Eroute: eroute.Eroute{
				Selector: sel("10.0.0.0/8", "10.9.9.9/32", 1, 0, 0),
				SAID:     sa(eroute.ProtoESP, 0400, "10.9.9.9")}}},
		{[]string{"--add", "--src", "0/0", "--dst", "1.2.3.4/32", "--said", "tun:ffffffff@::1", "--debug"},
			Request{Action: Add, Debug: true, Eroute: eroute.Eroute{
				Selector: sel("0.0.0.0/0", "1.2.3.4/32", 0, 0, 0),
				SAID:     sa(eroute.ProtoTun, 0xffffffff, "::1")}}},
		{[]string{"--del", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--transport-proto", "tcp",
			"--dst-port", "pop3", "--said", "tun.135@gw.ngo.org"},
			Request{Action: Delete, Eroute: eroute.Eroute{
				Selector: sel("10.0.0.0/8", "10.1.0.0/16", eroute.TCP, 0, 110)}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			p := Parser{Resolver: manualHosts, Names: testNames(t, t.TempDir())}
			got, err := p.Parse(tt.args)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
				cmpopts.IgnoreFields(Request{}, "Exact")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseExact: the selector with host bits as given is kept apart, only
// when there are host bits, with the fields of protocols without ports.
func TestParseExact(t *testing.T) {
	p := Parser{Resolver: manualHosts, Names: testNames(t, t.TempDir())}
	for _, c := range []struct {
		args       []string
		sel, exact eroute.Selector
	}{
		{[]string{"--del", "--src", "10.5.1.2/16", "--dst", "10.6.0.0/16"},
			sel("10.5.0.0/16", "10.6.0.0/16", 0, 0, 0), sel("10.5.1.2/16", "10.6.0.0/16", 0, 0, 0)},
		{[]string{"--del", "--src", "10.5.0.0/16", "--dst", "10.6.0.0/16"},
			sel("10.5.0.0/16", "10.6.0.0/16", 0, 0, 0), eroute.Selector{}},
		{[]string{"--del", "--src", "::/0", "--dst", "::1/0", "--transport-proto", "58", "--icmp-type", "135", "--force"},
			sel("::/0", "::/0", 58, 135, 0), sel("::/0", "::1/0", 58, 135, 0)},
		{[]string{"--replace", "--src", "10/8", "--dst", "10.1/16", "--transport-proto", "47", "--gre-key", "0x10002", "--said", "%pass"},
			sel("10.0.0.0/8", "10.1.0.0/16", 47, 1, 2), eroute.Selector{}},
		{[]string{"--add", "--src", "::/0", "--dst", "::/0", "--transport-proto", "135", "--mh-type", "5", "--said", "%pass"},
			sel("::/0", "::/0", 135, 5, 0), eroute.Selector{}},
		{[]string{"--add", "--src", "10/8", "--dst", "10.1/16", "--transport-proto", "1", "--icmp-type", "3", "--icmp-code", "4", "--said", "%pass"},
			sel("10.0.0.0/8", "10.1.0.0/16", 1, 3, 4), eroute.Selector{}},
	} {
		req, err := p.Parse(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if req.Eroute.Selector != c.sel || req.Exact != c.exact {
			t.Errorf("%q: selector %v, exact %v; want %v, %v", c.args, req.Eroute.Selector, req.Exact, c.sel, c.exact)
		}
	}
}

// TestParseErrorKeepsLabel: a refused command line still tells the label,
// so that the message carries it.
func TestParseErrorKeepsLabel(t *testing.T) {
	for _, args := range [][]string{
		{"--label", "L", "--bogus"},
		{"--label=L", "--add", "--del"},
		{"--label", "L", "--add"},
		{"--label", "L", "--src", "1", "--src", "2"},
		{"--lab", "L", "--clear", "--dst", "x"},
	} {
		req, err := Parser{}.Parse(args)
		if err == nil || req.Label != "L" {
			t.Errorf("Parse(%q) = %+v, %v; want an error and label L", args, req, err)
		}
	}
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		args []string
		want []given
		err  string
	}{
		{nil, nil, ""},
		{[]string{"--"}, nil, ""},
		{[]string{"--add", "--"}, []given{g("add", "")}, ""},
		{[]string{"--src", "a", "--dst=b", "--said=x=y", "--label="},
			[]given{g("src", "a"), g("dst", "b"), g("said", "x=y"), g("label", "")}, ""},
		{[]string{"--src", "--dst"}, []given{g("src", "--dst")}, ""},
		{[]string{"--src", ""}, []given{g("src", "")}, ""},
		{[]string{"--rep", "--ad", "--addi", "--replacei", "--sr", "x", "--ds", "y", "--src-", "1", "--dst-p", "2"},
			[]given{g("replace", ""), g("add", ""), g("addin", ""), g("replacein", ""), g("src", "x"), g("dst", "y"),
				g("src-port", "1"), g("dst-port", "2")}, ""},
		{[]string{"--tr=6", "--a", "inet"}, nil, "option '--a' is ambiguous; possibilities: '--add' '--addin' '--af'"},
		{[]string{"--", "x"}, nil, "unexpected argument 'x'"},
		{[]string{"--", "--"}, nil, "unexpected argument '--'"},
		{[]string{"-"}, nil, "unexpected argument '-'"},
		{[]string{"-add"}, nil, "invalid option '-add': options are long, such as --add"},
		{[]string{"--=x"}, nil, "unrecognized option '--'; see --help"},
		{[]string{"--Add"}, nil, "unrecognized option '--Add'; see --help"},
		{[]string{"--addx"}, nil, "unrecognized option '--addx'; see --help"},
		{[]string{"--debug=1"}, nil, "option '--debug' doesn't allow an argument"},
		{[]string{"--deb="}, nil, "option '--debug' doesn't allow an argument"},
		{[]string{"--net"}, nil, "option '--netns' requires an argument"},
	}
	for _, tt := range tests {
		got, err := getopt(tt.args)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("getopt(%q) error %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("getopt(%q) error %v", tt.args, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(given{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("getopt(%q) (-want +got):\n%s", tt.args, diff)
		}
	}
}

// g is a given option, as getopt gives it.
func g(name, value string) given {
	o, err := lookupOption(name)
	if err != nil {
		panic(err)
	}
	return given{name, value, o.id}
}

// TestOptionIDs: each option's id is its place in longOptions.
func TestOptionIDs(t *testing.T) {
	for i, o := range longOptions {
		if o.id != optID(i) || o.id.String() != o.name {
			t.Errorf("longOptions[%d] = %+v", i, o)
		}
	}
	if numOptions > 64 {
		t.Errorf("%d options do not fit optionSet's bit set", numOptions)
	}
}

// TestLookupOptionAbbreviations checks every prefix of every option: it is
// the option itself, or one it is the prefix of, or ambiguous.
func TestLookupOptionAbbreviations(t *testing.T) {
	for _, o := range longOptions {
		if got, err := lookupOption(o.name); err != nil || got != o {
			t.Errorf("lookupOption(%q) = %v, %v", o.name, got, err)
		}
		for n := 1; n < len(o.name); n++ {
			prefix := o.name[:n]
			got, err := lookupOption(prefix)
			if err != nil {
				// An ambiguity among KLIPS options does not name eroute's own.
				named := o.ours || strings.Contains(err.Error(), "'--"+o.name+"'")
				if !strings.Contains(err.Error(), "is ambiguous") || !named {
					t.Errorf("lookupOption(%q): %v", prefix, err)
				}
				continue
			}
			if !strings.HasPrefix(got.name, prefix) {
				t.Errorf("lookupOption(%q) = %q", prefix, got.name)
			}
		}
	}
}
