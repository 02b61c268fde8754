package integration

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
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
	return s, r, d
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
