package xfrm

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// These tests work on the real kernel, each in a network namespace of its
// own that is always removed; the host's own tables are never touched.

// newNetns creates a fresh namespace with `ip netns add` and gives its name.
func newNetns(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) to create network namespaces")
	}
	name := "eroute-xt-" + randomName(10)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	return name
}

// openTable opens the table of a fresh namespace.
func openTable(t testing.TB) (*Table, string) {
	t.Helper()
	ns := newNetns(t)
	tb, err := Open(ns)
	if err != nil {
		t.Fatalf("Open(%q): %v", ns, err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb, ns
}

// ipn runs `ip -n NS ARGS` and gives its output: the independent reader.
func ipn(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func policies(t *testing.T, ns string) string { return ipn(t, ns, "xfrm", "policy", "list") }

func wantContains(t *testing.T, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("ip xfrm policy output lacks %q:\n%s", p, text)
		}
	}
}

func mustList(t *testing.T, tb *Table) []eroute.Eroute {
	t.Helper()
	l, err := tb.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return l
}

func wantList(t *testing.T, tb *Table, want ...eroute.Eroute) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b eroute.Eroute) int {
		return cmp.Or(eroute.Compare(a.Selector, b.Selector), strings.Compare(a.SAID.String(), b.SAID.String()))
	})
	got := mustList(t, tb)
	if !slices.Equal(got, want) {
		t.Errorf("List:\n%s\nwant:\n%s", lines(got), lines(want))
	}
}

func lines(es []eroute.Eroute) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintln(&b, e)
	}
	return b.String()
}

func TestOpenUnknownNamespace(t *testing.T) {
	for _, name := range []string{"no-such-ns-" + randomName(8), "a/b", ".."} {
		tb, err := Open(name)
		if err == nil {
			tb.Close()
			t.Fatalf("Open(%q) succeeded", name)
		}
		if want := fmt.Sprintf("network namespace %q not found", name); err.Error() != want {
			t.Errorf("Open(%q): %q, want %q", name, err, want)
		}
	}
}

func TestKernelAddListDelete(t *testing.T) {
	ns := newNetns(t)
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	tb, err := Open(ns)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer tb.Close()
	if after, _ := netns.Get(); !after.Equal(before) {
		t.Error("Open moved the calling thread to another namespace")
	}

	e := er(t, "192.168.0.1/32", "192.168.2.0/24", "tun0x135@192.168.0.2")
	if err := tb.Add(e); err != nil {
		t.Fatalf("Add: %v", err)
	}
	wantList(t, tb, e)
	wantContains(t, policies(t, ns),
		"src 192.168.0.1/32 dst 192.168.2.0/24 \n",
		fmt.Sprintf("\tdir out priority %d ptype main \n", PolicyOf(e).Priority),
		"\ttmpl src 0.0.0.0 dst 192.168.0.2\n\t\tproto esp spi 0x00000135 reqid 0 mode tunnel\n")

	for _, dup := range []eroute.Eroute{e, {Selector: e.Selector, SAID: eroute.Pass}} {
		err := tb.Add(dup)
		if !errors.Is(err, ErrExists) || !errors.Is(err, unix.EEXIST) || err.Error() != ErrExists.Error() {
			t.Errorf("second Add(%v): %v, want ErrExists", dup, err)
		}
	}
	wantList(t, tb, e)

	if err := tb.Delete(e.Selector); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	err = tb.Delete(e.Selector)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, unix.ENOENT) || err.Error() != ErrNotFound.Error() {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	wantList(t, tb)
	if out := policies(t, ns); strings.TrimSpace(out) != "" {
		t.Errorf("policies left after Delete:\n%s", out)
	}
}

func TestKernelEveryKind(t *testing.T) {
	tb, ns := openTable(t)
	es := roundTripEroutes(t)
	for _, e := range es {
		if err := tb.Add(e); err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
	}
	wantList(t, tb, es...)
	wantContains(t, policies(t, ns),
		fmt.Sprintf("src 192.168.6.0/24 dst 192.168.12.0/24 \n\tdir out action block priority %d ptype main \n",
			PolicyOf(er(t, "192.168.6.0/24", "192.168.12.0/24", "%reject")).Priority),
		"src 3049:1::1/128 dst 3049:2::/64 \n",
		"\ttmpl src :: dst 3049:1::2\n\t\tproto esp spi 0x00000145 reqid 0 mode tunnel\n",
		"src 10.0.0.0/8 dst 10.1.0.0/16 \n",
		"\ttmpl src :: dst 3049:1::2\n\t\tproto esp spi 0x00000135 reqid 0 mode tunnel\n",
		"\ttmpl src 0.0.0.0 dst 1.2.3.0\n\t\tproto esp spi 0x00000101 reqid 0 mode transport\n",
		"\ttmpl src 0.0.0.0 dst 1.2.3.0\n\t\tproto ah spi 0x00000102 reqid 0 mode transport\n",
		"\ttmpl src 0.0.0.0 dst 1.2.3.0\n\t\tproto comp spi 0x00000103 reqid 0 mode transport\n",
		"\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 0 mode transport\n",
		"src 10.0.0.0/24 dst 10.1.1.1/32 proto tcp dport 110 \n",
		"src 3049:1::/64 dst 3049:5::1/128 proto udp sport 53 \n")
}

func TestKernelIPv6(t *testing.T) {
	tb, ns := openTable(t)
	e := er(t, "3049:1::1/128", "3049:2::/64", "tun0x145@3049:1::2")
	if err := tb.Add(e); err != nil {
		t.Fatalf("Add: %v", err)
	}
	l := mustList(t, tb)
	if len(l) != 1 || l[0].Dst.String() != "3049:2::/64" || l[0] != e {
		t.Errorf("List: %v, want %v", l, e)
	}
	wantContains(t, policies(t, ns), "src 3049:1::1/128 dst 3049:2::/64 \n")
	if err := tb.Delete(e.Selector); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// TestKernelReplace checks that UPDPOLICY replaces the policy of the same
// selector even when the new one has another priority (another kind).
func TestKernelReplace(t *testing.T) {
	tb, ns := openTable(t)
	sel := er(t, "192.168.0.1/32", "192.168.2.0/24", "%pass")
	other := er(t, "192.168.0.1/32", "192.168.3.0/24", "%drop")
	if err := tb.Add(other); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"%pass", "tun0x135@192.168.0.2", "%drop", "%trap", "tun0x136@3049::1", "%passthrough4"} {
		e := eroute.Eroute{Selector: sel.Selector, SAID: said(t, s)}
		if err := tb.Replace(e); err != nil {
			t.Fatalf("Replace(%v): %v", e, err)
		}
		wantList(t, tb, e, other)
		out := policies(t, ns)
		if n := strings.Count(out, "dst 192.168.2.0/24"); n != 1 {
			t.Errorf("after Replace(%v), %d policies for the selector:\n%s", e, n, out)
		}
		wantContains(t, out, fmt.Sprintf("priority %d ", PolicyOf(e).Priority))
	}
}

func TestKernelTransportFamilyMismatch(t *testing.T) {
	tb, _ := openTable(t)
	err := tb.Add(er(t, "10.0.0.0/8", "10.1.0.0/16", "esp0x101@3049::2"))
	if !errors.Is(err, unix.EINVAL) || !strings.HasPrefix(fmt.Sprint(err), "kernel refused the request: invalid argument") {
		t.Errorf("transport template of another family: %v, want EINVAL", err)
	}
	wantList(t, tb)
}

// TestKernelForeignAndClear lists policies made by ip xfrm and by a socket,
// then clears: every outbound main policy goes, the others stay.
func TestKernelForeignAndClear(t *testing.T) {
	tb, ns := openTable(t)
	reject := er(t, "10.14.0.0/16", "10.15.0.0/16", "%reject")
	rejectPrio := fmt.Sprint(PolicyOf(reject).Priority)
	for _, cmd := range []string{
		"src 10.0.0.0/8 dst 10.1.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel mark 5 mask 0xff",
		"src 10.2.0.0/16 dst 10.3.0.0/16 dir out action block",
		"src 10.4.0.0/16 dst 10.5.0.0/16 dir out tmpl src :: dst 3049::1 proto esp spi 0x200 mode tunnel",
		"src 10.6.0.0/16 dst 10.7.0.0/16 dir out tmpl proto comp mode transport tmpl src 1.1.1.1 dst 3.3.3.3 proto esp mode tunnel",
		"src 10.8.0.0/16 dst 10.9.0.0/16 dir out",
		"src 10.10.0.0/16 dst 10.11.0.0/16 dir out if_id 7 tmpl src 0.0.0.0 dst 5.5.5.5 proto esp spi 0x135 mode tunnel",
		"src 3049:2::/64 dst 3049:3::/64 proto tcp dport 80 dir out priority 100 tmpl proto esp mode transport",
		"src 10.14.0.0/16 dst 10.15.0.0/16 dir out priority " + rejectPrio + " action block",
		"src 10.16.0.0/16 dst 10.17.0.0/16 dir out priority " + rejectPrio,
		"src 10.0.0.0/8 dst 10.1.0.0/16 dir in",
		"src 10.0.0.0/8 dst 10.1.0.0/16 dir fwd tmpl src 2.2.2.2 dst 1.1.1.1 proto esp mode tunnel",
		"src 10.12.0.0/16 dst 10.13.0.0/16 dir out ptype sub",
	} {
		ipn(t, ns, append([]string{"xfrm", "policy", "add"}, strings.Fields(cmd)...)...)
	}
	closeSocket := addSocketPolicy(t, ns)
	defer closeSocket()
	own := er(t, "192.168.0.1/32", "192.168.2.0/24", "tun0x135@192.168.0.2")
	if err := tb.Add(own); err != nil {
		t.Fatal(err)
	}
	// Templates without an SPI and without an SA are traps.
	foreign := []eroute.Eroute{
		er(t, "10.0.0.0/8", "10.1.0.0/16", "%trap"),
		er(t, "10.2.0.0/16", "10.3.0.0/16", "%drop"),
		er(t, "10.4.0.0/16", "10.5.0.0/16", "tun0x200@3049::1"),
		er(t, "10.6.0.0/16", "10.7.0.0/16", "%trap"),
		er(t, "10.8.0.0/16", "10.9.0.0/16", "%pass"),
		er(t, "10.10.0.0/16", "10.11.0.0/16", "tun0x135@5.5.5.5"),
		withPorts(eroute.Eroute{Selector: eroute.Selector{Src: pfx("3049:2::/64"), Dst: pfx("3049:3::/64")},
			SAID: eroute.Trap}, 6, 0, 80),
		er(t, "10.16.0.0/16", "10.17.0.0/16", "%pass"),
	}
	wantList(t, tb, append([]eroute.Eroute{own, reject}, foreign...)...)

	// Without all, Clear takes eroute's own only.
	if err := tb.Clear(false); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantList(t, tb, foreign...)
	if err := tb.Clear(true); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantList(t, tb)
	out := policies(t, ns)
	if regexp.MustCompile(`dir out[^\n]*ptype main`).MatchString(out) {
		t.Errorf("outbound main policies left after Clear:\n%s", out)
	}
	wantContains(t, out, "\tdir in priority 0 ptype main", "\tdir fwd priority 0 ptype main",
		"\tdir out priority 0 ptype sub", "\tsocket out action block")
}

// addSocketPolicy puts a per-socket policy (IP_XFRM_POLICY) on a socket in
// ns; the kernel's dump shows it as direction 4.
func addSocketPolicy(t *testing.T, ns string) (closeSocket func()) {
	t.Helper()
	p := Policy{Dir: DirOut, Action: ActionBlock,
		Sel: Selector{Family: AFInet, Src: pfx("0.0.0.0/0"), Dst: pfx("0.0.0.0/0")}}
	var fd int
	err := inTestNetns(t, ns, func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0); err != nil {
			return err
		}
		return unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_XFRM_POLICY, string(encodePolicy(p)))
	})
	if err != nil {
		t.Fatalf("socket policy: %v", err)
	}
	return func() { unix.Close(fd) }
}

// inTestNetns runs fn on a thread in ns that is thrown away afterwards.
func inTestNetns(t *testing.T, ns string, fn func() error) error {
	t.Helper()
	h, err := netns.GetFromName(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(h); err != nil {
			done <- err
			return
		}
		done <- fn()
	}()
	return <-done
}

func TestKernelOpenOwnNamespace(t *testing.T) {
	ns := newNetns(t)
	var tb *Table
	err := inTestNetns(t, ns, func() (err error) {
		tb, err = Open("")
		return err
	})
	if err != nil {
		t.Fatalf("Open(\"\") inside %s: %v", ns, err)
	}
	defer tb.Close()
	e := er(t, "10.0.0.0/8", "10.1.0.0/16", "%hold")
	if err := tb.Add(e); err != nil {
		t.Fatal(err)
	}
	wantContains(t, policies(t, ns), "src 10.0.0.0/8 dst 10.1.0.0/16 \n\tdir out action block")
	wantList(t, tb, e)
}

// TestKernelMostSpecificWins sends nothing: a UDP connect() runs the XFRM
// lookup, and a block policy makes it fail with EPERM. Whatever the order
// the eroutes are added in, the more specific one decides.
func TestKernelMostSpecificWins(t *testing.T) {
	tb, ns := openTable(t)
	ipn(t, ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ipn(t, ns, "addr", "add", "10.0.0.1/8", "dev", "v0")
	ipn(t, ns, "link", "set", "v1", "up")
	ipn(t, ns, "link", "set", "v0", "up")
	connect := func(dst string, port int) error {
		return inTestNetns(t, ns, func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: ip(dst).As4()})
		})
	}
	hostPass := er(t, "10.0.0.1/32", "10.1.2.3/32", "%pass")
	netDrop := er(t, "10.0.0.0/8", "10.0.0.0/8", "%drop")
	popDrop := withPorts(er(t, "10.0.0.1/32", "10.1.2.3/32", "%drop"), 17, 0, 110)
	for _, order := range [][]eroute.Eroute{{hostPass, netDrop, popDrop}, {popDrop, netDrop, hostPass}} {
		if err := tb.Clear(true); err != nil {
			t.Fatal(err)
		}
		for _, e := range order {
			if err := tb.Add(e); err != nil {
				t.Fatalf("Add(%v): %v", e, err)
			}
		}
		for _, c := range []struct {
			dst     string
			port    int
			allowed bool
		}{
			{"10.1.2.3", 111, true},  // the host's %pass beats the network's %drop
			{"10.1.2.4", 111, false}, // only the network's %drop matches
			{"10.1.2.3", 110, false}, // the port's %drop beats the host's %pass
		} {
			err := connect(c.dst, c.port)
			if c.allowed && err != nil || !c.allowed && !errors.Is(err, unix.EPERM) {
				t.Errorf("added %v: connect to %s:%d: %v (want allowed %v)", order, c.dst, c.port, err, c.allowed)
			}
		}
	}
}

// randomName gives n random letters for a throwaway namespace name.
func randomName(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// TestKernelClearStreams clears a table whose dump spans many datagrams,
// with foreign policies among the eroutes: the deletes of each datagram go
// out while the dump goes on, and exactly eroute's own are gone; a monitor
// hold is eroute's too. Clear(true) then takes the rest.
func TestKernelClearStreams(t *testing.T) {
	tb, ns := openTable(t)
	const n = 5000
	es := make([]eroute.Eroute, n)
	for i := range es {
		es[i] = genEroute(i)
	}
	mustApply(t, tb, adds(es[:n/2]...))
	addForeign(t, ns, foreignPolicies...)
	mustApply(t, tb, adds(es[n/2:]...))
	if err := tb.AddHold(holdFor(genEroute(n).Selector), 30e9); err != nil {
		t.Fatal(err)
	}
	var foreign []eroute.Eroute
	for _, e := range mustEntries(t, tb) {
		if !e.Own {
			foreign = append(foreign, e.Eroute)
		}
	}
	if len(foreign) != 5 {
		t.Fatalf("%d foreign policies listed, want 5", len(foreign))
	}
	if err := tb.Clear(false); err != nil {
		t.Fatalf("Clear(false): %v", err)
	}
	wantList(t, tb, foreign...)
	if err := tb.Clear(true); err != nil {
		t.Fatalf("Clear(true): %v", err)
	}
	wantList(t, tb)
}

// wantListingText checks WriteListing against Walk and AppendLine, byte
// for byte.
func wantListingText(t *testing.T, tb *Table) {
	t.Helper()
	var want []byte
	err := tb.Walk(func(e eroute.Eroute) error {
		want = append(e.AppendLine(want), '\n')
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	var got strings.Builder
	if err := tb.WriteListing(&got); err != nil {
		t.Fatalf("WriteListing: %v", err)
	}
	if got.String() != string(want) {
		t.Errorf("WriteListing:\n%s\nWalk and AppendLine:\n%s", got.String(), want)
	}
}

// TestKernelWriteListing checks the listing's text written from the
// records against the eroutes' own text: every kind of eroute, foreign
// policies (marks, if_ids, traps, IPv4-mapped addresses), and a
// table larger than one write.
func TestKernelWriteListing(t *testing.T) {
	tb, ns := openTable(t)
	for _, e := range roundTripEroutes(t) {
		if err := tb.Add(e); err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
	}
	for _, cmd := range []string{
		"policy add src 10.70.0.0/16 dst 10.71.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel mark 5 mask 0xff",
		"policy add src 10.72.0.0/16 dst 10.73.0.0/16 dir out if_id 7 tmpl src 0.0.0.0 dst 5.5.5.5 proto esp spi 0x135 mode tunnel",
		"policy add src 10.74.0.0/16 dst 10.75.0.0/16 dir out tmpl proto comp mode transport tmpl src 1.1.1.1 dst 3.3.3.3 proto esp mode tunnel",
		"policy add src ::ffff:10.0.0.0/104 dst ::/0 dir out tmpl src :: dst ::ffff:192.0.2.1 proto esp spi 0x136 mode tunnel",
	} {
		ipn(t, ns, append([]string{"xfrm"}, strings.Fields(cmd)...)...)
	}
	wantListingText(t, tb)
	ops := make([]Op, 20000)
	for i := range ops {
		ops[i] = Op{Kind: eroute.OpAdd, Eroute: genEroute(i)}
	}
	if err := tb.Apply(ops); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantListingText(t, tb)
}
