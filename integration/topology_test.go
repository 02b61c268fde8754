package integration

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Addresses of the test topologies (private ranges, used only inside the
// namespaces the tests make).
var (
	pairA4, pairB4 = netip.MustParseAddr("10.77.0.1"), netip.MustParseAddr("10.77.0.2")
	pairA6, pairB6 = netip.MustParseAddr("fd00:77::1"), netip.MustParseAddr("fd00:77::2")
	// sender -- router -- receiver
	routeS4, routeRS4 = netip.MustParseAddr("10.78.1.1"), netip.MustParseAddr("10.78.1.254")
	routeRR4, routeR4 = netip.MustParseAddr("10.78.2.254"), netip.MustParseAddr("10.78.2.1")
	routeS6, routeRS6 = netip.MustParseAddr("fd00:78:1::1"), netip.MustParseAddr("fd00:78:1::fe")
	routeRR6, routeR6 = netip.MustParseAddr("fd00:78:2::fe"), netip.MustParseAddr("fd00:78:2::1")
)

// newPair makes two namespaces joined by a veth pair, "veth0" in each, with
// pairA4/pairA6 on a and pairB4/pairB6 on b.
func newPair(t *testing.T) (a, b *NS) {
	t.Helper()
	a, b = newNS(t, ""), newNS(t, "")
	link(t, a, b, pairA4, pairB4, pairA6, pairB6)
	waitLinksUp(t, a, b)
	return a, b
}

// newRouted makes sender -- router -- receiver, the router forwarding.
func newRouted(t *testing.T) (s, r, d *NS) {
	t.Helper()
	s, r, d = newNS(t, ""), newNS(t, ""), newNS(t, "")
	link(t, s, r, routeS4, routeRS4, routeS6, routeRS6)
	link(t, r, d, routeRR4, routeR4, routeRR6, routeR6)
	r.IP("link", "set", "dev", "lo", "up")
	run(t, "ip", "netns", "exec", r.Name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	s.IP("route", "add", "default", "via", routeRS4.String())
	s.IP("-6", "route", "add", "default", "via", routeRS6.String())
	d.IP("route", "add", "default", "via", routeRR4.String())
	d.IP("-6", "route", "add", "default", "via", routeRR6.String())
	waitLinksUp(t, s, r, d)
	return s, r, d
}

// waitLinksUp waits until every veth of the namespaces is
// operationally up. A veth's carrier comes on through the kernel's
// linkwatch, which runs at most once a second; until then IPv6 answers no
// neighbour solicitation on it, so the first IPv6 packets of a test would
// wait a second or two for their neighbour.
func waitLinksUp(t *testing.T, nss ...*NS) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, ns := range nss {
		for {
			out := ns.IP("-o", "link", "show", "type", "veth")
			if strings.Count(out, "state UP") == strings.Count(out, "\n") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("veths of %s not up:\n%s", ns.Name, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// link joins a and b with a veth pair and addresses both ends.
func link(t *testing.T, a, b *NS, a4, b4, a6, b6 netip.Addr) {
	t.Helper()
	ifA, ifB := vethName(a, b), vethName(b, a)
	a.IP("link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name)
	for _, end := range []struct {
		ns     *NS
		ifname string
		v4, v6 netip.Addr
	}{{a, ifA, a4, a6}, {b, ifB, b4, b6}} {
		// No duplicate address detection on the link, for the link-local
		// address either: a router sends its neighbour solicitations for
		// forwarded packets from its link-local address, and cannot while
		// that is tentative.
		run(t, "ip", "netns", "exec", end.ns.Name, "sysctl", "-q", "-w", "net.ipv6.conf."+end.ifname+".accept_dad=0")
		end.ns.IP("addr", "add", end.v4.String()+"/24", "dev", end.ifname)
		end.ns.IP("addr", "add", end.v6.String()+"/64", "dev", end.ifname, "nodad")
		end.ns.IP("link", "set", "dev", end.ifname, "up")
		end.ns.IP("link", "set", "dev", "lo", "up")
	}
}

// vethName names the end in a of the link to b.
func vethName(a, b *NS) string {
	return "v" + a.Name[len(a.Name)-4:] + b.Name[len(b.Name)-4:]
}

// inNS runs fn on an OS thread switched into ns: setns changes only the
// calling thread, so the thread is locked and switched back before it is
// released. Sockets made inside fn stay in ns.
func inNS(t *testing.T, ns *NS, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("cannot return to the original network namespace: " + err.Error())
		}
	}()
	fn()
}

// Receiver counts the UDP datagrams that reach a socket in a namespace: the
// observer at the receiving side.
type Receiver struct {
	conn  *net.UDPConn
	count atomic.Int64
	done  chan struct{}
}

func listenUDP(t *testing.T, ns *NS, addr netip.Addr, port uint16) *Receiver {
	t.Helper()
	var conn *net.UDPConn
	var err error
	inNS(t, ns, func() {
		conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", ns.Name, err)
	}
	r := &Receiver{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		buf := make([]byte, 65536)
		for {
			if _, _, err := conn.ReadFromUDP(buf); err != nil {
				return
			}
			r.count.Add(1)
		}
	}()
	t.Cleanup(func() { conn.Close(); <-r.done })
	return r
}

// Count is the number of datagrams received so far.
func (r *Receiver) Count() int { return int(r.count.Load()) }

// Sender sends UDP datagrams from a socket in a namespace.
type Sender struct {
	t    *testing.T
	conn *net.UDPConn
}

func dialUDP(t *testing.T, ns *NS, src netip.Addr, srcPort uint16, dst netip.Addr, dstPort uint16) *Sender {
	t.Helper()
	var conn *net.UDPConn
	var err error
	inNS(t, ns, func() {
		conn, err = net.DialUDP("udp",
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, srcPort)),
			net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, dstPort)))
	})
	if err != nil {
		t.Fatalf("dial in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &Sender{t: t, conn: conn}
}

// Send sends n datagrams and gives the first error the kernel returned.
func (s *Sender) Send(n int) error {
	var first error
	for i := 0; i < n; i++ {
		if _, err := s.conn.Write([]byte("eroute test payload")); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// settle waits for packets in flight to arrive: veth delivery is immediate,
// but the receiving goroutine needs a moment.
func settle() { time.Sleep(200 * time.Millisecond) }

// Capture counts packets seen on an interface by tcpdump, an observer
// independent of eroute and of the sockets.
type Capture struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
	cancel context.CancelFunc
}

// capture starts tcpdump in ns on ifname with a BPF filter and waits until it
// listens.
func capture(t *testing.T, ns *NS, ifname, filter string) *Capture {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("skipped: needs tcpdump to watch the wire")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name,
		"tcpdump", "-i", ifname, "-nn", "-l", "--immediate-mode", filter)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("tcpdump: %v", err)
	}
	c := &Capture{cmd: cmd, done: make(chan struct{}), cancel: cancel}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("tcpdump in %s did not start listening", ns.Name)
	}
	t.Cleanup(c.Stop)
	return c
}

// Lines gives what tcpdump printed so far, one packet a line.
func (c *Capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Stop ends the capture.
func (c *Capture) Stop() {
	c.cancel()
	<-c.done
	var exitErr *exec.ExitError
	if err := c.cmd.Wait(); err != nil && !errors.As(err, &exitErr) {
		_ = err
	}
}

// Count is the number of lines tcpdump printed so far that match.
func (c *Capture) Count(match func(Packet) bool) int {
	n := 0
	for _, l := range c.Lines() {
		if p, ok := parsePacket(l); ok && match(p) {
			n++
		}
	}
	return n
}

// Packet is one line of tcpdump -nn output, as far as the tests need it:
// "HH:MM:SS.us IP 10.77.0.1.40000 > 10.77.0.2.5000: UDP, length 19",
// "... IP6 fd00:77::1 > fd00:77::2: ICMP6, neighbor solicitation, ...".
type Packet struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort int    // 0 when tcpdump printed none
	What             string // what follows "SRC > DST: "
	Line             string
}

// parsePacket reads one tcpdump line; ok is false for lines that are not
// IP or IPv6 packets (ARP, for instance).
func parsePacket(line string) (p Packet, ok bool) {
	f := strings.SplitN(line, " ", 6)
	if len(f) < 5 || (f[1] != "IP" && f[1] != "IP6") || f[3] != ">" || !strings.HasSuffix(f[4], ":") {
		return p, false
	}
	var err1, err2 error
	p.Src, p.SrcPort, err1 = parseEndpoint(f[2])
	p.Dst, p.DstPort, err2 = parseEndpoint(strings.TrimSuffix(f[4], ":"))
	if err1 != nil || err2 != nil {
		return p, false
	}
	if len(f) == 6 {
		p.What = f[5]
	}
	p.Line = line
	return p, true
}

// parseEndpoint reads tcpdump's ADDR or ADDR.PORT.
func parseEndpoint(s string) (netip.Addr, int, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, 0, nil
	}
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return netip.Addr{}, 0, errors.New("no address in " + s)
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.Addr{}, 0, err
	}
	port, err := strconv.Atoi(s[i+1:])
	return a, port, err
}

// isNDP reports neighbour discovery, which the kernel sends by itself.
func (p Packet) isNDP() bool {
	return strings.HasPrefix(p.What, "ICMP6, neighbor") || strings.HasPrefix(p.What, "ICMP6, router")
}

// TCPListener counts the TCP connections a socket in a namespace accepts.
type TCPListener struct {
	ln       net.Listener
	accepted atomic.Int64
	done     chan struct{}
}

func listenTCP(t *testing.T, ns *NS, addr netip.Addr, port uint16) *TCPListener {
	t.Helper()
	var ln net.Listener
	var err error
	inNS(t, ns, func() {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, port).String())
	})
	if err != nil {
		t.Fatalf("listen tcp in %s: %v", ns.Name, err)
	}
	l := &TCPListener{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-l.done })
	return l
}

// Accepted is the number of connections accepted so far.
func (l *TCPListener) Accepted() int { return int(l.accepted.Load()) }

// dialTCP connects from src in ns to dst, closes the connection, and gives
// the error of the connect.
func dialTCP(t *testing.T, ns *NS, src netip.Addr, dst netip.AddrPort, timeout time.Duration) error {
	t.Helper()
	var err error
	inNS(t, ns, func() {
		d := net.Dialer{Timeout: timeout, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
		var c net.Conn
		if c, err = d.Dial("tcp", dst.String()); err == nil {
			c.Close()
		}
	})
	return err
}

// xfrmStat reads the namespace's /proc/net/xfrm_stat: drop counters by
// reason (XfrmOutPolBlock, XfrmOutNoStates, ...).
func xfrmStat(t *testing.T, ns *NS) map[string]int64 {
	t.Helper()
	out := run(t, "ip", "netns", "exec", ns.Name, "cat", "/proc/net/xfrm_stat")
	stat := map[string]int64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("xfrm_stat line %q: %v", l, err)
		}
		stat[f[0]] = n
	}
	if len(stat) == 0 {
		t.Fatalf("no counters in /proc/net/xfrm_stat of %s:\n%s", ns.Name, out)
	}
	return stat
}

// AcquireMonitor is `ip -n NS xfrm monitor acquire`: an ACQUIRE listener
// independent of eroute.
type AcquireMonitor struct {
	mu     sync.Mutex
	msgs   []string // one ACQUIRE message each, its lines joined by "\n"
	cancel context.CancelFunc
	done   chan struct{}
	cmd    *exec.Cmd
}

// monitorAcquire starts the listener and waits until its socket has joined
// XFRMNLGRP_ACQUIRE, as the namespace's /proc/net/netlink shows (protocol
// 6, NETLINK_XFRM; group bit 0): from then on the kernel sends it every
// ACQUIRE, and, because a listener exists, makes larval states.
func monitorAcquire(t *testing.T, ns *NS) *AcquireMonitor {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "-n", ns.Name, "xfrm", "monitor", "acquire")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("ip xfrm monitor: %v", err)
	}
	m := &AcquireMonitor{cancel: cancel, done: make(chan struct{}), cmd: cmd}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(stdout)
		var cur []string
		flush := func() {
			if len(cur) > 0 {
				m.mu.Lock()
				m.msgs = append(m.msgs, strings.Join(cur, "\n"))
				m.mu.Unlock()
				cur = nil
			}
		}
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.TrimSpace(l) == "":
				flush()
			case !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t"):
				flush()
				cur = append(cur, l)
			default:
				cur = append(cur, l)
			}
		}
		flush()
	}()
	t.Cleanup(m.Stop)
	deadline := time.Now().Add(10 * time.Second)
	for !acquireListening(t, ns) {
		if time.Now().After(deadline) {
			t.Fatalf("ip xfrm monitor acquire in %s never joined the ACQUIRE group", ns.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return m
}

// acquireListening reports whether some NETLINK_XFRM socket of ns has
// joined XFRMNLGRP_ACQUIRE.
func acquireListening(t *testing.T, ns *NS) bool {
	t.Helper()
	return len(acquireSockets(t, ns)) > 0
}

// Messages gives the ACQUIREs seen so far.
func (m *AcquireMonitor) Messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// For gives the ACQUIREs whose selector (the flow that triggered them)
// goes from src to dst, as `ip xfrm monitor` prints it: "sel src SRC/BITS
// dst DST/BITS ...".
func (m *AcquireMonitor) For(src, dst netip.Addr) []string {
	want := "sel src " + netip.PrefixFrom(src, src.BitLen()).String() + " dst " + netip.PrefixFrom(dst, dst.BitLen()).String() + " "
	var out []string
	for _, msg := range m.Messages() {
		if strings.HasPrefix(msg, "acquire ") && strings.Contains(msg, want) {
			out = append(out, msg)
		}
	}
	return out
}

// Stop ends the listener.
func (m *AcquireMonitor) Stop() {
	m.cancel()
	<-m.done
	m.cmd.Wait()
}
