package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// manualHosts gives the manual's host names documentation addresses.
const manualHosts = `192.0.2.10	company.com
198.51.100.21	ftp.ngo.org
198.51.100.1	gw.ngo.org
198.51.100.25	mail.ngo.org
203.0.113.80	www.ietf.org
`

// The six examples of ipsec_eroute(8), word for word but for the line breaks.
var (
	example1 = strings.Fields("--add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --af inet --edst 192.168.0.2 --spi 0x135 --proto tun")
	example2 = strings.Fields("--add --eraf inet6 --src 3049:1::1/128 --dst 3049:2::/64 --af inet6 --edst 3049:1::2 --spi 0x145 --proto tun")
	example3 = strings.Fields("--replace --eraf inet --src company.com/24 --dst ftp.ngo.org/32 --said tun.135@gw.ngo.org")
	example4 = strings.Fields("--del --eraf inet --src company.com/24 --dst www.ietf.org/32 --said %passthrough4")
	example5 = strings.Fields("--add --eraf inet --src company.com/24 --dst mail.ngo.org/32 --transport-proto 6 --dst-port 110 --said tun.135@mail.ngo.org")
	example6 = strings.Fields("--add --eraf inet --src company.com/24 --dst mail.ngo.org/32 --said %pass")
	// example4Add makes the eroute example 4 deletes.
	example4Add = strings.Fields("--add --eraf inet --src company.com/24 --dst www.ietf.org/32 --said %passthrough4")
)

func TestManualExamples(t *testing.T) {
	ns := newNS(t, manualHosts)
	ns.MustEroute(example1...)
	ns.MustEroute(example2...)
	ns.MustEroute(example3...)
	ns.MustEroute(example4Add...)
	if !strings.Contains(ns.Listing(), "192.0.2.0/24       -> 203.0.113.80/32    => %passthrough4\n") {
		t.Fatalf("passthrough eroute of example 4 not listed:\n%s", ns.Listing())
	}
	ns.MustEroute(example4...)
	ns.MustEroute(example5...)
	ns.MustEroute(example6...)

	want := `0          192.0.2.0/24       -> 198.51.100.21/32   => tun0x135@198.51.100.1
0          192.0.2.0/24       -> 198.51.100.25/32   => %pass
0          192.0.2.0/24       -> 198.51.100.25/32:110 => tun0x135@198.51.100.25:6
0          192.168.0.1/32     -> 192.168.2.0/24     => tun0x135@192.168.0.2
0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2
`
	if diff := cmp.Diff(want, ns.Listing()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}

	pols := parsePolicies(ns.IPPolicies())
	if len(pols) != 5 {
		t.Fatalf("ip xfrm policy shows %d policies, want 5:\n%s", len(pols), ns.IPPolicies())
	}
	for _, c := range []struct{ sel, want string }{
		{"src 192.168.0.1/32 dst 192.168.2.0/24", "tmpl src 0.0.0.0 dst 192.168.0.2 proto esp spi 0x00000135 reqid 0 mode tunnel"},
		{"src 3049:1::1/128 dst 3049:2::/64", "tmpl src :: dst 3049:1::2 proto esp spi 0x00000145 reqid 0 mode tunnel"},
		{"src 192.0.2.0/24 dst 198.51.100.21/32", "tmpl src 0.0.0.0 dst 198.51.100.1 proto esp spi 0x00000135 reqid 0 mode tunnel"},
		{"src 192.0.2.0/24 dst 198.51.100.25/32 proto tcp dport 110", "tmpl src 0.0.0.0 dst 198.51.100.25 proto esp spi 0x00000135 reqid 0 mode tunnel"},
	} {
		p, ok := pols[c.sel]
		if !ok {
			t.Errorf("ip xfrm policy has no policy %q:\n%s", c.sel, ns.IPPolicies())
			continue
		}
		if !strings.Contains(p.text, "dir out") || !strings.Contains(p.text, c.want) {
			t.Errorf("policy %q is\n%s\nwant dir out and %q", c.sel, p.text, c.want)
		}
	}
	if !isPlainAllow(pols["src 192.0.2.0/24 dst 198.51.100.25/32"].text) {
		t.Errorf("%%pass eroute is not a template-less allow policy")
	}
}

// The manual's POP3 pair: the port-specific eroute must take precedence over
// the %pass one (a lower XFRM priority value), whatever the command order.
func TestPOP3PrecedenceBothOrders(t *testing.T) {
	for _, order := range [][][]string{{example5, example6}, {example6, example5}} {
		ns := newNS(t, manualHosts)
		ns.MustEroute(order[0]...)
		ns.MustEroute(order[1]...)
		pols := parsePolicies(ns.IPPolicies())
		port := pols["src 192.0.2.0/24 dst 198.51.100.25/32 proto tcp dport 110"]
		pass := pols["src 192.0.2.0/24 dst 198.51.100.25/32"]
		if port.text == "" || pass.text == "" {
			t.Fatalf("missing policies:\n%s", ns.IPPolicies())
		}
		if port.priority >= pass.priority {
			t.Errorf("order %s first: port 110 policy priority %d, %%pass priority %d: the port one must be lower",
				order[0][len(order[0])-1], port.priority, pass.priority)
		}
	}
}

// A longer prefix wins whatever the order: a /32 inside a /24, both ways.
func TestLongerPrefixWins(t *testing.T) {
	wide := strings.Fields("--add --src 10.0.0.0/8 --dst 10.1.1.0/24 --said %drop")
	narrowDst := strings.Fields("--add --src 10.0.0.0/8 --dst 10.1.1.7/32 --said %pass")
	narrowSrc := strings.Fields("--add --src 10.0.0.1/32 --dst 0.0.0.0/0 --said %reject")
	for _, order := range [][][]string{{wide, narrowDst, narrowSrc}, {narrowSrc, narrowDst, wide}} {
		ns := newNS(t, "")
		for _, args := range order {
			ns.MustEroute(args...)
		}
		pols := parsePolicies(ns.IPPolicies())
		w := pols["src 10.0.0.0/8 dst 10.1.1.0/24"].priority
		d := pols["src 10.0.0.0/8 dst 10.1.1.7/32"].priority
		s := pols["src 10.0.0.1/32 dst 0.0.0.0/0"].priority
		if !(s < d && d < w) {
			t.Errorf("priorities src/32 %d, dst/32 %d, /24 %d: want a longer source, then a longer destination, to win", s, d, w)
		}
	}
}

type policy struct {
	text     string
	priority int
}

var priorityRE = regexp.MustCompile(`priority (\d+)`)

// parsePolicies splits `ip xfrm policy` output into its dir-out policies,
// keyed by the selector line, with the template lines folded into one.
func parsePolicies(out string) map[string]policy {
	pols := map[string]policy{}
	for _, block := range splitPolicyBlocks(out) {
		if !strings.Contains(block, "dir out") {
			continue
		}
		lines := strings.SplitN(block, "\n", 2)
		p := policy{text: strings.Join(strings.Fields(block), " ")}
		if m := priorityRE.FindStringSubmatch(block); m != nil {
			p.priority, _ = strconv.Atoi(m[1])
		}
		pols[strings.TrimSpace(lines[0])] = p
	}
	return pols
}

// splitPolicyBlocks cuts ip xfrm output at each unindented line.
func splitPolicyBlocks(out string) []string {
	var blocks []string
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") || len(blocks) == 0 {
			blocks = append(blocks, line)
			continue
		}
		blocks[len(blocks)-1] += "\n" + line
	}
	return blocks
}

// isPlainAllow tells an allow policy without templates in ip xfrm's words
// (ip prints "action block" but leaves the default allow out).
func isPlainAllow(text string) bool {
	return strings.Contains(text, "dir out") && !strings.Contains(text, "action block") && !strings.Contains(text, "tmpl")
}
