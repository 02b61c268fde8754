package integration

// eroute next to strongSwan's charon on one policy table (issue 9): the
// harness of charon_test.go, two gateways a and b joined by a veth, one
// charon each, IKEv2 with a pre-shared key.

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
	if strings.Contains(ca.Log(), "trap not found, unable to acquire reqid 0") {
		t.Logf("charon, on the ACQUIRE of eroute's %%trap: trap not found, unable to acquire reqid 0")
	}
	// Nothing of the flow in the clear.
	if n := c.Count(func(p Packet) bool { return p.Dst == ikeRightHost }); n != 0 {
		t.Errorf("%d packets of the flow on the veth in the clear", n)
	}
}
