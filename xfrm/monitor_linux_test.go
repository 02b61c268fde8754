package xfrm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// These tests make the kernel send real ACQUIREs and expiries, in
// namespaces of their own (see newNetns).

// trapNetns gives a namespace where 10.55.0.1 and fd00:55::1 (no duplicate
// address detection) sit on a veth, with routes through it to 10.56.0.0/16,
// 10.58.0.0/24 and fd00:56::/64: a packet sent there runs the XFRM lookup.
func trapNetns(t *testing.T) (*Table, string) {
	t.Helper()
	tb, ns := openTable(t)
	for _, args := range [][]string{
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"addr", "add", "10.55.0.1/24", "dev", "v0"},
		{"addr", "add", "fd00:55::1/64", "dev", "v0", "nodad"},
		{"link", "set", "v1", "up"},
		{"link", "set", "v0", "up"},
		{"route", "add", "10.56.0.0/16", "dev", "v0"},
		{"route", "add", "10.58.0.0/24", "dev", "v0"},
		{"route", "add", "fd00:56::/64", "dev", "v0"},
	} {
		ipn(t, ns, args...)
	}
	return tb, ns
}

func addrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
}

// send sends one packet from a socket bound to from inside ns: a UDP
// datagram, an ICMP echo request, or for TCP the SYN of a connect that is
// not waited for. What
// the send itself returns does not matter: the XFRM lookup ran.
func send(t *testing.T, ns string, proto int, from, to netip.AddrPort) {
	t.Helper()
	family, typ, sockProto := unix.AF_INET, unix.SOCK_DGRAM, 0
	if from.Addr().Is6() {
		family = unix.AF_INET6
	}
	switch proto {
	case eroute.TCP:
		typ = unix.SOCK_STREAM | unix.SOCK_NONBLOCK
	case unix.IPPROTO_ICMP: // an echo request: type 8, code 0
		typ, sockProto = unix.SOCK_RAW, unix.IPPROTO_ICMP
	}
	err := inTestNetns(t, ns, func() error {
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, sockProto)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
		if err := unix.Bind(fd, sockaddr(from)); err != nil {
			return err
		}
		if proto == eroute.TCP {
			unix.Connect(fd, sockaddr(to))
		} else {
			unix.Sendto(fd, []byte{8, 0, 0xf7, 0xff, 0, 0, 0, 0}, 0, sockaddr(to))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("send %v -> %v in %s: %v", from, to, ns, err)
	}
}

// listen opens a Listener in ns, closed at the end of the test.
func listenT(t *testing.T, ns string, rcvbuf int) *Listener {
	t.Helper()
	l, err := Listen(ns, rcvbuf)
	if err != nil {
		t.Fatalf("Listen(%q, %d): %v", ns, rcvbuf, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type next struct {
	ev  Event
	err error
}

// events reads l in a goroutine until it is closed.
func events(l *Listener) <-chan next {
	ch := make(chan next, 100)
	go func() {
		defer close(ch)
		for {
			ev, err := l.Next()
			if errors.Is(err, ErrClosed) {
				return
			}
			ch <- next{ev, err}
		}
	}()
	return ch
}

// waitEvent gives the first event ok accepts, failing after d.
func waitEvent(t *testing.T, ch <-chan next, d time.Duration, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case n, open := <-ch:
			switch {
			case !open:
				t.Fatalf("listener closed while waiting for %s", what)
			case n.err != nil:
				t.Fatalf("Next while waiting for %s: %v", what, n.err)
			case ok(n.ev):
				return n.ev
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// noEvent checks that nothing more arrives within d.
func noEvent(t *testing.T, ch <-chan next, d time.Duration) {
	t.Helper()
	select {
	case n := <-ch:
		t.Errorf("unexpected event %#v, %v", n.ev, n.err)
	case <-time.After(d):
	}
}

// ipMonitor runs `ip -n NS xfrm monitor ARGS`, the independent reader, and
// returns once it has joined the ACQUIRE group, so that nothing sent after
// that can be missed; output gives what it printed so far.
func ipMonitor(t *testing.T, ns string, args ...string) (output func() string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"-n", ns, "xfrm", "monitor"}, args...)...)
	var mu sync.Mutex
	var out bytes.Buffer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("ip xfrm monitor: %v", err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			mu.Lock()
			fmt.Fprintln(&out, s.Text())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-copied
		cmd.Wait()
	})
	waitSubscribed(t, cmd.Process.Pid)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
}

// waitSubscribed waits until process pid has a NETLINK_XFRM socket in the
// ACQUIRE group: one of its descriptors' inodes in its /proc/PID/net/netlink
// (the table of its namespace) with protocol 6 and group bit 0.
func waitSubscribed(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		inodes := socketInodes(pid)
		table, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/netlink", pid))
		for _, line := range strings.Split(string(table), "\n") {
			f := strings.Fields(line)
			if len(f) < 10 || f[1] != strconv.Itoa(unix.NETLINK_XFRM) || !inodes[f[9]] {
				continue
			}
			if groups, err := strconv.ParseUint(f[3], 16, 32); err == nil && groups&1 != 0 {
				return
			}
		}
	}
	t.Fatalf("ip xfrm monitor (pid %d) did not join the ACQUIRE group", pid)
}

func socketInodes(pid int) map[string]bool {
	inodes := map[string]bool{}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		link, _ := os.Readlink(dir + "/" + fd.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes
}

func TestKernelAcquireIPv4(t *testing.T) {
	tb, ns := trapNetns(t)
	trap := er(t, "10.55.0.0/24", "10.56.0.0/24", "%trap")
	if err := tb.Add(trap); err != nil {
		t.Fatal(err)
	}
	ch := events(listenT(t, ns, 0))
	ipOut := ipMonitor(t, ns, "acquire")
	send(t, ns, eroute.UDP, addrPort("10.55.0.1:40001"), addrPort("10.56.0.9:9"))
	a := waitEvent(t, ch, 5*time.Second, "ACQUIRE", isAcquire).(*Acquire)
	wantFlow := eroute.Selector{Src: pfx("10.55.0.1/32"), Dst: pfx("10.56.0.9/32"), Proto: eroute.UDP, SrcPort: 40001, DstPort: 9}
	if a.Flow != wantFlow || a.Eroute != trap || a.Eroute.SAID != eroute.Trap {
		t.Errorf("ACQUIRE of flow %v by %v, want %v by %v", a.Flow, a.Eroute, wantFlow, trap)
	}
	wantTmpl := trapTemplate(AFInet)
	wantTmpl.Src, wantTmpl.Dst = ip("10.55.0.1"), ip("10.56.0.9")
	if a.Tmpl != wantTmpl || a.Policy.Priority != PolicyOf(trap).Priority || a.Seq == 0 {
		t.Errorf("ACQUIRE template %+v, priority %d, seq %d; want %+v, %d", a.Tmpl, a.Policy.Priority, a.Seq, wantTmpl, PolicyOf(trap).Priority)
	}
	// The larval SA stops further ACQUIREs for the flow, whatever its ports.
	send(t, ns, eroute.UDP, addrPort("10.55.0.1:40001"), addrPort("10.56.0.9:9"))
	send(t, ns, eroute.UDP, addrPort("10.55.0.1:40009"), addrPort("10.56.0.9:99"))
	noEvent(t, ch, 500*time.Millisecond)
	out := ipOut()
	if n := strings.Count(out, "acquire "); n != 1 || !strings.Contains(out, "sel src 10.55.0.1/32 dst 10.56.0.9/32 proto udp sport 40001 dport 9 ") {
		t.Errorf("ip xfrm monitor printed %d acquires:\n%s", n, out)
	}
}

func TestKernelAcquireIPv6(t *testing.T) {
	tb, ns := trapNetns(t)
	trap := withPorts(er(t, "fd00:55::/64", "fd00:56::/64", "%trap"), eroute.TCP, 0, 80)
	if err := tb.Add(trap); err != nil {
		t.Fatal(err)
	}
	ch := events(listenT(t, ns, 0))
	ipOut := ipMonitor(t, ns, "acquire")
	send(t, ns, eroute.TCP, addrPort("[fd00:55::1]:40002"), addrPort("[fd00:56::9]:80"))
	a := waitEvent(t, ch, 5*time.Second, "ACQUIRE", isAcquire).(*Acquire)
	wantFlow := eroute.Selector{Src: pfx("fd00:55::1/128"), Dst: pfx("fd00:56::9/128"), Proto: eroute.TCP, SrcPort: 40002, DstPort: 80}
	if a.Flow != wantFlow || a.Eroute != trap {
		t.Errorf("ACQUIRE of flow %v by %v, want %v by %v", a.Flow, a.Eroute, wantFlow, trap)
	}
	if a.Tmpl.Family != AFInet6 || a.Tmpl.Dst != ip("fd00:56::9") || a.Tmpl.Src != ip("fd00:55::1") || a.Tmpl.Proto != protoESP {
		t.Errorf("ACQUIRE template %+v", a.Tmpl)
	}
	// Port 81 is not trapped: no ACQUIRE.
	send(t, ns, eroute.TCP, addrPort("[fd00:55::1]:40003"), addrPort("[fd00:56::10]:81"))
	noEvent(t, ch, 500*time.Millisecond)
	out := ipOut()
	if n := strings.Count(out, "acquire "); n != 1 || !strings.Contains(out, "sel src fd00:55::1/128 dst fd00:56::9/128 proto tcp sport 40002 dport 80 ") {
		t.Errorf("ip xfrm monitor printed %d acquires:\n%s", n, out)
	}
}

// TestKernelAcquireTunnelFamily: an IPv4 flow trapped by a tunnel to an
// IPv6 peer; the SA the kernel asks for is IPv6.
func TestKernelAcquireTunnelFamily(t *testing.T) {
	tb, ns := trapNetns(t)
	tun := er(t, "10.55.0.0/24", "10.58.0.0/24", "tun0x135@fd00:56::2")
	if err := tb.Add(tun); err != nil {
		t.Fatal(err)
	}
	ch := events(listenT(t, ns, 0))
	send(t, ns, eroute.UDP, addrPort("10.55.0.1:40003"), addrPort("10.58.0.7:53"))
	a := waitEvent(t, ch, 5*time.Second, "ACQUIRE", isAcquire).(*Acquire)
	want := saTemplate(tun.SAID, AFInet)
	want.Src = ip("fd00:55::1")
	if a.Tmpl != want || a.Eroute != tun || a.Flow.Dst != pfx("10.58.0.7/32") {
		t.Errorf("ACQUIRE %+v by %v, template\n%+v, want\n%+v", a.Flow, a.Eroute, a.Tmpl, want)
	}
}

func TestKernelHoldReaped(t *testing.T) {
	tb, ns := openTable(t)
	ch := events(listenT(t, ns, 0))
	sel := withPorts(er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold"), eroute.UDP, 40001, 9).Selector
	start := time.Now()
	if err := tb.AddHold(holdFor(sel), 2*time.Second); err != nil {
		t.Fatalf("AddHold: %v", err)
	}
	hs, err := tb.Holds()
	if err != nil || len(hs) != 1 || hs[0].Selector != sel || hs[0].Timeout != 2*time.Second || hs[0].Index == 0 ||
		hs[0].Added.Before(start.Truncate(time.Second).Add(-time.Second)) || hs[0].Added.After(time.Now()) {
		t.Errorf("Holds: %+v, %v", hs, err)
	}
	wantList(t, tb, eroute.Eroute{Selector: sel, SAID: eroute.Hold})
	wantContains(t, ipn(t, ns, "-s", "xfrm", "policy"),
		"src 10.55.0.1/32 dst 10.56.0.9/32 proto udp sport 40001 dport 9 ",
		fmt.Sprintf("\tdir out action block index %d priority %d ", hs[0].Index, holdPolicy(holdFor(sel), 2).Priority),
		"\t  expire add: soft 0(sec), hard 2(sec)\n")

	ev := waitEvent(t, ch, 5*time.Second, "POLEXPIRE", func(ev Event) bool { _, ok := ev.(*PolicyExpire); return ok })
	reaped := time.Since(start)
	pe := ev.(*PolicyExpire)
	if h, ok := HoldOf(pe.Policy); !pe.Hard || !ok || h.Selector != sel || pe.Eroute.SAID != eroute.Hold {
		t.Errorf("POLEXPIRE hard %v of %v (a hold: %v)", pe.Hard, pe.Eroute, ok)
	}
	if reaped < time.Second { // see holdSeconds: rarely a second early
		t.Errorf("hold of 2s reaped after %v", reaped)
	}
	t.Logf("hold of 2s reaped after %v", reaped)
	if out := policies(t, ns); strings.TrimSpace(out) != "" {
		t.Errorf("policies left after the hold expired:\n%s", out)
	}
	if hs, err := tb.Holds(); err != nil || len(hs) != 0 {
		t.Errorf("Holds after the reap: %v, %v", hs, err)
	}
}

func TestKernelDeleteHold(t *testing.T) {
	tb, ns := openTable(t)
	sel := er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold").Selector
	admin := er(t, "10.55.0.1/32", "10.56.0.8/32", "%pass")
	if err := tb.Add(admin); err != nil {
		t.Fatal(err)
	}
	if err := tb.AddHold(holdFor(sel), time.Minute); err != nil {
		t.Fatalf("AddHold: %v", err)
	}
	for _, s := range []eroute.Selector{sel, admin.Selector} {
		if err := tb.AddHold(holdFor(s), time.Minute); !errors.Is(err, ErrExists) {
			t.Errorf("AddHold(%v) over a policy: %v, want ErrExists", s, err)
		}
	}
	if err := tb.AddHold(holdFor(sel), 0); err == nil {
		t.Error("AddHold with no timeout accepted")
	}
	if ok, err := tb.DeleteHold(holdFor(sel)); !ok || err != nil {
		t.Errorf("DeleteHold: %v, %v; want true", ok, err)
	}
	if ok, err := tb.DeleteHold(holdFor(sel)); ok || err != nil {
		t.Errorf("DeleteHold of a deleted hold: %v, %v; want false, nil", ok, err)
	}
	if ok, err := tb.DeleteHold(holdFor(admin.Selector)); ok || err != nil {
		t.Errorf("DeleteHold of a %%pass: %v, %v; want false, nil", ok, err)
	}

	if err := tb.AddHold(holdFor(sel), time.Minute); err != nil {
		t.Fatal(err)
	}
	drop := eroute.Eroute{Selector: sel, SAID: eroute.Drop}
	if err := tb.Replace(drop); err != nil {
		t.Fatal(err)
	}
	if ok, err := tb.DeleteHold(holdFor(sel)); ok || err != nil {
		t.Errorf("DeleteHold of a replaced hold: %v, %v; want false, nil", ok, err)
	}
	wantList(t, tb, admin, drop)
	if hs, err := tb.Holds(); err != nil || len(hs) != 0 {
		t.Errorf("Holds: %v, %v", hs, err)
	}
	// A plain %hold an administrator gave is no monitor hold either.
	if err := tb.Replace(eroute.Eroute{Selector: sel, SAID: eroute.Hold}); err != nil {
		t.Fatal(err)
	}
	if ok, err := tb.DeleteHold(holdFor(sel)); ok || err != nil {
		t.Errorf("DeleteHold of an administrator's %%hold: %v, %v; want false, nil", ok, err)
	}
	wantContains(t, policies(t, ns), "src 10.55.0.1/32 dst 10.56.0.9/32 \n\tdir out action block")
}

// TestKernelOverrun floods a tiny receive buffer with ACQUIREs of distinct
// flows (each destination gets its own larval SA) while nothing reads.
func TestKernelOverrun(t *testing.T) {
	tb, ns := trapNetns(t)
	if err := tb.Add(er(t, "10.55.0.0/24", "10.56.0.0/16", "%trap")); err != nil {
		t.Fatal(err)
	}
	l := listenT(t, ns, 1)
	rcvbuf := 0
	l.c.sock.control(func(fd int) { rcvbuf, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF) })
	t.Logf("receive buffer asked 1 byte, got %d", rcvbuf)
	for i := range 200 {
		send(t, ns, eroute.UDP, addrPort("10.55.0.1:40001"), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 56, 1, byte(i)}), 9))
	}
	ch := events(l)
	overruns, before := 0, 0
	for overruns == 0 {
		select {
		case n := <-ch:
			switch {
			case errors.Is(n.err, ErrOverrun):
				overruns++
			case n.err != nil:
				t.Fatalf("Next: %v", n.err)
			default:
				before++
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no ErrOverrun after 200 ACQUIREs (%d events read)", before)
		}
	}
	t.Logf("%d events before ErrOverrun", before)
	// What was queued before the overrun comes next, then the new flow's.
	send(t, ns, eroute.UDP, addrPort("10.55.0.1:40001"), addrPort("10.56.2.1:9"))
	waitEvent(t, ch, 5*time.Second, "ACQUIRE after the overrun", func(ev Event) bool {
		a, ok := ev.(*Acquire)
		return ok && a.Flow.Dst == pfx("10.56.2.1/32")
	})
}

func TestListenerCloseUnblocksNext(t *testing.T) {
	closeEndsNext(t, listenT(t, newNetns(t), 0))
}

// closeEndsNext checks that Close ends a Next that waits, with ErrClosed,
// and that Next and Close may be called again.
func closeEndsNext(t *testing.T, l *Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := l.Next()
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Next returned at once: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close: %v, want ErrClosed", err)
		}
		t.Logf("Close ended Next in %v", time.Since(start))
	case <-time.After(time.Second):
		t.Fatal("Close did not end a blocked Next within 1s")
	}
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestListenUnknownNamespace(t *testing.T) {
	name := "no-such-ns-" + strconv.Itoa(os.Getpid())
	if _, err := Listen(name, 0); err == nil || err.Error() != fmt.Sprintf("network namespace %q not found", name) {
		t.Errorf("Listen(%q): %v", name, err)
	}
}

func TestKernelClaimMonitor(t *testing.T) {
	ns1, ns2 := newNetns(t), newNetns(t)
	first, err := ClaimMonitor(ns1)
	if err != nil {
		t.Fatalf("ClaimMonitor(%s): %v", ns1, err)
	}
	_, err = ClaimMonitor(ns1)
	if !errors.Is(err, ErrMonitorRunning) || !errors.Is(err, nslock.ErrBusy) ||
		err.Error() != fmt.Sprintf("%v (pid %d)", ErrMonitorRunning, os.Getpid()) {
		t.Errorf("second ClaimMonitor(%s): %v", ns1, err)
	}
	other, err := ClaimMonitor(ns2)
	if err != nil {
		t.Errorf("ClaimMonitor(%s) while %s is claimed: %v", ns2, ns1, err)
	} else {
		defer other.Close()
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := ClaimMonitor(ns1)
	if err != nil {
		t.Fatalf("ClaimMonitor(%s) after Close: %v", ns1, err)
	}
	again.Close()
}
