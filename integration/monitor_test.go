package integration

// `eroute --monitor`, the key-manager side of %trap, run as a child process
// against the real kernel. What it prints is read from its pipes line by
// line while it runs; what it does is read back by eroute's listing, by
// `ip xfrm policy` (the independent reader of the table), by `ip xfrm
// monitor acquire` (an independent ACQUIRE listener) and by a socket at the
// receiving end.
//
// Most tests use one namespace with a veth pair whose ends are both inside
// it (trapNS): the first end carries 10.66.0.1/24 and fd00:66::1/64, so a
// datagram to any other address of those subnets is routed out of it and
// meets the %trap eroute on its way; nothing needs to answer.
//
// Kernel facts these tests rely on (Linux 6.18):
//   - While some socket has joined XFRMNLGRP_ACQUIRE, a packet that meets a
//     %trap policy gives one ACQUIRE, and the kernel makes a larval state
//     (same addresses, whatever the ports) that stops further ACQUIREs for
//     net.core.xfrm_acq_expires seconds, a per-namespace sysctl.
//   - A block policy makes the local send() (or connect()) fail with EPERM.
//   - `ip -s xfrm policy` shows a policy's "expire add: ... hard N(sec)",
//     and /proc/net/netlink shows each netlink socket's groups, drops and
//     inode.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The addresses of trapNS.
var (
	trapLocal4 = netip.MustParseAddr("10.66.0.1")
	trapLocal6 = netip.MustParseAddr("fd00:66::1")
)

const (
	trapNet4 = "10.66.0.0/24"
	trapNet6 = "fd00:66::/64"
)

// trapNS makes a namespace whose veth end "va" has trapLocal4/24 and
// trapLocal6/64, its peer "vb" in the same namespace, and puts the %trap
// eroutes trapNet4 -> trapNet4 and trapNet6 -> trapNet6 in place.
func trapNS(t *testing.T) *NS {
	t.Helper()
	ns := newNS(t, "")
	ns.IP("link", "set", "dev", "lo", "up")
	ns.IP("link", "add", "va", "type", "veth", "peer", "name", "vb")
	ns.IP("addr", "add", trapLocal4.String()+"/24", "dev", "va")
	ns.IP("addr", "add", trapLocal6.String()+"/64", "dev", "va", "nodad")
	ns.IP("link", "set", "dev", "va", "up")
	ns.IP("link", "set", "dev", "vb", "up")
	ns.MustEroute(erouteArgs("--add", trapNet4, trapNet4, "%trap")...)
	ns.MustEroute(erouteArgs("--add", trapNet6, trapNet6, "%trap")...)
	return ns
}

// in4 is 10.66.0.N, an address of trapNet4 that nobody has.
func in4(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 66, 0, byte(n)}) }

// sysctl sets a sysctl inside ns (net.core.xfrm_* are per namespace).
func sysctl(t *testing.T, ns *NS, setting string) {
	t.Helper()
	run(t, "ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w", setting)
}

// sendUDP sends one datagram from src to each of dsts, each from a socket of
// its own made inside ns, and gives the errors (of connect or of send).
func sendUDP(t *testing.T, ns *NS, src netip.AddrPort, dsts ...netip.AddrPort) []error {
	t.Helper()
	errs := make([]error, len(dsts))
	inNS(t, ns, func() {
		for i, dst := range dsts {
			c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(src), net.UDPAddrFromAddrPort(dst))
			if err != nil {
				errs[i] = err
				continue
			}
			_, errs[i] = c.Write([]byte("eroute monitor test"))
			c.Close()
		}
	})
	return errs
}

// send1 sends one datagram from src to dst and logs what send() said but
// EPERM, which is what a block policy (the monitor's hold, put in place
// as soon as connect() gave the ACQUIRE) answers.
func send1(t *testing.T, ns *NS, src, dst netip.AddrPort) {
	t.Helper()
	if err := sendUDP(t, ns, src, dst)[0]; err != nil && !errors.Is(err, syscall.EPERM) {
		t.Logf("udp %v -> %v: %v", src, dst, err)
	}
}

// monLine is one line of the monitor's output, with when it was read.
type monLine struct {
	text string
	at   time.Time
}

// MonitorProc is a running `eroute --monitor`: its stdout and stderr are
// pipes read line by line as the lines come.
type MonitorProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout []monLine
	stderr []monLine
	exited chan struct{} // closed when the process has been waited for
	state  *os.ProcessState
	read   sync.WaitGroup // the two pipe readers
}

// startMonitor runs `eroute --netns NS --monitor ARGS...` and waits until
// it has joined the ACQUIRE group.
func startMonitor(t *testing.T, ns *NS, args ...string) *MonitorProc {
	t.Helper()
	m := spawnMonitor(t, append([]string{eroutePath, "--netns", ns.Name, "--monitor"}, args...))
	m.waitSubscribed(ns)
	return m
}

// spawnMonitor starts argv in a process group of its own (so that the
// cleanup also ends the commands an --exec left running) and reads its
// output; the process, and its group, is killed when the test ends.
func spawnMonitor(t *testing.T, argv []string) *MonitorProc {
	t.Helper()
	rOut, wOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// *os.File: the child writes straight into the pipes, and Wait does not
	// wait for them (an --exec command may hold them open longer).
	cmd.Stdout, cmd.Stderr = wOut, wErr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	wOut.Close()
	wErr.Close()
	m := &MonitorProc{t: t, cmd: cmd, exited: make(chan struct{})}
	for _, p := range []struct {
		r    *os.File
		dest *[]monLine
	}{{rOut, &m.stdout}, {rErr, &m.stderr}} {
		m.read.Add(1)
		go func() {
			defer m.read.Done()
			defer p.r.Close()
			sc := bufio.NewScanner(p.r)
			for sc.Scan() {
				m.mu.Lock()
				*p.dest = append(*p.dest, monLine{sc.Text(), time.Now()})
				m.mu.Unlock()
			}
		}()
	}
	go func() {
		cmd.Wait()
		m.mu.Lock()
		m.state = cmd.ProcessState
		m.mu.Unlock()
		close(m.exited)
	}()
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		syscall.Kill(-pid, syscall.SIGKILL) // the group: eroute and its --exec children
		select {
		case <-m.exited:
		case <-time.After(5 * time.Second):
			t.Errorf("eroute --monitor (pid %d) did not end on SIGKILL", pid)
		}
		m.drain(2 * time.Second)
		if t.Failed() {
			t.Logf("monitor stdout:\n%s\nmonitor stderr:\n%s", m.Stdout(), m.Stderr())
		}
	})
	return m
}

// drain waits for both pipes to reach end of file.
func (m *MonitorProc) drain(d time.Duration) bool {
	done := make(chan struct{})
	go func() { m.read.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// waitSubscribed waits until one of the monitor's own sockets is a
// NETLINK_XFRM socket of ns that has joined XFRMNLGRP_ACQUIRE (group bit
// 0): from then on the kernel sends it every ACQUIRE of ns.
func (m *MonitorProc) waitSubscribed(ns *NS) {
	m.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mine := socketInodesOf(m.cmd.Process.Pid)
		for inode := range acquireSockets(m.t, ns) {
			if mine[inode] {
				return
			}
		}
		select {
		case <-m.exited:
			m.drain(time.Second)
			m.t.Fatalf("eroute --monitor ended before listening: %v\nstderr:\n%s", m.state, m.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("eroute --monitor did not join the ACQUIRE group of %s within 5s\nstderr:\n%s", ns.Name, m.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// socketInodesOf gives the inodes of the sockets process pid has open.
func socketInodesOf(pid int) map[string]bool {
	inodes := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		link, _ := os.Readlink(filepath.Join(dir, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes
}

// netlinkSock is one NETLINK_XFRM socket of /proc/net/netlink.
type netlinkSock struct {
	groups uint64
	drops  int64
}

// acquireSockets gives, by inode, the NETLINK_XFRM sockets of ns that have
// joined XFRMNLGRP_ACQUIRE, as the namespace's /proc/net/netlink shows them
// (sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode).
func acquireSockets(t *testing.T, ns *NS) map[string]netlinkSock {
	t.Helper()
	out := run(t, "ip", "netns", "exec", ns.Name, "cat", "/proc/net/netlink")
	socks := map[string]netlinkSock{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[1] != "6" {
			continue
		}
		groups, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || groups&1 == 0 {
			continue
		}
		drops, _ := strconv.ParseInt(f[8], 10, 64)
		socks[f[9]] = netlinkSock{groups, drops}
	}
	return socks
}

// Stdout is what the monitor printed on standard output so far.
func (m *MonitorProc) Stdout() string { return joinLines(m.Lines()) }

// Stderr is what the monitor printed on standard error so far.
func (m *MonitorProc) Stderr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var texts []string
	for _, l := range m.stderr {
		texts = append(texts, l.text)
	}
	return joinLines(texts)
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// Lines gives the stdout lines so far.
func (m *MonitorProc) Lines() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var texts []string
	for _, l := range m.stdout {
		texts = append(texts, l.text)
	}
	return texts
}

// linesAt gives the stdout lines so far with the time each was read.
func (m *MonitorProc) linesAt() []monLine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]monLine(nil), m.stdout...)
}

// WaitLines waits until the monitor has printed at least n stdout lines.
func (m *MonitorProc) WaitLines(n int, d time.Duration) bool {
	return waitFor(d, func() bool { return len(m.Lines()) >= n })
}

// WaitStderr waits until standard error contains s.
func (m *MonitorProc) WaitStderr(s string, d time.Duration) bool {
	return waitFor(d, func() bool { return strings.Contains(m.Stderr(), s) })
}

// Running reports whether the process has not ended.
func (m *MonitorProc) Running() bool {
	select {
	case <-m.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the monitor process (not its group).
func (m *MonitorProc) Signal(sig syscall.Signal) {
	m.t.Helper()
	if err := m.cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("signal %v to eroute --monitor: %v", sig, err)
	}
}

// WaitExit waits for the process to end and for its output, and gives its
// state (nil if it did not end within d).
func (m *MonitorProc) WaitExit(d time.Duration) *os.ProcessState {
	select {
	case <-m.exited:
	case <-time.After(d):
		return nil
	}
	m.drain(time.Second)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// end returns ADDR/BITS or, with a port, ADDR/BITS:PORT for IPv4 and
// [ADDR/BITS]:PORT for IPv6: the listing's notation, written out here
// independently of pkg/eroute.
func end(p netip.Prefix, port uint16) string {
	switch {
	case port == 0:
		return p.String()
	case p.Addr().Is6():
		return "[" + p.String() + "]:" + strconv.Itoa(int(port))
	default:
		return p.String() + ":" + strconv.Itoa(int(port))
	}
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// acquireText is an ACQUIRE line without its time: a UDP flow trapped by
// the %trap eroute trapSrc -> trapDst (no protocol, no ports).
func acquireText(src, dst netip.AddrPort, trapSrc, trapDst string, hold string) string {
	return fmt.Sprintf("acquire %s -> %s => %%trap:17 by %s -> %s => %%trap; hold %s",
		end(hostPrefix(src.Addr()), src.Port()), end(hostPrefix(dst.Addr()), dst.Port()), trapSrc, trapDst, hold)
}

var lineTimeRE = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) (.*)$`)

// checkAcquireLine requires line to be "TIME want", TIME the local time of
// the ACQUIRE to within a few seconds.
func checkAcquireLine(t *testing.T, line, want string) {
	t.Helper()
	m := lineTimeRE.FindStringSubmatch(line)
	if m == nil {
		t.Errorf("acquire line %q does not start with a time YYYY-MM-DDTHH:MM:SS", line)
		return
	}
	if m[2] != want {
		t.Errorf("acquire line\n\t%q\nwant\n\t%q", m[2], want)
	}
	at, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], time.Local)
	if err != nil {
		t.Errorf("acquire line time %q: %v", m[1], err)
	} else if d := time.Since(at); d < -2*time.Second || d > 10*time.Second {
		t.Errorf("acquire line time %q is %v from now, want the time of the ACQUIRE", m[1], d)
	}
}

// listedSAIDs gives the SAIDs the listing shows for the selector src -> dst
// (as the listing prints them, ports included).
func listedSAIDs(listing, src, dst string) []string {
	var saids []string
	for _, l := range strings.Split(listing, "\n") {
		f := strings.Fields(l)
		if len(f) == 6 && f[1] == src && f[2] == "->" && f[3] == dst && f[4] == "=>" {
			saids = append(saids, f[5])
		}
	}
	return saids
}

// wantListed requires the listing to show exactly one eroute src -> dst,
// with said, or none at all when said is "".
func wantListed(t *testing.T, ns *NS, src, dst, said, when string) {
	t.Helper()
	listing := ns.Listing()
	got := listedSAIDs(listing, src, dst)
	switch {
	case said == "" && len(got) != 0:
		t.Errorf("%s: the listing shows %s -> %s => %v, want no such eroute:\n%s", when, src, dst, got, listing)
	case said != "" && (len(got) != 1 || got[0] != said):
		t.Errorf("%s: the listing shows %s -> %s => %v, want exactly %s:\n%s", when, src, dst, got, said, listing)
	}
}

// ipPolicy gives the `ip xfrm policy` entry (dir out) whose selector line is
// exactly "src SRC dst DST", folded to one line.
func ipPolicy(t *testing.T, ns *NS, src, dst string) (string, bool) {
	t.Helper()
	p, ok := parsePolicies(ns.IPPolicies())["src "+src+" dst "+dst]
	return p.text, ok
}

var addExpiryRE = regexp.MustCompile(`expire add: soft \d+\(sec\), (hard \d+\(sec\))`)

// addExpiry gives the "hard N(sec)" add expiry `ip -s xfrm policy` shows
// for the policy src -> dst ("" if there is none).
func addExpiry(t *testing.T, ns *NS, src, dst string) string {
	t.Helper()
	for _, block := range splitPolicyBlocks(run(t, "ip", "-s", "-n", ns.Name, "xfrm", "policy", "list")) {
		if strings.HasPrefix(block, "src "+src+" dst "+dst+" ") && strings.Contains(block, "dir out") {
			if m := addExpiryRE.FindStringSubmatch(block); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

// wantBlockPolicy requires (block) or forbids (!block) a block policy for
// the selector src -> dst in `ip xfrm policy`.
func wantBlockPolicy(t *testing.T, ns *NS, src, dst string, block bool, when string) {
	t.Helper()
	text, ok := ipPolicy(t, ns, src, dst)
	isBlock := ok && strings.Contains(text, "action block")
	if isBlock != block {
		t.Errorf("%s: ip xfrm policy for src %s dst %s: %q (present %v), want a block policy: %v\n%s",
			when, src, dst, text, ok, block, ns.IPPolicies())
	}
}

// wantTrapPolicy requires the %trap policy trapNet -> trapNet: an allow
// policy with an ESP template.
func wantTrapPolicy(t *testing.T, ns *NS, trapNet, when string) {
	t.Helper()
	text, ok := ipPolicy(t, ns, trapNet, trapNet)
	if !ok || strings.Contains(text, "action block") || !strings.Contains(text, "proto esp") {
		t.Errorf("%s: ip xfrm policy for the %%trap %s: %q, want the allow policy with its ESP template", when, trapNet, text)
	}
}

// 1. One line per trapped flow, printed at once, with a %hold for the two
// hosts that the listing and ip xfrm both show; no repeat for the flow or
// for other ports between the same hosts; nothing in the clear.
func TestMonitorTrapOneLine(t *testing.T) {
	a, b := newPair(t)
	src, dst := netip.AddrPortFrom(pairA4, 40001), netip.AddrPortFrom(pairB4, udpPort)
	rcv := listenUDP(t, b, pairB4, udpPort)
	rcvOther := listenUDP(t, b, pairB4, udpPort+1)
	snd := dialUDP(t, a, src.Addr(), src.Port(), dst.Addr(), dst.Port())
	// Another port between the same hosts, connected now: under the hold
	// connect() would fail.
	other := dialUDP(t, a, pairA4, 40002, pairB4, udpPort+1)
	// Positive control: the flow arrives before the %trap.
	if err := snd.Send(1); err != nil {
		t.Fatalf("control send: %v", err)
	}
	if !waitFor(5*time.Second, func() bool { return rcv.Count() == 1 }) {
		t.Fatalf("control: the receiver got %d datagrams, want 1", rcv.Count())
	}
	trapNet := subnet(pairA4) // A and B share it
	a.MustEroute(erouteArgs("--add", trapNet, trapNet, "%trap")...)

	mon := startMonitor(t, a, "--hold-timeout", "30")
	mine := acquireSockets(t, a)
	indep := monitorAcquire(t, a)
	// monitorAcquire is satisfied by the monitor's own subscription: wait
	// for a second subscriber, ip's.
	if !waitFor(5*time.Second, func() bool { return len(acquireSockets(t, a)) > len(mine) }) {
		t.Fatalf("ip xfrm monitor acquire did not join the ACQUIRE group")
	}
	// Negative control: no line before any packet.
	if lines := mon.Lines(); len(lines) != 0 {
		t.Fatalf("the monitor printed %q before any packet", lines)
	}
	wantListed(t, a, host(pairA4), host(pairB4), "", "before the first packet")
	wantBlockPolicy(t, a, host(pairA4), host(pairB4), false, "before the first packet")

	sent := time.Now()
	if err := snd.Send(1); err != nil {
		t.Logf("first send under %%trap: %v", err)
	}
	if !mon.WaitLines(1, 3*time.Second) {
		t.Fatalf("no acquire line within 3s of the first packet; stderr:\n%s", mon.Stderr())
	}
	lines := mon.linesAt()
	if !mon.Running() {
		t.Errorf("the monitor ended after the first ACQUIRE: %v", mon.WaitExit(time.Second))
	}
	t.Logf("acquire line read %v after the first packet, while the monitor runs: %s", lines[0].at.Sub(sent).Round(time.Millisecond), lines[0].text)
	checkAcquireLine(t, lines[0].text, acquireText(src, dst, trapNet, trapNet, "placed"))

	wantListed(t, a, host(pairA4), host(pairB4), "%hold", "after the ACQUIRE")
	wantListed(t, a, trapNet, trapNet, "%trap", "after the ACQUIRE")
	wantBlockPolicy(t, a, host(pairA4), host(pairB4), true, "after the ACQUIRE")
	wantTrapPolicy(t, a, trapNet, "after the ACQUIRE")

	// Later packets of the flow, and another port between the same hosts.
	for i := 0; i < 5; i++ {
		if err := snd.Send(1); err != nil && i == 0 {
			t.Logf("same flow under the hold: %v", err)
		}
		if err := other.Send(1); err != nil && i == 0 {
			t.Logf("other ports under the hold: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // room for a repeat to show
	if lines := mon.Lines(); len(lines) != 1 {
		t.Errorf("%d acquire lines after 11 packets of two flows between the same hosts, want exactly 1:\n%s", len(lines), mon.Stdout())
	}
	if acq := indep.Messages(); len(acq) != 1 || len(indep.For(pairA4, pairB4)) != 1 {
		t.Errorf("ip xfrm monitor saw %d ACQUIREs, want exactly 1, for %v -> %v:\n%s", len(acq), pairA4, pairB4, strings.Join(acq, "\n---\n"))
	} else if want := fmt.Sprintf("sport %d dport %d", src.Port(), dst.Port()); !strings.Contains(acq[0], want) {
		t.Errorf("the independent ACQUIRE is not the first flow's (%q):\n%s", want, acq[0])
	}
	settle()
	if n, m := rcv.Count(), rcvOther.Count(); n != 1 || m != 0 {
		t.Errorf("the receiver got %d datagrams of the flow (want only the control's 1) and %d of the other ports (want 0)", n, m)
	}
	if s := mon.Stderr(); s != "" {
		t.Errorf("the monitor wrote on stderr, want nothing:\n%s", s)
	}
}

// 2. A hold lives --hold-timeout seconds, then the kernel removes it, the
// monitor says so, and the %trap fires again. A hold that was replaced
// meanwhile is not the monitor's any more and stays.
func TestMonitorHoldTimeout(t *testing.T) {
	ns := trapNS(t)
	// The larval state must not outlive the hold, or it would stop the
	// second ACQUIRE of the flow.
	sysctl(t, ns, "net.core.xfrm_acq_expires=1")
	mon := startMonitor(t, ns, "--hold-timeout", "2")
	flowA := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40001), netip.AddrPortFrom(in4(7), 53)}
	flowB := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40002), netip.AddrPortFrom(in4(8), 53)}
	holdA := [2]string{host(trapLocal4), host(in4(7))}
	holdB := [2]string{host(trapLocal4), host(in4(8))}

	placed := time.Now()
	send1(t, ns, flowA[0], flowA[1])
	send1(t, ns, flowB[0], flowB[1])
	if !mon.WaitLines(2, 3*time.Second) {
		t.Fatalf("want 2 acquire lines, got:\n%s", mon.Stdout())
	}
	lines := mon.Lines()
	checkAcquireLine(t, lines[0], acquireText(flowA[0], flowA[1], trapNet4, trapNet4, "placed"))
	checkAcquireLine(t, lines[1], acquireText(flowB[0], flowB[1], trapNet4, trapNet4, "placed"))
	wantListed(t, ns, holdA[0], holdA[1], "%hold", "after the ACQUIRE")
	// The kernel holds the timeout: the policy's hard add expiry.
	if exp := addExpiry(t, ns, holdA[0], holdA[1]); exp != "hard 2(sec)" {
		t.Errorf("ip -s xfrm policy: the hold's add expiry is %q, want \"hard 2(sec)\"", exp)
	}
	if exp := addExpiry(t, ns, trapNet4, trapNet4); exp != "hard 0(sec)" {
		t.Errorf("ip -s xfrm policy: the %%trap's add expiry is %q, want \"hard 0(sec)\" (none)", exp)
	}
	// B's hold is replaced: now it is an eroute of someone else.
	ns.MustEroute(erouteArgs("--replace", holdB[0], holdB[1], "%drop")...)
	wantListed(t, ns, holdB[0], holdB[1], "%drop", "after --replace")

	// Negative control: one second in, the hold is still there.
	time.Sleep(time.Until(placed.Add(time.Second)))
	wantListed(t, ns, holdA[0], holdA[1], "%hold", "1s into a 2s hold")
	if s := mon.Stderr(); strings.Contains(s, "timed out") {
		t.Errorf("a timeout note 1s into a 2s hold:\n%s", s)
	}

	noteA := "%hold " + holdA[0] + " -> " + holdA[1] + " timed out and was removed; the %trap fires again"
	if !mon.WaitStderr(noteA, 5*time.Second) {
		t.Fatalf("no note %q within 6s of the ACQUIRE; stderr:\n%s", noteA, mon.Stderr())
	}
	t.Logf("hold timed out %v after it was placed: %s", time.Since(placed).Round(100*time.Millisecond), strings.TrimSpace(mon.Stderr()))
	time.Sleep(300 * time.Millisecond) // room for a note about B, which must not come
	wantListed(t, ns, holdA[0], holdA[1], "", "after the hold timed out")
	wantBlockPolicy(t, ns, holdA[0], holdA[1], false, "after the hold timed out")
	wantListed(t, ns, holdB[0], holdB[1], "%drop", "after the timeout of the replaced hold")
	wantBlockPolicy(t, ns, holdB[0], holdB[1], true, "after the timeout of the replaced hold")
	if s := mon.Stderr(); strings.Contains(s, holdB[1]) || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr after the timeouts, want the one note about %s only:\n%s", holdA[1], s)
	}
	if n := len(mon.Lines()); n != 2 {
		t.Errorf("%d acquire lines before the flow is sent again, want 2:\n%s", n, mon.Stdout())
	}

	// The %trap fires again for A; B stays dropped, without an ACQUIRE.
	if !waitFor(3*time.Second, func() bool { return !strings.Contains(ns.IP("xfrm", "state"), "dst "+in4(7).String()) }) {
		t.Logf("A's larval state is still there:\n%s", ns.IP("xfrm", "state"))
	}
	send1(t, ns, flowA[0], flowA[1])
	send1(t, ns, flowB[0], flowB[1])
	if !mon.WaitLines(3, 3*time.Second) {
		t.Fatalf("no second acquire line for %v after the hold timed out:\n%s", flowA, mon.Stdout())
	}
	time.Sleep(300 * time.Millisecond)
	lines = mon.Lines()
	if len(lines) != 3 {
		t.Errorf("%d acquire lines, want 3 (A, B, A again):\n%s", len(lines), mon.Stdout())
	}
	checkAcquireLine(t, lines[2], acquireText(flowA[0], flowA[1], trapNet4, trapNet4, "placed"))
	wantListed(t, ns, holdA[0], holdA[1], "%hold", "after the second ACQUIRE")
	wantListed(t, ns, holdB[0], holdB[1], "%drop", "at the end")
}

// acquireJSON is one --json line, as pkg/cli/monitor.go documents it.
type acquireJSON struct {
	Time    string `json:"time"`
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Proto   int    `json:"proto"`
	SrcPort int    `json:"src_port"`
	DstPort int    `json:"dst_port"`
	Eroute  struct {
		Count   int    `json:"count"`
		Src     string `json:"src"`
		Dst     string `json:"dst"`
		SrcPort int    `json:"src_port"`
		DstPort int    `json:"dst_port"`
		Proto   int    `json:"proto"`
		SAID    string `json:"said"`
	} `json:"eroute"`
	Hold        string  `json:"hold"`
	HoldSrc     string  `json:"hold_src"`
	HoldDst     string  `json:"hold_dst"`
	HoldTimeout float64 `json:"hold_timeout"`
}

// 3. --json: one object a line and an ACQUIRE, with the documented fields.
// The second flow meets a %trap that names a protocol and a port; its hold
// is narrowed to the flow's ports, as the design says.
func TestMonitorJSON(t *testing.T) {
	ns := trapNS(t)
	narrowDst := in4(60)
	ns.MustEroute(erouteArgs("--add", host(trapLocal4), host(narrowDst), "%trap", "--transport-proto", "17", "--dst-port", "53")...)
	sysctl(t, ns, "net.core.xfrm_acq_expires=7") // no warning: the holds live as long
	mon := startMonitor(t, ns, "--json", "--hold-timeout", "7")
	flows := [][2]netip.AddrPort{
		{netip.AddrPortFrom(trapLocal4, 40011), netip.AddrPortFrom(in4(11), 5353)},
		{netip.AddrPortFrom(trapLocal4, 40012), netip.AddrPortFrom(narrowDst, 53)},
	}
	for _, f := range flows {
		send1(t, ns, f[0], f[1])
		send1(t, ns, f[0], f[1]) // a repeat, which must not give an object
	}
	if !mon.WaitLines(2, 3*time.Second) {
		t.Fatalf("want 2 JSON lines, got:\n%s", mon.Stdout())
	}
	time.Sleep(300 * time.Millisecond)
	lines := mon.Lines()
	if len(lines) != 2 {
		t.Fatalf("%d stdout lines for 2 flows, want 2 (one object an ACQUIRE):\n%s", len(lines), mon.Stdout())
	}
	wantKeys := []string{"time", "src", "dst", "proto", "src_port", "dst_port", "eroute", "hold", "hold_src", "hold_dst", "hold_timeout"}
	for i, line := range lines {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
		}
		for _, k := range wantKeys {
			if _, ok := raw[k]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, k, line)
			}
		}
		var got acquireJSON
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		f := flows[i]
		if at, err := time.Parse(time.RFC3339Nano, got.Time); err != nil || time.Since(at) > 10*time.Second || time.Since(at) < -2*time.Second {
			t.Errorf("line %d: time %q (%v), want the RFC 3339 time of the ACQUIRE", i+1, got.Time, err)
		}
		if got.Src != f[0].Addr().String() || got.Dst != f[1].Addr().String() || got.Proto != 17 ||
			got.SrcPort != int(f[0].Port()) || got.DstPort != int(f[1].Port()) {
			t.Errorf("line %d: flow %s:%d -> %s:%d proto %d, want %v -> %v proto 17", i+1, got.Src, got.SrcPort, got.Dst, got.DstPort, got.Proto, f[0], f[1])
		}
		if got.Hold != "placed" || got.HoldSrc != host(f[0].Addr()) || got.HoldDst != host(f[1].Addr()) || got.HoldTimeout != 7 {
			t.Errorf("line %d: hold %q %s -> %s timeout %v, want placed %s -> %s timeout 7",
				i+1, got.Hold, got.HoldSrc, got.HoldDst, got.HoldTimeout, host(f[0].Addr()), host(f[1].Addr()))
		}
		e := got.Eroute
		if e.SAID != "%trap" {
			t.Errorf("line %d: eroute.said %q, want %%trap", i+1, e.SAID)
		}
		switch i {
		case 0:
			if e.Src != trapNet4 || e.Dst != trapNet4 || e.Proto != 0 || e.SrcPort != 0 || e.DstPort != 0 {
				t.Errorf("line 1: eroute %+v, want the %%trap %s -> %s", e, trapNet4, trapNet4)
			}
		case 1:
			if e.Src != host(trapLocal4) || e.Dst != host(narrowDst) || e.Proto != 17 || e.SrcPort != 0 || e.DstPort != 53 {
				t.Errorf("line 2: eroute %+v, want the %%trap %s -> %s:53 proto 17", e, host(trapLocal4), host(narrowDst))
			}
		}
	}
	wantListed(t, ns, host(trapLocal4), host(in4(11)), "%hold", "after the first ACQUIRE")
	// The narrow trap's hold: its protocol and port, narrowed by the flow's
	// source port so that it does not replace the %trap itself.
	wantListed(t, ns, host(trapLocal4)+":40012", host(narrowDst)+":53", "%hold:17", "after the second ACQUIRE")
	wantListed(t, ns, host(trapLocal4), host(narrowDst)+":53", "%trap:17", "after the second ACQUIRE")
	if s := mon.Stderr(); s != "" {
		t.Errorf("stderr, want nothing:\n%s", s)
	}
}

// readEnvFiles reads the files env.* of dir, KEY=VALUE lines, keeping the
// EROUTE_ variables.
func readEnvFiles(t *testing.T, dir string) []map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "env.*"))
	var envs []map[string]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "EROUTE_") {
				env[k] = v
			}
		}
		envs = append(envs, env)
	}
	return envs
}

// 4. --exec: the command gets the ACQUIRE in its environment, runs for each
// ACQUIRE, may fail without ending the monitor, and never delays it.
func TestMonitorExec(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		ns := trapNS(t)
		dir := t.TempDir()
		// Written to a temporary name and renamed, so that a file is whole
		// once it is there.
		mon := startMonitor(t, ns, "--exec", fmt.Sprintf(`env > %[1]s/tmp.$$ && mv %[1]s/tmp.$$ %[1]s/env.$$`, dir))
		flows := [][2]netip.AddrPort{
			{netip.AddrPortFrom(trapLocal4, 40021), netip.AddrPortFrom(in4(21), 53)},
			{netip.AddrPortFrom(trapLocal6, 40022), netip.AddrPortFrom(netip.MustParseAddr("fd00:66::22"), 5353)},
		}
		for _, f := range flows {
			send1(t, ns, f[0], f[1])
		}
		if !waitFor(5*time.Second, func() bool { return len(readEnvFiles(t, dir)) >= 2 }) {
			t.Fatalf("--exec wrote %d environment files for 2 ACQUIREs, want 2; stderr:\n%s", len(readEnvFiles(t, dir)), mon.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
		envs := readEnvFiles(t, dir)
		if len(envs) != 2 {
			t.Errorf("%d --exec runs for 2 ACQUIREs, want 2", len(envs))
		}
		byDst := map[string]map[string]string{}
		for _, env := range envs {
			byDst[env["EROUTE_DST"]] = env
		}
		for i, f := range flows {
			trap, fam := trapNet4, "inet"
			if f[0].Addr().Is6() {
				trap, fam = trapNet6, "inet6"
			}
			want := map[string]string{
				"EROUTE_SRC": f[0].Addr().String(), "EROUTE_DST": f[1].Addr().String(), "EROUTE_PROTO": "17",
				"EROUTE_SRC_PORT": strconv.Itoa(int(f[0].Port())), "EROUTE_DST_PORT": strconv.Itoa(int(f[1].Port())),
				"EROUTE_FAMILY": fam, "EROUTE_TRAP_SRC": trap, "EROUTE_TRAP_DST": trap,
				"EROUTE_TRAP_SAID": "%trap", "EROUTE_NETNS": ns.Name,
			}
			got := byDst[f[1].Addr().String()]
			if got == nil {
				t.Errorf("flow %d (%v -> %v): no --exec run with its EROUTE_DST; runs: %v", i+1, f[0], f[1], envs)
				continue
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("flow %d: %s=%q, want %q", i+1, k, got[k], v)
				}
			}
		}
		if n := len(mon.Lines()); n != 2 {
			t.Errorf("%d acquire lines, want 2:\n%s", n, mon.Stdout())
		}
	})

	t.Run("failing", func(t *testing.T) {
		ns := trapNS(t)
		mon := startMonitor(t, ns, "--exec", "exit 3")
		flow1 := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40031), netip.AddrPortFrom(in4(31), 53)}
		flow2 := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40032), netip.AddrPortFrom(in4(32), 53)}
		send1(t, ns, flow1[0], flow1[1])
		if !mon.WaitLines(1, 3*time.Second) {
			t.Fatalf("no acquire line:\n%s", mon.Stderr())
		}
		if !mon.WaitStderr("exit status 3", 3*time.Second) {
			t.Fatalf("the failing --exec is not reported on stderr:\n%s", mon.Stderr())
		}
		if s := mon.Stderr(); !strings.Contains(s, `--exec "exit 3"`) || !strings.Contains(s, flow1[1].Addr().String()) {
			t.Errorf("stderr %q, want the command, the flow and its status", s)
		}
		if !mon.Running() {
			t.Fatalf("the monitor ended after a failing --exec: %v", mon.WaitExit(time.Second))
		}
		send1(t, ns, flow2[0], flow2[1])
		if !mon.WaitLines(2, 3*time.Second) {
			t.Fatalf("no acquire line for the ACQUIRE after a failing --exec:\n%s\nstderr:\n%s", mon.Stdout(), mon.Stderr())
		}
		checkAcquireLine(t, mon.Lines()[1], acquireText(flow2[0], flow2[1], trapNet4, trapNet4, "placed"))
		if !waitFor(3*time.Second, func() bool { return strings.Count(mon.Stderr(), "exit status 3") == 2 }) {
			t.Errorf("stderr, want one failure note per ACQUIRE:\n%s", mon.Stderr())
		}
		if strings.Contains(mon.Stdout(), "exit") {
			t.Errorf("a failure note on stdout, which is for ACQUIREs only:\n%s", mon.Stdout())
		}
	})

	t.Run("slow", func(t *testing.T) {
		ns := trapNS(t)
		dir := t.TempDir()
		mon := startMonitor(t, ns, "--exec", fmt.Sprintf(`touch %s/started.$EROUTE_DST; sleep 5`, dir))
		flow1 := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40041), netip.AddrPortFrom(in4(41), 53)}
		flow2 := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40042), netip.AddrPortFrom(in4(42), 53)}
		start := time.Now()
		send1(t, ns, flow1[0], flow1[1])
		if !mon.WaitLines(1, 2*time.Second) {
			t.Fatalf("no acquire line for the first flow")
		}
		time.Sleep(200 * time.Millisecond) // the first --exec is sleeping now
		send1(t, ns, flow2[0], flow2[1])
		mon.WaitLines(2, 3*time.Second)
		lines := mon.linesAt()
		if len(lines) != 2 {
			t.Fatalf("%d acquire lines for two flows, want 2:\n%s", len(lines), mon.Stdout())
		}
		for i, l := range lines {
			t.Logf("acquire line %d read %v after the first packet", i+1, l.at.Sub(start).Round(time.Millisecond))
		}
		if d := lines[1].at.Sub(start); d > 1500*time.Millisecond {
			t.Errorf("the second acquire line came %v after the first packet, want within ~1s: the slow --exec delayed it", d)
		}
		checkAcquireLine(t, lines[1].text, acquireText(flow2[0], flow2[1], trapNet4, trapNet4, "placed"))
		// Both commands started, and run side by side.
		for _, f := range []netip.AddrPort{flow1[1], flow2[1]} {
			name := filepath.Join(dir, "started."+f.Addr().String())
			if !waitFor(time.Second, func() bool { _, err := os.Stat(name); return err == nil }) {
				t.Errorf("--exec for the flow to %v did not start within 1s of its line", f.Addr())
			}
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("the checks took %v: the first --exec may have ended, the test shows nothing", d)
		}
		if !mon.Running() {
			t.Errorf("the monitor ended: %v", mon.WaitExit(time.Second))
		}
	})
}

// 5. A burst larger than the receive buffer: the monitor reports the
// overrun with a count and goes on listening. A control run with the
// default buffer shows the same burst fits and is reported in full.
func TestMonitorOverrun(t *testing.T) {
	ns := trapNS(t)
	src := netip.AddrPortFrom(trapLocal4, 40051)
	burst := func(mon *MonitorProc, first int) {
		t.Helper()
		var dsts []netip.AddrPort
		for i := 0; i < 50; i++ {
			dsts = append(dsts, netip.AddrPortFrom(in4(first+i), 53))
		}
		mon.Signal(syscall.SIGSTOP)
		sendUDP(t, ns, src, dsts...)
		time.Sleep(100 * time.Millisecond)
		mon.Signal(syscall.SIGCONT)
	}
	const lost = "ACQUIRE messages lost: the socket buffer overflowed ("

	// Control: the default buffer holds 50 ACQUIREs.
	ctl := startMonitor(t, ns)
	burst(ctl, 10)
	if !ctl.WaitLines(50, 5*time.Second) {
		t.Errorf("control: %d acquire lines for 50 flows with the default buffer, want 50", len(ctl.Lines()))
	}
	time.Sleep(200 * time.Millisecond)
	if s := ctl.Stderr(); strings.Contains(s, lost) {
		t.Errorf("control: an overrun with the default buffer:\n%s", s)
	}
	ctl.Signal(syscall.SIGINT)
	if st := ctl.WaitExit(5 * time.Second); st == nil || st.ExitCode() != 0 {
		t.Fatalf("control monitor did not end with status 0 on SIGINT: %v", st)
	}

	mon := startMonitor(t, ns, "--rcvbuf", "1")
	burst(mon, 100)
	noteRE := regexp.MustCompile(`ACQUIRE messages lost: the socket buffer overflowed \((\d+) overruns so far\); listening goes on`)
	if !waitFor(3*time.Second, func() bool { return noteRE.MatchString(mon.Stderr()) }) {
		t.Fatalf("no overrun note after 50 ACQUIREs into --rcvbuf 1; stderr:\n%s\nstdout:\n%s", mon.Stderr(), mon.Stdout())
	}
	m := noteRE.FindStringSubmatch(mon.Stderr())
	if m[1] != "1" {
		t.Errorf("the first overrun note counts %s overruns, want 1", m[1])
	}
	time.Sleep(200 * time.Millisecond)
	got := len(mon.Lines())
	t.Logf("with --rcvbuf 1: %d of 50 ACQUIREs printed; stderr: %s", got, strings.TrimSpace(mon.Stderr()))
	if got >= 50 {
		t.Errorf("%d acquire lines: the burst did not overrun the buffer", got)
	}
	drops := int64(0)
	for inode, s := range acquireSockets(t, ns) {
		if socketInodesOf(mon.cmd.Process.Pid)[inode] {
			drops = s.drops
		}
	}
	t.Logf("the monitor's socket drop count in /proc/net/netlink: %d", drops)
	if drops == 0 {
		t.Errorf("/proc/net/netlink shows no drops on the monitor's socket")
	}
	// Listening goes on: a new flow is reported.
	next := netip.AddrPortFrom(in4(200), 53)
	send1(t, ns, src, next)
	if !waitFor(3*time.Second, func() bool { return strings.Contains(mon.Stdout(), "-> "+host(next.Addr())+":53 ") }) {
		t.Fatalf("no acquire line for a new flow after the overrun:\n%s", mon.Stdout())
	}
	lines := mon.Lines()
	checkAcquireLine(t, lines[len(lines)-1], acquireText(src, next, trapNet4, trapNet4, "placed"))
	if !mon.Running() {
		t.Errorf("the monitor ended")
	}
}

// 6. SIGINT and SIGTERM end the monitor with status 0, and it takes its
// holds away; the %trap stays.
func TestMonitorSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ns := trapNS(t)
			mon := startMonitor(t, ns)
			flows := [][2]netip.AddrPort{
				{netip.AddrPortFrom(trapLocal4, 40061), netip.AddrPortFrom(in4(61), 53)},
				{netip.AddrPortFrom(trapLocal6, 40062), netip.AddrPortFrom(netip.MustParseAddr("fd00:66::62"), 53)},
			}
			for _, f := range flows {
				send1(t, ns, f[0], f[1])
			}
			if !mon.WaitLines(2, 3*time.Second) {
				t.Fatalf("want 2 acquire lines:\n%s", mon.Stdout())
			}
			// Positive control: the holds are there.
			for _, f := range flows {
				wantListed(t, ns, host(f[0].Addr()), host(f[1].Addr()), "%hold", "before "+sig.String())
				wantBlockPolicy(t, ns, host(f[0].Addr()), host(f[1].Addr()), true, "before "+sig.String())
			}
			mon.Signal(sig)
			st := mon.WaitExit(3 * time.Second)
			if st == nil {
				t.Fatalf("the monitor did not end within 3s of %v", sig)
			}
			if st.ExitCode() != 0 {
				t.Errorf("exit after %v: %v, want status 0; stderr:\n%s", sig, st, mon.Stderr())
			}
			for _, f := range flows {
				wantListed(t, ns, host(f[0].Addr()), host(f[1].Addr()), "", "right after "+sig.String())
				wantBlockPolicy(t, ns, host(f[0].Addr()), host(f[1].Addr()), false, "right after "+sig.String())
			}
			wantListed(t, ns, trapNet4, trapNet4, "%trap", "after "+sig.String())
			wantListed(t, ns, trapNet6, trapNet6, "%trap", "after "+sig.String())
			wantTrapPolicy(t, ns, trapNet4, "after "+sig.String())
			wantTrapPolicy(t, ns, trapNet6, "after "+sig.String())
			if s := mon.Stderr(); s != "" {
				t.Errorf("stderr, want nothing:\n%s", s)
			}
		})
	}
}

// 7. A monitor killed with SIGKILL cannot clean up: its holds stay (for
// their timeout). The next monitor of the namespace removes them as stale,
// and leaves a %hold eroute someone added by hand alone.
func TestMonitorKilledLeavesStaleHolds(t *testing.T) {
	ns := trapNS(t)
	userHold := [2]string{host(trapLocal4), host(in4(99))}
	ns.MustEroute(erouteArgs("--add", userHold[0], userHold[1], "%hold")...)
	mon := startMonitor(t, ns, "--hold-timeout", "60")
	flows := [][2]netip.AddrPort{
		{netip.AddrPortFrom(trapLocal4, 40071), netip.AddrPortFrom(in4(71), 53)},
		{netip.AddrPortFrom(trapLocal4, 40072), netip.AddrPortFrom(in4(72), 53)},
	}
	for _, f := range flows {
		send1(t, ns, f[0], f[1])
	}
	if !mon.WaitLines(2, 3*time.Second) {
		t.Fatalf("want 2 acquire lines:\n%s", mon.Stdout())
	}
	if s := mon.Stderr(); strings.Contains(s, "stale") {
		t.Errorf("the first monitor found stale holds:\n%s", s)
	}
	mon.Signal(syscall.SIGKILL)
	if st := mon.WaitExit(3 * time.Second); st == nil {
		t.Fatalf("the monitor did not die of SIGKILL")
	}
	for _, f := range flows {
		wantListed(t, ns, host(f[0].Addr()), host(f[1].Addr()), "%hold", "after SIGKILL")
		wantBlockPolicy(t, ns, host(f[0].Addr()), host(f[1].Addr()), true, "after SIGKILL")
	}

	next := startMonitor(t, ns, "--hold-timeout", "60")
	const note = "removed 2 stale %hold eroutes left by an earlier monitor"
	if !next.WaitStderr(note, 3*time.Second) {
		t.Fatalf("the new monitor's stderr:\n%s\nwant %q", next.Stderr(), note)
	}
	for _, f := range flows {
		wantListed(t, ns, host(f[0].Addr()), host(f[1].Addr()), "", "after the new monitor started")
		wantBlockPolicy(t, ns, host(f[0].Addr()), host(f[1].Addr()), false, "after the new monitor started")
	}
	wantListed(t, ns, userHold[0], userHold[1], "%hold", "after the new monitor started")
	wantListed(t, ns, trapNet4, trapNet4, "%trap", "after the new monitor started")
	// The new monitor listens.
	flow := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40073), netip.AddrPortFrom(in4(73), 53)}
	send1(t, ns, flow[0], flow[1])
	if !next.WaitLines(1, 3*time.Second) {
		t.Fatalf("the new monitor printed no acquire line")
	}
	checkAcquireLine(t, next.Lines()[0], acquireText(flow[0], flow[1], trapNet4, trapNet4, "placed"))
}

// runBounded runs argv with a time limit and gives what it did.
func runBounded(t *testing.T, d time.Duration, argv ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s: still running after %v", strings.Join(argv, " "), d)
	}
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return Result{stdout.String(), stderr.String(), code}
}

// 8. One monitor per namespace; monitors of different namespaces are
// independent.
func TestMonitorOnePerNamespace(t *testing.T) {
	nsA, nsB := trapNS(t), trapNS(t)
	monA := startMonitor(t, nsA)
	const busy = "another eroute --monitor is running in this network namespace"
	for _, argv := range [][]string{
		{eroutePath, "--netns", nsA.Name, "--monitor"},
		{"ip", "netns", "exec", nsA.Name, eroutePath, "--monitor"},
	} {
		r := runBounded(t, 5*time.Second, argv...)
		if r.Code != 1 || !strings.Contains(r.Stderr, busy) || r.Stdout != "" {
			t.Errorf("%s while a monitor runs there: exit %d, stdout %q, stderr %q; want exit 1 and %q",
				strings.Join(argv, " "), r.Code, r.Stdout, r.Stderr, busy)
		}
	}
	if !monA.Running() {
		t.Fatalf("the first monitor ended")
	}

	// Another namespace at the same time: its own monitor works, and sees
	// only its own ACQUIREs.
	monB := startMonitor(t, nsB)
	flowB := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40081), netip.AddrPortFrom(in4(81), 53)}
	send1(t, nsB, flowB[0], flowB[1])
	if !monB.WaitLines(1, 3*time.Second) {
		t.Fatalf("the monitor of the second namespace printed nothing; stderr:\n%s", monB.Stderr())
	}
	checkAcquireLine(t, monB.Lines()[0], acquireText(flowB[0], flowB[1], trapNet4, trapNet4, "placed"))
	wantListed(t, nsB, host(flowB[0].Addr()), host(flowB[1].Addr()), "%hold", "in the second namespace")
	wantListed(t, nsA, host(flowB[0].Addr()), host(flowB[1].Addr()), "", "in the first namespace")
	flowA := [2]netip.AddrPort{netip.AddrPortFrom(trapLocal4, 40082), netip.AddrPortFrom(in4(82), 53)}
	send1(t, nsA, flowA[0], flowA[1])
	if !monA.WaitLines(1, 3*time.Second) {
		t.Fatalf("the first monitor printed nothing for its own flow")
	}
	time.Sleep(200 * time.Millisecond)
	if a, b := monA.Lines(), monB.Lines(); len(a) != 1 || len(b) != 1 || !strings.Contains(a[0], in4(82).String()+"/32") {
		t.Errorf("each monitor must see its own namespace's one ACQUIRE:\nfirst:\n%s\nsecond:\n%s", monA.Stdout(), monB.Stdout())
	}

	// The claim ends with the monitor: a new one may start.
	monA.Signal(syscall.SIGTERM)
	if st := monA.WaitExit(3 * time.Second); st == nil || st.ExitCode() != 0 {
		t.Fatalf("the first monitor did not end with status 0: %v", st)
	}
	startMonitor(t, nsA)
}

// 9. An IPv6 flow: the line uses the listing's [ADDR/128]:PORT, and the
// hold is for the two /128 hosts.
func TestMonitorIPv6(t *testing.T) {
	ns := trapNS(t)
	mon := startMonitor(t, ns)
	src := netip.AddrPortFrom(trapLocal6, 40091)
	dst := netip.AddrPortFrom(netip.MustParseAddr("fd00:66::7"), 53)
	send1(t, ns, src, dst)
	send1(t, ns, src, dst)
	if !mon.WaitLines(1, 3*time.Second) {
		t.Fatalf("no acquire line for an IPv6 flow; stderr:\n%s", mon.Stderr())
	}
	time.Sleep(300 * time.Millisecond)
	lines := mon.Lines()
	if len(lines) != 1 {
		t.Errorf("%d acquire lines for one flow, want 1:\n%s", len(lines), mon.Stdout())
	}
	want := "acquire [fd00:66::1/128]:40091 -> [fd00:66::7/128]:53 => %trap:17 by fd00:66::/64 -> fd00:66::/64 => %trap; hold placed"
	if got := acquireText(src, dst, trapNet6, trapNet6, "placed"); got != want {
		t.Fatalf("test bug: acquireText gives %q", got)
	}
	checkAcquireLine(t, lines[0], want)
	wantListed(t, ns, "fd00:66::1/128", "fd00:66::7/128", "%hold", "after the ACQUIRE")
	wantBlockPolicy(t, ns, "fd00:66::1/128", "fd00:66::7/128", true, "after the ACQUIRE")
	wantListed(t, ns, trapNet6, trapNet6, "%trap", "after the ACQUIRE")
	// The IPv4 side of the namespace has no hold.
	if l := ns.Listing(); strings.Count(l, "%hold") != 1 {
		t.Errorf("the listing shows %d holds, want 1:\n%s", strings.Count(l, "%hold"), l)
	}
}
