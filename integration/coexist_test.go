package integration

// eroute next to strongSwan's charon on one policy table (issue 9): the
// harness of charon_test.go, two gateways a and b joined by a veth, one
// charon each, IKEv2 with a pre-shared key.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The harness itself: two charons negotiate an IKE SA over the veth, as
// their logs, swanctl and tcpdump all say; each charon has its own /run and
// set xfrm_acq_expires in its own namespace only.
func TestCharonIKE(t *testing.T) {
	a, b := ikePair(t)
	acqBefore := sysctlValue(t, a, "net.core.xfrm_acq_expires")
	hostAcq, _ := os.ReadFile("/proc/sys/net/core/xfrm_acq_expires")
	left, right := tunnelConns("t", "")
	ca, cb := startCharon(t, a), startCharon(t, b)
	ca.Load(left)
	cb.Load(right)
	c := ikeCapture(t, a, b)

	// Exit status 1 where the kernel has no ESP: the CHILD SA fails.
	init := ca.Swanctl("--initiate", "--child", "t", "--timeout", "20")
	if !ca.WaitLog(`IKE_SA t\[\d+\] established between 10\.77\.0\.1\[left\]\.\.\.10\.77\.0\.2\[right\]`, 10*time.Second) {
		t.Fatalf("no IKE SA in a's charon log; swanctl --initiate said (exit %d):\n%s%s", init.Code, init.Stdout, init.Stderr)
	}
	for _, ch := range []*Charon{ca, cb} {
		if sas := ch.MustSwanctl("--list-sas"); !strings.Contains(sas, "t: #1, ESTABLISHED, IKEv2") {
			t.Errorf("swanctl --list-sas of %s:\n%s\nwant the IKE SA t ESTABLISHED", ch.ns.Name, sas)
		}
	}
	if !waitFor(5*time.Second, func() bool { p500, p4500 := ikePackets(c); return p500 >= 2 && p4500 >= 2 }) {
		p500, p4500 := ikePackets(c)
		t.Errorf("IKE on the veth: %d packets on port 500, %d on 4500, want IKE_SA_INIT and IKE_AUTH (2 each):\n%s",
			p500, p4500, strings.Join(c.Lines(), "\n"))
	}

	if kernelHasESP(t) {
		if sas := ca.MustSwanctl("--list-sas"); !strings.Contains(sas, "INSTALLED, TUNNEL") {
			t.Errorf("the kernel has ESP, but a's CHILD SA is not installed:\n%s", sas)
		}
	} else {
		// What a kernel without ESP does: the responder cannot add its SAs.
		if !cb.WaitLog(`unable to add SAD entry`, 5*time.Second) || !ca.WaitLog(`failed to establish CHILD_SA, keeping IKE_SA`, 5*time.Second) {
			t.Errorf("no ESP in this kernel, yet the CHILD SA did not fail as expected; a:\n%s\nb:\n%s", ca.Log(), cb.Log())
		}
		t.Logf("this kernel has no ESP: the IKE SA is up, the CHILD SA failed (swanctl --initiate exit %d)", init.Code)
	}

	// charon's own /run: its pid file is there, and not in the host's.
	pidFile := filepath.Join("/proc", strconv.Itoa(ca.Pid()), "root", "run", "charon.pid")
	if got, err := os.ReadFile(pidFile); err != nil || strings.TrimSpace(string(got)) != strconv.Itoa(ca.Pid()) {
		t.Errorf("charon's own /run/charon.pid: %q, %v; want its pid %d", got, err, ca.Pid())
	}
	if got, err := os.ReadFile("/run/charon.pid"); err == nil && strings.TrimSpace(string(got)) == strconv.Itoa(ca.Pid()) {
		t.Errorf("the host's /run/charon.pid names the test's charon (pid %d): its /run is not private", ca.Pid())
	}
	// kernel-netlink sets xfrm_acq_expires in charon's namespace, and
	// leaves the host's alone.
	if got := sysctlValue(t, a, "net.core.xfrm_acq_expires"); got != 165 {
		t.Errorf("net.core.xfrm_acq_expires in a with charon: %d (before: %d), want 165", got, acqBefore)
	}
	if got, _ := os.ReadFile("/proc/sys/net/core/xfrm_acq_expires"); string(got) != string(hostAcq) {
		t.Errorf("the host's net.core.xfrm_acq_expires changed from %q to %q", hostAcq, got)
	}
}

// The hand-off: a %trap eroute, and `eroute --monitor --exec 'swanctl
// --initiate --child t'` as the key manager's side. The first packet of the
// flow gives the ACQUIRE; the monitor puts its hold and runs swanctl; charon
// brings the IKE SA up. No IKE crosses the veth before the packet.
func TestCharonHandOff(t *testing.T) {
	a, b := ikePair(t)
	left, right := tunnelConns("t", "")
	ca, cb := startCharon(t, a), startCharon(t, b)
	ca.Load(left)
	cb.Load(right)
	a.MustEroute(erouteArgs("--add", ikeLeftNet, ikeRightNet, "%trap")...)
	mon := startMonitor(t, a, "--hold-timeout", "60",
		"--exec", ca.SwanctlCommand("--initiate", "--child", "t", "--timeout", "30"))
	c := ikeCapture(t, a, b)
	time.Sleep(300 * time.Millisecond)
	if p500, p4500 := ikePackets(c); p500+p4500 != 0 {
		t.Fatalf("IKE on the veth before any packet of the flow:\n%s", strings.Join(c.Lines(), "\n"))
	}

	src, dst := netip.AddrPortFrom(ikeLeftHost, 40100), netip.AddrPortFrom(ikeRightHost, 5001)
	send1(t, a, src, dst)
	if !mon.WaitLines(1, 5*time.Second) {
		t.Fatalf("the monitor printed no ACQUIRE line; stderr:\n%s", mon.Stderr())
	}
	if line := mon.Lines()[0]; !strings.Contains(line, "by "+ikeLeftNet+" -> "+ikeRightNet+" => %trap; hold placed") {
		t.Errorf("the monitor's line: %q, want the ACQUIRE of the flow by the %%trap, hold placed", line)
	}
	wantListed(t, a, host(ikeLeftHost), host(ikeRightHost), "%hold", "after the ACQUIRE")
	if !ca.WaitLog(`vici initiate CHILD_SA 't'`, 10*time.Second) {
		t.Errorf("charon's log shows no initiate by vici:\n%s", ca.Log())
	}
	if !ca.WaitLog(`IKE_SA t\[\d+\] established between 10\.77\.0\.1\[left\]\.\.\.10\.77\.0\.2\[right\]`, 20*time.Second) {
		t.Fatalf("the monitor's swanctl brought no IKE SA up; charon's log:\n%s", ca.Log())
	}
	if !waitFor(5*time.Second, func() bool { p500, p4500 := ikePackets(c); return p500 >= 2 && p4500 >= 2 }) {
		p500, p4500 := ikePackets(c)
		t.Errorf("IKE on the veth: %d packets on port 500, %d on 4500, want IKE_SA_INIT and IKE_AUTH:\n%s",
			p500, p4500, strings.Join(c.Lines(), "\n"))
	}
	if sas := cb.MustSwanctl("--list-sas"); !strings.Contains(sas, "t: #1, ESTABLISHED, IKEv2") {
		t.Errorf("the responder's swanctl --list-sas:\n%s\nwant the IKE SA t ESTABLISHED", sas)
	}
	// charon saw the ACQUIRE of eroute's trap too, and left it alone: the
	// policy's reqid (0) names none of its own.
	if !strings.Contains(ca.Log(), "trap not found, unable to acquire reqid 0") {
		t.Errorf("charon's log does not show it leaving the ACQUIRE of eroute's %%trap alone")
	}
	// Nothing of the flow in the clear.
	if n := c.Count(func(p Packet) bool { return p.Dst == ikeRightHost }); n != 0 {
		t.Errorf("%d packets of the flow on the veth in the clear", n)
	}
}

// charonTrap gives gateway a with a charon whose connection x has
// start_action = trap for ikeLeftNet <-> ikeRightNet: charon's out, in and
// fwd trap policies (reqid 1, tunnel templates between the gateways) are in
// place. b has a charon that answers for x, for tests that let it negotiate.
func charonTrap(t *testing.T) (a, b *NS, ca, cb *Charon) {
	t.Helper()
	a, b = ikePair(t)
	ca, cb = startCharon(t, a), startCharon(t, b)
	left, right := tunnelConns("x", "trap")
	cb.Load(right)
	ca.Load(left)
	if !waitFor(5*time.Second, func() bool { return len(charonPolicies(a)) == 3 }) {
		t.Fatalf("charon's trap policies for x are not in place:\n%s\ncharon's log:\n%s", a.IPPolicies(), ca.Log())
	}
	return a, b, ca, cb
}

// charonPolicies gives the `ip xfrm policy` entries, in every direction,
// whose selector joins ikeLeftNet and ikeRightNet, one line each: what
// charon installs for x.
func charonPolicies(ns *NS) []string {
	var out []string
	for _, block := range splitPolicyBlocks(ns.IPPolicies()) {
		if strings.Contains(block, ikeLeftNet) && strings.Contains(block, ikeRightNet) {
			out = append(out, strings.Join(strings.Fields(block), " "))
		}
	}
	return out
}

// wantCharonPolicies requires charon's policies to be as they were.
func wantCharonPolicies(t *testing.T, ns *NS, before []string, when string) {
	t.Helper()
	if diff := cmp.Diff(before, charonPolicies(ns)); diff != "" {
		t.Errorf("%s: charon's policies changed (-before +after):\n%s", when, diff)
	}
}

// jsonEroutes is `eroute --json`, one object a line.
func jsonEroutes(t *testing.T, ns *NS) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(ns.MustEroute("--json")), "\n") {
		if l == "" {
			continue
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatalf("eroute --json line %q: %v", l, err)
		}
		objs = append(objs, o)
	}
	return objs
}

// jsonEroute is the --json object of the eroute src -> dst.
func jsonEroute(t *testing.T, ns *NS, src, dst string) map[string]any {
	t.Helper()
	for _, o := range jsonEroutes(t, ns) {
		if o["src"] == src && o["dst"] == dst {
			return o
		}
	}
	t.Fatalf("eroute --json has no object for %s -> %s", src, dst)
	return nil
}

// charon's trap is listed for what it is: a %trap (an ESP template without
// an SA), owner foreign, with the kernel's priority and the template's
// reqid and mode. Only the outbound policy is listed.
func TestCharonTrapListedForeign(t *testing.T) {
	a, _, ca, _ := charonTrap(t)
	wantListed(t, a, ikeLeftNet, ikeRightNet, "%trap", "charon's trap")
	if n := strings.Count(a.Listing(), "\n"); n != 1 {
		t.Errorf("the listing has %d lines, want charon's outbound trap only:\n%s", n, a.Listing())
	}
	o := jsonEroute(t, a, ikeLeftNet, ikeRightNet)
	prio := parsePolicies(a.IPPolicies())["src "+ikeLeftNet+" dst "+ikeRightNet].priority
	if o["owner"] != "foreign" || o["said"] != "%trap" || o["priority"] != float64(prio) {
		t.Errorf("eroute --json for charon's trap: %v, want owner foreign, said %%trap, priority %d (ip xfrm's)", o, prio)
	}
	want := []any{map[string]any{"proto": float64(50), "mode": "tunnel", "spi": float64(0), "reqid": float64(1),
		"src": pairA4.String(), "dst": pairB4.String()}}
	if diff := cmp.Diff(want, o["templates"]); diff != "" {
		t.Errorf("eroute --json templates of charon's trap (-want +got):\n%s", diff)
	}
	if pols := ca.MustSwanctl("--list-pols"); !strings.Contains(pols, "x/x, TUNNEL") {
		t.Errorf("swanctl --list-pols:\n%s\nwant charon's trap x/x", pols)
	}
}

// --sync refuses a selector held by charon, naming it, and leaves charon's
// policies alone when the file does not name them.
func TestCharonTrapSyncRefused(t *testing.T) {
	a, _, _, _ := charonTrap(t)
	before := charonPolicies(a)
	file := writeLines(t, []string{strings.Join(erouteArgs("--add", ikeLeftNet, ikeRightNet, "%pass"), " ")})
	assertRefused(t, a, []string{ikeLeftNet, "did not make"}, "--sync", file)
	other := writeLines(t, []string{strings.Join(erouteArgs("--add", ikeLeftNet, ikeOtherNet, "%pass"), " ")})
	a.MustEroute("--sync", other)
	wantListed(t, a, ikeLeftNet, ikeOtherNet, "%pass", "after --sync")
	wantCharonPolicies(t, a, before, "after --sync of a file without them")
}

// --clear removes eroute's own eroutes and leaves charon's policies.
func TestCharonTrapKeptByClear(t *testing.T) {
	a, _, _, _ := charonTrap(t)
	before := charonPolicies(a)
	a.MustEroute(erouteArgs("--add", ikeLeftNet, ikeOtherNet, "%pass")...)
	a.MustEroute("--clear")
	wantListed(t, a, ikeLeftNet, ikeOtherNet, "", "after --clear")
	wantCharonPolicies(t, a, before, "after --clear")
}

// Every command that would change charon's policies without --force is
// refused: one line naming the holder as the listing shows it, exit status
// 1, the table as it was.
func TestCharonTrapRefusals(t *testing.T) {
	a, _, _, _ := charonTrap(t)
	before := charonPolicies(a)
	// charon's out policy, and its in policy, as the listing would show them.
	out := ikeLeftNet + " -> " + ikeRightNet + " => %trap"
	in := ikeRightNet + " -> " + ikeLeftNet + " => %trap"
	cases := []struct {
		name  string
		wants []string
		args  []string
	}{
		{"del", []string{out}, selArgs("--del", ikeLeftNet, ikeRightNet)},
		{"replace", []string{out}, erouteArgs("--replace", ikeLeftNet, ikeRightNet, "%pass")},
		{"delin", []string{in}, selArgs("--delin", ikeRightNet, ikeLeftNet)},
		{"replacein", []string{in}, erouteArgs("--replacein", ikeRightNet, ikeLeftNet, "%pass")},
		{"add", []string{"eroute already in use.  Delete old one first.", out},
			erouteArgs("--add", ikeLeftNet, ikeRightNet, "%pass")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assertRefused(t, a, c.wants, c.args...) })
	}
	t.Run("batch", func(t *testing.T) {
		file := writeLines(t, []string{
			strings.Join(erouteArgs("--add", ikeLeftNet, ikeOtherNet, "%pass"), " "),
			strings.Join(selArgs("--del", ikeLeftNet, ikeRightNet), " "),
		})
		assertRefused(t, a, []string{"line 2", out}, "--batch", file)
	})
	wantCharonPolicies(t, a, before, "after the refusals")
}

// --force acts on charon's policy, and --clear --all removes its outbound
// policy (the KLIPS meaning); charon is not told and still lists it.
func TestCharonTrapForce(t *testing.T) {
	sel := "src " + ikeLeftNet + " dst " + ikeRightNet
	t.Run("del", func(t *testing.T) {
		a, _, ca, _ := charonTrap(t)
		a.MustEroute(selArgs("--del", ikeLeftNet, ikeRightNet, "--force")...)
		if _, ok := parsePolicies(a.IPPolicies())[sel]; ok {
			t.Errorf("charon's outbound trap is still there after --del --force:\n%s", a.IPPolicies())
		}
		if n := len(charonPolicies(a)); n != 2 {
			t.Errorf("%d of charon's policies left, want its in and fwd (2):\n%s", n, a.IPPolicies())
		}
		// charon is not told: it still lists its trap, and finds out when
		// it removes it.
		if pols := ca.MustSwanctl("--list-pols"); !strings.Contains(pols, "x/x, TUNNEL") {
			t.Errorf("swanctl --list-pols no longer shows x/x:\n%s", pols)
		}
		ca.MustSwanctl("--uninstall", "--child", "x")
		if !ca.WaitLog(`unable to delete policy `+ikeLeftNet+` === `+ikeRightNet+` out`, 5*time.Second) {
			t.Errorf("charon's log does not say it could not delete its outbound trap:\n%s", lastLines(ca.Log(), 10))
		}
	})
	t.Run("replace", func(t *testing.T) {
		a, _, _, _ := charonTrap(t)
		a.MustEroute(erouteArgs("--replace", ikeLeftNet, ikeRightNet, "%pass", "--force")...)
		wantListed(t, a, ikeLeftNet, ikeRightNet, "%pass", "after --replace --force")
		if o := jsonEroute(t, a, ikeLeftNet, ikeRightNet); o["owner"] != "eroute" {
			t.Errorf("after --replace --force: %v, want eroute's own", o)
		}
	})
	t.Run("delin", func(t *testing.T) {
		a, _, _, _ := charonTrap(t)
		a.MustEroute(selArgs("--delin", ikeRightNet, ikeLeftNet, "--force")...)
		for _, p := range charonPolicies(a) {
			if strings.Contains(p, "dir in ") {
				t.Errorf("charon's inbound policy is still there after --delin --force: %s", p)
			}
		}
	})
	t.Run("clear-all", func(t *testing.T) {
		a, _, _, _ := charonTrap(t)
		a.MustEroute("--clear", "--all")
		if got := a.Listing(); got != "" {
			t.Errorf("listing after --clear --all:\n%s", got)
		}
		if n := len(charonPolicies(a)); n != 2 {
			t.Errorf("after --clear --all, %d of charon's policies left, want its in and fwd (2):\n%s", n, a.IPPolicies())
		}
	})
	t.Run("batch", func(t *testing.T) {
		a, _, _, _ := charonTrap(t)
		file := writeLines(t, []string{strings.Join(selArgs("--del", ikeLeftNet, ikeRightNet, "--force"), " ")})
		a.MustEroute("--batch", file)
		if _, ok := parsePolicies(a.IPPolicies())[sel]; ok {
			t.Errorf("charon's outbound trap is still there after a --batch line with --force:\n%s", a.IPPolicies())
		}
	})
}

// selArgs is an eroute command on a selector, without a SAID (--del, --delin).
func selArgs(action, src, dst string, extra ...string) []string {
	return append([]string{action, "--src", src, "--dst", dst}, extra...)
}

// An ACQUIRE of charon's trap is charon's business: the monitor reports it
// as foreign and places no hold and runs no --exec (charon acquires it and
// negotiates), while eroute's own %trap on another selector still gets
// both.
func TestCharonForeignAcquire(t *testing.T) {
	a, _, ca, _ := charonTrap(t)
	a.MustEroute(erouteArgs("--add", ikeLeftNet, ikeOtherNet, "%trap")...)
	dir := t.TempDir()
	mon := startMonitor(t, a, "--hold-timeout", "60",
		"--exec", fmt.Sprintf(`env > %[1]s/tmp.$$ && mv %[1]s/tmp.$$ %[1]s/env.$$`, dir))

	src := netip.AddrPortFrom(ikeLeftHost, 40200)
	send1(t, a, src, netip.AddrPortFrom(ikeRightHost, 5001))
	if !mon.WaitLines(1, 5*time.Second) {
		t.Fatalf("the monitor printed nothing for the ACQUIRE of charon's trap; stderr:\n%s", mon.Stderr())
	}
	if !ca.WaitLog(`IKE_SA x\[\d+\] established`, 10*time.Second) {
		t.Errorf("charon did not negotiate for its own trap; its log:\n%s", ca.Log())
	}
	// Then eroute's own trap, whose exec (run in ACQUIRE order) also says
	// the first ACQUIRE's would have run by now.
	send1(t, a, src, netip.AddrPortFrom(ikeOtherHost, 5001))
	if !mon.WaitLines(2, 5*time.Second) {
		t.Fatalf("the monitor printed %d lines for 2 ACQUIREs; stderr:\n%s", len(mon.Lines()), mon.Stderr())
	}
	if !waitFor(5*time.Second, func() bool { return len(readEnvFiles(t, dir)) >= 1 }) {
		t.Fatalf("no --exec for the ACQUIRE of eroute's own %%trap; stderr:\n%s", mon.Stderr())
	}
	time.Sleep(200 * time.Millisecond)

	lines := mon.Lines()
	foreign, own := lines[0], lines[1]
	if !strings.Contains(foreign, "foreign") || strings.Contains(foreign, "hold placed") ||
		!strings.Contains(foreign, ikeRightHost.String()) {
		t.Errorf("the monitor's line for charon's trap: %q, want it marked foreign, without a hold", foreign)
	}
	if !strings.Contains(own, "by "+ikeLeftNet+" -> "+ikeOtherNet+" => %trap; hold placed") {
		t.Errorf("the monitor's line for eroute's trap: %q, want a hold placed", own)
	}
	wantBlockPolicy(t, a, host(ikeLeftHost), host(ikeRightHost), false, "after the ACQUIRE of charon's trap")
	wantListed(t, a, host(ikeLeftHost), host(ikeRightHost), "", "after the ACQUIRE of charon's trap")
	wantBlockPolicy(t, a, host(ikeLeftHost), host(ikeOtherHost), true, "after the ACQUIRE of eroute's trap")
	envs := readEnvFiles(t, dir)
	if len(envs) != 1 || envs[0]["EROUTE_DST"] != ikeOtherHost.String() || envs[0]["EROUTE_TRAP_DST"] != ikeOtherNet {
		t.Errorf("--exec ran for %v, want once, for eroute's own trap (%s)", envs, ikeOtherNet)
	}
}

// takeOver puts eroute's %trap on ikeLeftNet -> ikeRightNet, then charon
// installs its trap for the same selector: it finds the selector taken and
// replaces eroute's policy ("policy already exists, try to update it").
func takeOver(t *testing.T, a *NS, ca *Charon) {
	t.Helper()
	a.MustEroute(erouteArgs("--add", ikeLeftNet, ikeRightNet, "%trap")...)
	left, _ := tunnelConns("x", "trap")
	ca.Load(left)
	if !ca.WaitLog(`policy already exists, try to update it`, 5*time.Second) {
		t.Errorf("charon's log does not say it found the selector taken:\n%s", ca.Log())
	}
	p, ok := parsePolicies(a.IPPolicies())["src "+ikeLeftNet+" dst "+ikeRightNet]
	if !ok || p.priority >= 1<<24 || !strings.Contains(p.text, "reqid 1 mode tunnel") {
		t.Fatalf("after charon's install, the outbound policy is %q, want charon's (priority below 2^24, reqid 1)", p.text)
	}
}

// untrapped sends a datagram of the flow ikeLeftHost -> ikeRightHost and
// counts its packets on the veth: in the clear, when the selector is empty.
func untrapped(t *testing.T, a, b *NS) int {
	t.Helper()
	c := ikeCapture(t, a, b)
	send1(t, a, netip.AddrPortFrom(ikeLeftHost, 40300), netip.AddrPortFrom(ikeRightHost, 5001))
	settle()
	n := c.Count(func(p Packet) bool { return p.Dst == ikeRightHost })
	c.Stop()
	return n
}

// Without a monitor, what the issue measured: charon takes eroute's
// selector over, and when it removes its policy it deletes by selector, so
// the selector is empty and the flow leaves in the clear (DESIGN.md,
// "Next to an IKE daemon").
func TestCharonTakeOverWithoutMonitor(t *testing.T) {
	a, b := ikePair(t)
	ca := startCharon(t, a)
	takeOver(t, a, ca)
	ca.MustSwanctl("--uninstall", "--child", "x")
	if p, ok := parsePolicies(a.IPPolicies())["src "+ikeLeftNet+" dst "+ikeRightNet]; ok {
		t.Fatalf("after charon's uninstall the selector holds %q; the kernel and charon changed?", p.text)
	}
	wantListed(t, a, ikeLeftNet, ikeRightNet, "", "after charon's uninstall")
	if n := untrapped(t, a, b); n != 1 {
		t.Errorf("%d packets of the flow on the veth in the clear, want 1 (nothing protects the selector)", n)
	}
}

// Without a monitor, a broader eroute under the daemon's selector is the
// safety net: charon takes the exact selector over and deletes it when it
// goes, but the broader %trap still matches the flow, so nothing leaves in
// the clear.
func TestCharonTakeOverBroaderTrapHolds(t *testing.T) {
	a, b := ikePair(t)
	ca := startCharon(t, a)
	a.MustEroute(erouteArgs("--add", ikeLeftNet, "10.77.0.0/16", "%trap")...)
	takeOver(t, a, ca)
	ca.MustSwanctl("--uninstall", "--child", "x")
	wantListed(t, a, ikeLeftNet, ikeRightNet, "", "after charon's uninstall")
	wantListed(t, a, ikeLeftNet, "10.77.0.0/16", "%trap", "after charon's uninstall")
	if n := untrapped(t, a, b); n != 0 {
		t.Errorf("%d packets of the flow on the veth in the clear under the broader %%trap, want 0", n)
	}
}

// After --force the daemon still believes the selector is its own: when it
// removes its trap it deletes by selector, eroute's policy included, and the
// flow leaves in the clear (DESIGN.md, "Next to an IKE daemon").
func TestCharonDeletesForcedEroute(t *testing.T) {
	a, b, ca, _ := charonTrap(t)
	a.MustEroute(erouteArgs("--replace", ikeLeftNet, ikeRightNet, "%trap", "--force")...)
	if o := jsonEroute(t, a, ikeLeftNet, ikeRightNet); o["owner"] != "eroute" {
		t.Fatalf("after --replace --force: %v, want eroute's own %%trap", o)
	}
	ca.MustSwanctl("--uninstall", "--child", "x")
	wantListed(t, a, ikeLeftNet, ikeRightNet, "", "after charon's uninstall")
	if n := untrapped(t, a, b); n != 1 {
		t.Errorf("%d packets of the flow on the veth in the clear, want 1 (charon deleted eroute's %%trap)", n)
	}
}

// With a monitor running, the %trap comes back as soon as charon removes
// its policy: the selector is never left empty, and the next packet of the
// flow is trapped, not sent in the clear.
func TestCharonTakeOverMonitorRestores(t *testing.T) {
	a, b := ikePair(t)
	ca := startCharon(t, a)
	mon := startMonitor(t, a, "--hold-timeout", "60")
	takeOver(t, a, ca)
	ca.MustSwanctl("--uninstall", "--child", "x")
	sel := "src " + ikeLeftNet + " dst " + ikeRightNet
	if !waitFor(2*time.Second, func() bool {
		p, ok := parsePolicies(a.IPPolicies())[sel]
		return ok && p.priority >= 1<<24
	}) {
		t.Fatalf("the monitor did not put the %%trap back within 2s:\n%s\nmonitor stderr:\n%s", a.IPPolicies(), mon.Stderr())
	}
	wantListed(t, a, ikeLeftNet, ikeRightNet, "%trap", "after charon's uninstall, with a monitor")
	if o := jsonEroute(t, a, ikeLeftNet, ikeRightNet); o["owner"] != "eroute" {
		t.Errorf("the restored %%trap: %v, want eroute's own", o)
	}
	if n := untrapped(t, a, b); n != 0 {
		t.Errorf("%d packets of the flow on the veth in the clear after charon left, want 0", n)
	}
}

// charon leaves net.core.xfrm_acq_expires at 165 in its namespace; a
// monitor whose holds time out sooner says so once when it starts.
func TestCharonAcqExpiresWarning(t *testing.T) {
	a, _ := ikePair(t)
	startCharon(t, a)
	if got := sysctlValue(t, a, "net.core.xfrm_acq_expires"); got != 165 {
		t.Fatalf("net.core.xfrm_acq_expires with charon: %d, want 165", got)
	}
	quiet := startMonitor(t, a, "--hold-timeout", "200")
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(quiet.Stderr(), "xfrm_acq_expires") {
		t.Errorf("a monitor with --hold-timeout 200 warns about xfrm_acq_expires 165:\n%s", quiet.Stderr())
	}
	quiet.Signal(syscall.SIGTERM)
	quiet.WaitExit(5 * time.Second)
	mon := startMonitor(t, a, "--hold-timeout", "30")
	if !mon.WaitStderr("xfrm_acq_expires", 2*time.Second) {
		t.Fatalf("a monitor with --hold-timeout 30 under xfrm_acq_expires 165 did not warn:\n%s", mon.Stderr())
	}
	time.Sleep(300 * time.Millisecond)
	if n := strings.Count(mon.Stderr(), "xfrm_acq_expires"); n != 1 || !strings.Contains(mon.Stderr(), "165") {
		t.Errorf("monitor stderr:\n%s\nwant one warning naming the value 165", mon.Stderr())
	}
}
