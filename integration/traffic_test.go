package integration

// Real packets through each kind of eroute. Every check is made at the
// receiving end, twice: by the socket that counts what arrives
// (Receiver, TCPListener) and by tcpdump on the receiver's veth (Capture),
// never inferred from what the sender was told. Every test first shows that
// the same flow does arrive (before the eroute, or through a %pass), so that
// a broken topology cannot pass for a blocking eroute.
//
// The kernel here has no ESP, AH or IPCOMP transform: an SA eroute can only
// be shown to keep its packets from leaving in the clear, not to encrypt
// them.
//
// Kernel facts these tests rely on and record (Linux 6.18):
//   - A block policy (%drop, %reject, %hold) makes the local send() fail
//     with EPERM, and counts XfrmOutPolBlock in /proc/net/xfrm_stat. XFRM has
//     no "drop with an ICMP error": %reject and %drop are the same to it.
//   - A forwarded packet that meets a block policy is dropped by the router
//     (ip_forward/ip6_forward: xfrm_route_forward fails), again counted as
//     XfrmOutPolBlock in the router's namespace, and no ICMP error is sent
//     back (TestRejectForwarded logs what the sender's wire shows).
//   - A policy with a template and no SA (tun, esp, ah, comp, %trap) drops
//     the packet and counts XfrmOutNoStates; with net.core.xfrm_larval_drop
//     = 1 (the default) the sender gets a blackhole route, so send()
//     succeeds while nothing leaves.
//   - %trap: with an ACQUIRE listener present the kernel sends one ACQUIRE
//     per flow and a larval state then suppresses further ACQUIREs.

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Second addresses put on the receiver of a pair: inside the /24 and /64 of
// pairB4/pairB6, but not the /32 and /128.
var (
	pairC4 = netip.MustParseAddr("10.77.0.3")
	pairC6 = netip.MustParseAddr("fd00:77::3")
)

// The port the UDP flows go to.
const udpPort = 5001

// flow is one UDP flow between two fixed endpoints, with both observers at
// the receiving end: the socket bound to the destination, and a capture on
// the receiver's veth.
type flow struct {
	snd      *Sender
	rcv      *Receiver
	cap      *Capture
	src, dst netip.AddrPort
}

// newFlow binds the receiver in rns and connects the sender in sns.
func newFlow(t *testing.T, sns *NS, src netip.AddrPort, rns *NS, dst netip.AddrPort, c *Capture) *flow {
	t.Helper()
	rcv := listenUDP(t, rns, dst.Addr(), dst.Port())
	snd := dialUDP(t, sns, src.Addr(), src.Port(), dst.Addr(), dst.Port())
	return &flow{snd: snd, rcv: rcv, cap: c, src: src, dst: dst}
}

func (f *flow) String() string { return "udp " + f.src.String() + " -> " + f.dst.String() }

// onWire counts the flow's own packets in the capture.
func (f *flow) onWire() int {
	return f.cap.Count(func(p Packet) bool {
		return p.Src == f.src.Addr() && p.SrcPort == int(f.src.Port()) &&
			p.Dst == f.dst.Addr() && p.DstPort == int(f.dst.Port())
	})
}

// anyOnWire counts every packet from the flow's source address to its
// destination address, whatever the protocol (UDP in the clear, ESP, AH,
// IPComp, ICMP), but for neighbour discovery.
func (f *flow) anyOnWire() int { return f.cap.Count(f.between) }

func (f *flow) between(p Packet) bool {
	return p.Src == f.src.Addr() && p.Dst == f.dst.Addr() && !p.isNDP()
}

// wireSince gives the capture's lines from the index from on that match.
func wireSince(c *Capture, from int, match func(Packet) bool) string {
	var b strings.Builder
	lines := c.Lines()
	for _, l := range lines[min(from, len(lines)):] {
		if p, ok := parsePacket(l); ok && match(p) {
			b.WriteString("\n\t" + l)
		}
	}
	return b.String()
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deliverAll sends n datagrams on each flow and requires all of them to
// arrive: n more at the receiving socket and n more of the flow's packets
// on the receiver's wire.
func deliverAll(t *testing.T, n int, flows ...*flow) {
	t.Helper()
	r0, w0 := make([]int, len(flows)), make([]int, len(flows))
	for i, f := range flows {
		r0[i], w0[i] = f.rcv.Count(), f.onWire()
		if err := f.snd.Send(n); err != nil {
			t.Errorf("%v: send: %v", f, err)
		}
	}
	waitFor(5*time.Second, func() bool {
		for i, f := range flows {
			if f.rcv.Count()-r0[i] < n || f.onWire()-w0[i] < n {
				return false
			}
		}
		return true
	})
	for i, f := range flows {
		if got, wire := f.rcv.Count()-r0[i], f.onWire()-w0[i]; got != n || wire != n {
			t.Errorf("%v: sent %d, the receiver got %d and its wire showed %d: want all %d delivered in the clear", f, n, got, wire, n)
		}
	}
}

// blockAll sends n datagrams on each flow, waits, and requires that none
// arrived: nothing more at the receiving socket, and no packet at all from
// the source address to the destination address on the receiver's wire. It
// gives, for each flow, the first error send() returned (nil if none).
func blockAll(t *testing.T, n int, flows ...*flow) []error {
	t.Helper()
	r0, w0, l0 := make([]int, len(flows)), make([]int, len(flows)), make([]int, len(flows))
	errs := make([]error, len(flows))
	for i, f := range flows {
		r0[i], w0[i], l0[i] = f.rcv.Count(), f.anyOnWire(), len(f.cap.Lines())
		errs[i] = f.snd.Send(n)
	}
	settle()
	for i, f := range flows {
		if got, wire := f.rcv.Count()-r0[i], f.anyOnWire()-w0[i]; got != 0 || wire != 0 {
			t.Errorf("%v: sent %d, the receiver got %d and its wire showed %d packets from %v to %v: want none%s",
				f, n, got, wire, f.src.Addr(), f.dst.Addr(), wireSince(f.cap, l0[i], f.between))
		}
	}
	return errs
}

// pairFlows makes a capture on b's end of the pair and one flow per
// destination, from a, each from its own source port.
func pairFlows(t *testing.T, a, b *NS, dsts ...netip.Addr) (*Capture, []*flow) {
	t.Helper()
	c := capture(t, b, vethName(b, a), "ip or ip6")
	var flows []*flow
	for i, dst := range dsts {
		src := pairA4
		if dst.Is6() {
			src = pairA6
		}
		flows = append(flows, newFlow(t, a, netip.AddrPortFrom(src, uint16(40001+i)), b, netip.AddrPortFrom(dst, udpPort), c))
	}
	return c, flows
}

// host is ADDR/32 or ADDR/128.
func host(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// subnet is the /24 or /64 of a.
func subnet(a netip.Addr) string {
	bits := 24
	if a.Is6() {
		bits = 64
	}
	return netip.PrefixFrom(a, bits).Masked().String()
}

// erouteArgs is the argument list of one `eroute --add` (or --replace).
func erouteArgs(action, src, dst, said string, extra ...string) []string {
	return append([]string{action, "--src", src, "--dst", dst}, append(extra, "--said", said)...)
}

// statDelta is how much each named counter of /proc/net/xfrm_stat grew.
func statDelta(before, after map[string]int64, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s +%d ", n, after[n]-before[n])
	}
	return strings.TrimSpace(b.String())
}

// addSecondAddresses puts pairC4 and pairC6 on b's end of the pair.
func addSecondAddresses(t *testing.T, a, b *NS) {
	t.Helper()
	b.IP("addr", "add", pairC4.String()+"/24", "dev", vethName(b, a))
	b.IP("addr", "add", pairC6.String()+"/64", "dev", vethName(b, a), "nodad")
}

// nested runs one "a /32 inside a /24" case on fresh namespaces: from A, a
// broad eroute to B's /24 (/64) and a narrow one to B's /32 (/128), added in
// the given order. Traffic to B must follow the narrow eroute, traffic to
// the other address of the subnet (pairC4, pairC6) the broad one. Both
// families at once. A positive control first shows all four flows arrive.
func nested(t *testing.T, broad, narrow func(v6 bool) string, narrowFirst bool) {
	a, b := newPair(t)
	addSecondAddresses(t, a, b)
	_, flows := pairFlows(t, a, b, pairB4, pairC4, pairB6, pairC6)
	toB4, toC4, toB6, toC6 := flows[0], flows[1], flows[2], flows[3]
	deliverAll(t, 3, flows...)

	for _, fam := range []struct {
		v6   bool
		a, b netip.Addr
	}{{false, pairA4, pairB4}, {true, pairA6, pairB6}} {
		broadArgs := erouteArgs("--add", host(fam.a), subnet(fam.b), broad(fam.v6))
		narrowArgs := erouteArgs("--add", host(fam.a), host(fam.b), narrow(fam.v6))
		addInOrder(a, narrowFirst, narrowArgs, broadArgs)
	}
	t.Logf("eroutes on the sender:\n%s", a.Listing())

	isClear := func(said string) bool { return strings.HasPrefix(said, "%pass") }
	check := func(said string, fs ...*flow) {
		if isClear(said) {
			deliverAll(t, 5, fs...)
		} else {
			for i, err := range blockAll(t, 5, fs...) {
				t.Logf("%v under %s: send: %v", fs[i], said, err)
			}
		}
	}
	check(narrow(false), toB4)
	check(narrow(true), toB6)
	check(broad(false), toC4)
	check(broad(true), toC6)
}

func said(s string) func(bool) string { return func(bool) string { return s } }

// bothOrders runs fn as two subtests: with false (named first) and with
// true (named second).
func bothOrders(t *testing.T, first, second string, fn func(t *testing.T, swapped bool)) {
	t.Run(first, func(t *testing.T) { fn(t, false) })
	t.Run(second, func(t *testing.T) { fn(t, true) })
}

// Row 1: %pass and %passthrough deliver in the clear, also inside a broader
// %drop that would otherwise catch the packets, whatever the order the two
// eroutes are added in; the rest of the broad eroute's subnet stays dropped.
func TestPassInsideBroaderDrop(t *testing.T) {
	for _, c := range []struct {
		name   string
		narrow func(v6 bool) string
	}{
		{"pass", said("%pass")},
		{"passthrough46", func(v6 bool) string {
			if v6 {
				return "%passthrough6"
			}
			return "%passthrough4"
		}},
		{"passthrough", func(v6 bool) string {
			if v6 {
				return "%passthrough6"
			}
			return "%passthrough"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bothOrders(t, "broad-first", "narrow-first", func(t *testing.T, narrowFirst bool) {
				nested(t, said("%drop"), c.narrow, narrowFirst)
			})
		})
	}
}

// blockLocal installs said4 and said6 from A's host to B's host on a fresh
// pair, after a positive control, and requires that nothing arrive. It
// gives the first send error of each family and the xfrm_stat of A before
// and after. At the end a --replace with %pass must deliver again, through
// the same sockets.
func blockLocal(t *testing.T, said4, said6 string) (errs []error, before, after map[string]int64) {
	t.Helper()
	a, b := newPair(t)
	_, flows := pairFlows(t, a, b, pairB4, pairB6)
	deliverAll(t, 3, flows...) // positive control: the pair delivers
	before = xfrmStat(t, a)
	a.MustEroute(erouteArgs("--add", host(pairA4), host(pairB4), said4)...)
	a.MustEroute(erouteArgs("--add", host(pairA6), host(pairB6), said6)...)
	errs = blockAll(t, 5, flows...)
	after = xfrmStat(t, a)
	// The same sockets deliver again once the eroutes pass.
	a.MustEroute(erouteArgs("--replace", host(pairA4), host(pairB4), "%pass")...)
	a.MustEroute(erouteArgs("--replace", host(pairA6), host(pairB6), "%pass")...)
	deliverAll(t, 3, flows...)
	return errs, before, after
}

// Row 2: %drop lets nothing out, and the sender is told EPERM.
func TestDropTraffic(t *testing.T) {
	errs, before, after := blockLocal(t, "%drop", "%drop")
	for i, err := range errs {
		t.Logf("IPv%d send() under %%drop returned: %v (EPERM: %v)", 4+2*i, err, errors.Is(err, syscall.EPERM))
	}
	t.Logf("sender's xfrm_stat: %s", statDelta(before, after, "XfrmOutPolBlock", "XfrmOutNoStates"))
	if got := after["XfrmOutPolBlock"] - before["XfrmOutPolBlock"]; got < 10 {
		t.Errorf("XfrmOutPolBlock grew by %d for 10 packets, want at least 10: the packets were not stopped by a block policy", got)
	}
}

// Row 3, locally sent: %reject lets nothing out, and send() fails at once.
// XFRM has no reject action: the error the sender sees is the EPERM of a
// block policy, not an ICMP error.
func TestRejectLocal(t *testing.T) {
	errs, before, after := blockLocal(t, "%reject", "%reject")
	for i, err := range errs {
		t.Logf("IPv%d send() under %%reject returned: %v", 4+2*i, err)
		if !errors.Is(err, syscall.EPERM) {
			t.Errorf("IPv%d send() under %%reject returned %v, want EPERM", 4+2*i, err)
		}
	}
	t.Logf("sender's xfrm_stat: %s", statDelta(before, after, "XfrmOutPolBlock"))
	if got := after["XfrmOutPolBlock"] - before["XfrmOutPolBlock"]; got < 10 {
		t.Errorf("XfrmOutPolBlock grew by %d for 10 packets, want at least 10", got)
	}
}

// routedFlows makes the capture on the receiver's veth and one flow per
// family from the sender to the receiver, through the router.
func routedFlows(t *testing.T, s, r, d *NS) []*flow {
	t.Helper()
	c := capture(t, d, vethName(d, r), "ip or ip6")
	return []*flow{
		newFlow(t, s, netip.AddrPortFrom(routeS4, 40001), d, netip.AddrPortFrom(routeR4, udpPort), c),
		newFlow(t, s, netip.AddrPortFrom(routeS6, 40002), d, netip.AddrPortFrom(routeR6, udpPort), c),
	}
}

// routerEroutes puts eroutes for sender-subnet -> receiver-subnet on the
// router, both families.
func routerEroutes(t *testing.T, r *NS, action, said4, said6 string) {
	t.Helper()
	r.MustEroute(erouteArgs(action, subnet(routeS4), subnet(routeR4), said4)...)
	r.MustEroute(erouteArgs(action, subnet(routeS6), subnet(routeR6), said6)...)
}

// Row 3, forwarded: %reject on a router. The kernel drops a forwarded
// packet that meets a block policy (xfrm_route_forward fails in
// ip_forward/ip6_forward) and counts it as XfrmOutPolBlock in the router's
// namespace; it sends no ICMP error for it. The test requires the drop and
// the counter, and only logs whether any ICMP error reached the sender.
func TestRejectForwarded(t *testing.T) {
	s, r, d := newRouted(t)
	flows := routedFlows(t, s, r, d)
	icmp := capture(t, s, vethName(s, r), "icmp or (icmp6 and ip6[40] < 128)")
	deliverAll(t, 3, flows...) // positive control: the router forwards
	before := xfrmStat(t, r)
	routerEroutes(t, r, "--add", "%reject", "%reject")
	errs := blockAll(t, 5, flows...)
	// A second round: a connected UDP socket reports an ICMP error that
	// arrived on its next send.
	errs2 := blockAll(t, 5, flows...)
	after := xfrmStat(t, r)
	for i := range flows {
		t.Logf("%v through %%reject on the router: send() returned %v, then %v", flows[i], errs[i], errs2[i])
	}
	t.Logf("router's xfrm_stat: %s", statDelta(before, after, "XfrmOutPolBlock", "XfrmOutNoStates", "XfrmFwdHdrError"))
	if got := after["XfrmOutPolBlock"] - before["XfrmOutPolBlock"]; got < 20 {
		t.Errorf("router's XfrmOutPolBlock grew by %d for 20 forwarded packets, want at least 20", got)
	}
	if lines := icmp.Lines(); len(lines) == 0 {
		t.Logf("no ICMP error reached the sender: the kernel drops forwarded packets on a block policy silently")
	} else {
		t.Logf("ICMP errors on the sender's wire:\n%s", strings.Join(lines, "\n"))
	}
	routerEroutes(t, r, "--replace", "%pass", "%pass")
	deliverAll(t, 3, flows...)
}

// Row 4: an SA eroute whose SA does not exist keeps the packets from leaving
// in the clear (nor in any other form: no SA, nothing to send).
func TestSAErouteWithoutSA(t *testing.T) {
	for _, proto := range []string{"tun", "esp", "ah", "comp"} {
		t.Run(proto, func(t *testing.T) {
			said4 := proto + "0x135@" + pairB4.String()
			said6 := proto + "0x135@" + pairB6.String()
			errs, before, after := blockLocal(t, said4, said6)
			for i, err := range errs {
				t.Logf("IPv%d send() under %s returned: %v", 4+2*i, proto, err)
			}
			t.Logf("sender's xfrm_stat: %s", statDelta(before, after, "XfrmOutNoStates", "XfrmOutPolError", "XfrmOutPolBlock"))
			if got := after["XfrmOutNoStates"] - before["XfrmOutNoStates"]; got < 10 {
				t.Errorf("XfrmOutNoStates grew by %d for 10 packets, want at least 10: the packets did not meet a policy that wants an SA", got)
			}
		})
	}
}

// sendSpaced sends n datagrams, gap apart, and gives the first error.
func sendSpaced(f *flow, n int, gap time.Duration) error {
	var first error
	for i := 0; i < n; i++ {
		if err := f.snd.Send(1); err != nil && first == nil {
			first = err
		}
		time.Sleep(gap)
	}
	return first
}

// Row 5: %trap sends one ACQUIRE for a flow, however many packets of the
// flow follow (the kernel's larval state stops the repeats while it lives),
// and lets nothing out in the clear.
func TestTrapAcquires(t *testing.T) {
	a, b := newPair(t)
	_, flows := pairFlows(t, a, b, pairB4, pairB6)
	deliverAll(t, 3, flows...) // positive control
	mon := monitorAcquire(t, a)
	before := xfrmStat(t, a)
	a.MustEroute(erouteArgs("--add", host(pairA4), host(pairB4), "%trap")...)
	a.MustEroute(erouteArgs("--add", host(pairA6), host(pairB6), "%trap")...)

	r0, w0 := []int{flows[0].rcv.Count(), flows[1].rcv.Count()}, []int{flows[0].anyOnWire(), flows[1].anyOnWire()}
	for _, f := range flows {
		t.Logf("%v: 8 sends under %%trap, first error: %v", f, sendSpaced(f, 8, 25*time.Millisecond))
	}
	waitFor(5*time.Second, func() bool {
		return len(mon.For(pairA4, pairB4)) > 0 && len(mon.For(pairA6, pairB6)) > 0
	})
	time.Sleep(500 * time.Millisecond) // room for a repeat to show
	for _, f := range flows {
		f.snd.Send(1)
	}
	settle()
	for i, f := range flows {
		if got, wire := f.rcv.Count()-r0[i], f.anyOnWire()-w0[i]; got != 0 || wire != 0 {
			t.Errorf("%v under %%trap: the receiver got %d and its wire showed %d packets: want none", f, got, wire)
		}
		acq := mon.For(f.src.Addr(), f.dst.Addr())
		if len(acq) != 1 {
			t.Errorf("%v: %d ACQUIREs for the flow after 9 packets, want exactly 1:\n%s", f, len(acq), strings.Join(mon.Messages(), "\n---\n"))
			continue
		}
		if want := fmt.Sprintf("sport %d dport %d", f.src.Port(), f.dst.Port()); !strings.Contains(acq[0], want) {
			t.Errorf("%v: the ACQUIRE does not name the flow (%q):\n%s", f, want, acq[0])
		}
		t.Logf("the ACQUIRE for %v:\n%s", f, acq[0])
	}
	if n := len(mon.Messages()); n != 2 {
		t.Errorf("%d ACQUIREs in all, want 2:\n%s", n, strings.Join(mon.Messages(), "\n---\n"))
	}
	after := xfrmStat(t, a)
	t.Logf("sender's xfrm_stat: %s", statDelta(before, after, "XfrmOutNoStates", "XfrmOutPolBlock", "XfrmAcquireError"))
	if got := after["XfrmOutNoStates"] - before["XfrmOutNoStates"]; got < 18 {
		t.Errorf("XfrmOutNoStates grew by %d for 18 packets, want at least 18", got)
	}
	t.Logf("larval states:\n%s", a.IP("xfrm", "state"))
}

// Row 6: %hold keeps the packets and sends no ACQUIRE. The same monitor
// then sees the ACQUIREs of a %trap, which shows it was listening.
func TestHoldNoAcquire(t *testing.T) {
	a, b := newPair(t)
	_, flows := pairFlows(t, a, b, pairB4, pairB6)
	deliverAll(t, 3, flows...) // positive control
	mon := monitorAcquire(t, a)
	before := xfrmStat(t, a)
	a.MustEroute(erouteArgs("--add", host(pairA4), host(pairB4), "%hold")...)
	a.MustEroute(erouteArgs("--add", host(pairA6), host(pairB6), "%hold")...)
	for i, err := range blockAll(t, 5, flows...) {
		t.Logf("%v under %%hold: send() returned %v", flows[i], err)
	}
	time.Sleep(300 * time.Millisecond)
	if msgs := mon.Messages(); len(msgs) != 0 {
		t.Errorf("%%hold made %d ACQUIREs, want none:\n%s", len(msgs), strings.Join(msgs, "\n---\n"))
	}
	after := xfrmStat(t, a)
	t.Logf("sender's xfrm_stat: %s", statDelta(before, after, "XfrmOutPolBlock", "XfrmOutNoStates"))
	if got := after["XfrmOutPolBlock"] - before["XfrmOutPolBlock"]; got < 10 {
		t.Errorf("XfrmOutPolBlock grew by %d for 10 packets, want at least 10", got)
	}

	// Positive control of the monitor.
	a.MustEroute(erouteArgs("--replace", host(pairA4), host(pairB4), "%trap")...)
	a.MustEroute(erouteArgs("--replace", host(pairA6), host(pairB6), "%trap")...)
	blockAll(t, 2, flows...)
	if !waitFor(5*time.Second, func() bool {
		return len(mon.For(pairA4, pairB4)) == 1 && len(mon.For(pairA6, pairB6)) == 1
	}) {
		t.Errorf("after --replace with %%trap the monitor saw %d ACQUIREs, want one per family:\n%s",
			len(mon.Messages()), strings.Join(mon.Messages(), "\n---\n"))
	}
}

// Row 7: the eroutes of a router act on the traffic it forwards.
func TestForwardedTraffic(t *testing.T) {
	for _, c := range []struct {
		name, said4, said6 string
		clear              bool
		counter            string // the router's xfrm_stat counter that must grow
	}{
		{"pass", "%pass", "%pass", true, ""},
		{"drop", "%drop", "%drop", false, "XfrmOutPolBlock"},
		{"reject", "%reject", "%reject", false, "XfrmOutPolBlock"},
		{"tun", "tun0x135@" + routeR4.String(), "tun0x135@" + routeR6.String(), false, "XfrmOutNoStates"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, r, d := newRouted(t)
			flows := routedFlows(t, s, r, d)
			deliverAll(t, 3, flows...) // positive control: the router forwards
			before := xfrmStat(t, r)
			routerEroutes(t, r, "--add", c.said4, c.said6)
			pols := r.IPPolicies()
			for _, sel := range []string{"src " + subnet(routeS4) + " dst " + subnet(routeR4), "src " + subnet(routeS6) + " dst " + subnet(routeR6)} {
				if !strings.Contains(pols, sel) {
					t.Fatalf("no policy %q on the router:\n%s", sel, pols)
				}
			}
			if c.clear {
				deliverAll(t, 5, flows...)
			} else {
				for i, err := range blockAll(t, 5, flows...) {
					t.Logf("%v through %s on the router: send() returned %v", flows[i], c.name, err)
				}
			}
			after := xfrmStat(t, r)
			t.Logf("router's xfrm_stat: %s", statDelta(before, after, "XfrmOutPolBlock", "XfrmOutNoStates", "XfrmOutPolError"))
			if c.counter != "" && after[c.counter]-before[c.counter] < 10 {
				t.Errorf("router's %s grew by %d for 10 forwarded packets, want at least 10", c.counter, after[c.counter]-before[c.counter])
			}
		})
	}
}

// Row 8, the manual's POP3 pair: TCP to port 110 goes to the tunnel (which
// has no SA, so nothing leaves), everything else to the host goes in the
// clear, whatever the order of the two commands.
func TestPOP3PrecedenceTraffic(t *testing.T) {
	bothOrders(t, "pass-first", "pop3-first", func(t *testing.T, pop3First bool) {
		a, b := newPair(t)
		c, udp := pairFlows(t, a, b, pairB4, pairB6)
		// UDP to port 110 is not POP3: it must pass too.
		udp110 := []*flow{
			newFlow(t, a, netip.AddrPortFrom(pairA4, 40011), b, netip.AddrPortFrom(pairB4, 110), c),
			newFlow(t, a, netip.AddrPortFrom(pairA6, 40012), b, netip.AddrPortFrom(pairB6, 110), c),
		}
		type fam struct {
			src, dst netip.Addr
			pop3     string
			l110     *TCPListener
			l111     *TCPListener
		}
		fams := []fam{
			{pairA4, pairB4, "tun.135@" + pairB4.String(), listenTCP(t, b, pairB4, 110), listenTCP(t, b, pairB4, 111)},
			{pairA6, pairB6, "tun:135@" + pairB6.String(), listenTCP(t, b, pairB6, 110), listenTCP(t, b, pairB6, 111)},
		}
		tcpTo := func(dst netip.Addr, port int) func(Packet) bool {
			return func(p Packet) bool {
				return p.Dst == dst && p.DstPort == port && strings.HasPrefix(p.What, "Flags")
			}
		}
		// Positive control: before the eroutes, TCP to port 110 is accepted
		// and seen on the wire, and UDP arrives.
		for _, f := range fams {
			if err := dialTCP(t, a, f.src, netip.AddrPortFrom(f.dst, 110), 5*time.Second); err != nil {
				t.Fatalf("control: tcp to [%v]:110: %v", f.dst, err)
			}
			if !waitFor(5*time.Second, func() bool { return f.l110.Accepted() == 1 && c.Count(tcpTo(f.dst, 110)) > 0 }) {
				t.Fatalf("control: tcp to [%v]:110 accepted %d, %d packets on the wire", f.dst, f.l110.Accepted(), c.Count(tcpTo(f.dst, 110)))
			}
		}
		deliverAll(t, 3, append(udp, udp110...)...)

		for _, f := range fams {
			pop3 := erouteArgs("--add", host(f.src), host(f.dst), f.pop3, "--transport-proto", "6", "--dst-port", "110")
			pass := erouteArgs("--add", host(f.src), host(f.dst), "%pass")
			addInOrder(a, pop3First, pop3, pass)
		}
		t.Logf("eroutes on the sender:\n%s", a.Listing())

		var wg sync.WaitGroup
		errs := make([]error, len(fams))
		wire0 := make([]int, len(fams))
		for i, f := range fams {
			wire0[i] = c.Count(tcpTo(f.dst, 110))
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = dialTCP(t, a, f.src, netip.AddrPortFrom(f.dst, 110), time.Second)
			}()
		}
		wg.Wait()
		settle()
		for i, f := range fams {
			t.Logf("tcp to [%v]:110 under the POP3 tunnel eroute: connect: %v", f.dst, errs[i])
			if errs[i] == nil {
				t.Errorf("tcp to [%v]:110 connected, want it kept in the tunnel", f.dst)
			}
			if n := f.l110.Accepted(); n != 1 {
				t.Errorf("the listener on [%v]:110 accepted %d connections, want only the control's 1", f.dst, n)
			}
			if n := c.Count(tcpTo(f.dst, 110)) - wire0[i]; n != 0 {
				t.Errorf("%d TCP packets to [%v]:110 on the receiver's wire, want none:%s", n, f.dst, wireSince(c, 0, tcpTo(f.dst, 110)))
			}
			// Everything else to the host passes in the clear.
			if err := dialTCP(t, a, f.src, netip.AddrPortFrom(f.dst, 111), 5*time.Second); err != nil {
				t.Errorf("tcp to [%v]:111: %v, want it to connect in the clear", f.dst, err)
			}
			if !waitFor(5*time.Second, func() bool { return f.l111.Accepted() == 1 && c.Count(tcpTo(f.dst, 111)) > 0 }) {
				t.Errorf("tcp to [%v]:111: accepted %d, %d packets on the wire: want 1 and some", f.dst, f.l111.Accepted(), c.Count(tcpTo(f.dst, 111)))
			}
		}
		deliverAll(t, 5, append(udp, udp110...)...)
	})
}

// Row 8, the longer prefix wins both ways round: %pass /32 inside %drop
// /24, and %drop /32 inside %pass /24, each in both orders.
func TestSubnetPrecedenceTraffic(t *testing.T) {
	t.Run("pass-in-drop", func(t *testing.T) {
		bothOrders(t, "broad-first", "narrow-first", func(t *testing.T, narrowFirst bool) { nested(t, said("%drop"), said("%pass"), narrowFirst) })
	})
	t.Run("drop-in-pass", func(t *testing.T) {
		bothOrders(t, "broad-first", "narrow-first", func(t *testing.T, narrowFirst bool) { nested(t, said("%pass"), said("%drop"), narrowFirst) })
	})
}

// Row 9: --replace changes an eroute without a gap. A steady stream runs
// from A to B while the same selector is replaced, over and over, between
// two kinds that both keep packets in (%drop and a tunnel without SA): not
// one packet may arrive. At the end --replace with %pass delivers, which
// shows the stream and the observers work.
func TestNoLeakDuringReplace(t *testing.T) {
	const rounds = 200
	a, b := newPair(t)
	_, flows := pairFlows(t, a, b, pairB4, pairB6)
	deliverAll(t, 3, flows...) // positive control
	sels := [][2]netip.Addr{{pairA4, pairB4}, {pairA6, pairB6}}
	for _, s := range sels {
		a.MustEroute(erouteArgs("--add", host(s[0]), host(s[1]), "%drop")...)
	}
	r0, w0 := []int{flows[0].rcv.Count(), flows[1].rcv.Count()}, []int{flows[0].anyOnWire(), flows[1].anyOnWire()}

	var stop atomic.Bool
	var wg sync.WaitGroup
	type tally struct{ sent, ok, eperm, other int }
	tallies := make([]tally, len(flows))
	for i, f := range flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_, err := f.snd.conn.Write([]byte("eroute stream"))
				tallies[i].sent++
				switch {
				case err == nil:
					tallies[i].ok++
				case errors.Is(err, syscall.EPERM):
					tallies[i].eperm++
				default:
					tallies[i].other++
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}
	start := time.Now()
	for i := 0; i < rounds; i++ {
		for _, s := range sels {
			said := "%drop"
			if i%2 == 0 {
				said = "tun0x135@" + s[1].String()
			}
			a.MustEroute(erouteArgs("--replace", host(s[0]), host(s[1]), said)...)
		}
	}
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	settle()
	for i, f := range flows {
		tl := tallies[i]
		t.Logf("%v: %d sent during %d --replace of its selector in %v: %d sends succeeded (tunnel without SA: blackholed), %d EPERM (%%drop), %d other errors",
			f, tl.sent, rounds, elapsed.Round(time.Millisecond), tl.ok, tl.eperm, tl.other)
		if tl.ok == 0 || tl.eperm == 0 {
			t.Errorf("%v: the stream did not meet both eroutes (%d under the tunnel, %d under %%drop)", f, tl.ok, tl.eperm)
		}
		if got, wire := f.rcv.Count()-r0[i], f.anyOnWire()-w0[i]; got != 0 || wire != 0 {
			t.Errorf("%v: %d datagrams reached the receiver and %d packets its wire while the eroute was replaced: want none", f, got, wire)
		}
	}
	for _, s := range sels {
		a.MustEroute(erouteArgs("--replace", host(s[0]), host(s[1]), "%pass")...)
	}
	deliverAll(t, 5, flows...)
}

// addInOrder runs the eroute commands x and y in ns, x first when xFirst:
// the kernel must give the same result in either order.
func addInOrder(ns *NS, xFirst bool, x, y []string) {
	if !xFirst {
		x, y = y, x
	}
	ns.MustEroute(x...)
	ns.MustEroute(y...)
}
