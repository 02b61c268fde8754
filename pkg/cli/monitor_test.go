package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// fakeMonitor plays a list of events, then stops as after SIGINT.
type fakeMonitor struct {
	mu         sync.Mutex
	events     []any // *Acquired, *HoldReaped, ..., or error
	holds      map[Hold]uint32
	timeouts   []time.Duration
	stale      []Hold
	deleted    []Hold
	acqExpires time.Duration
	stopped    bool
	closed     bool
}

func (f *fakeMonitor) Next() (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 || f.stopped {
		return nil, net.ErrClosed
	}
	ev := f.events[0]
	f.events = f.events[1:]
	if d, ok := ev.(time.Duration); ok { // a pause between events
		f.mu.Unlock()
		time.Sleep(d)
		f.mu.Lock()
		return &Note{Text: "paused"}, nil
	}
	if err, ok := ev.(error); ok {
		return nil, err
	}
	if r, ok := ev.(*HoldReaped); ok {
		delete(f.holds, r.Hold.Place())
	}
	return ev, nil
}

func (f *fakeMonitor) StopListening() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
}

func (f *fakeMonitor) AddHold(h Hold, trap uint32, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.holds[h]; ok {
		return fs.ErrExist
	}
	if trap < 10 {
		return ErrCannotOutrank
	}
	f.holds[h] = trap
	f.timeouts = append(f.timeouts, timeout)
	return nil
}

func (f *fakeMonitor) DeleteHold(h Hold) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, h)
	_, had := f.holds[h]
	delete(f.holds, h)
	return had, nil
}

func (f *fakeMonitor) StaleHolds() ([]Hold, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.stale {
		f.holds[h] = 1 << 24
	}
	return f.stale, nil
}

func (f *fakeMonitor) AcquireExpiry() (time.Duration, error) { return f.acqExpires, nil }

func (f *fakeMonitor) Tracked() int { return 0 }

func (f *fakeMonitor) Close() error { f.closed = true; return nil }

func msel(src, dst string, proto uint8, sport, dport uint16) eroute.Selector {
	return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), Proto: proto, SrcPort: sport, DstPort: dport}
}

// trapped is an ACQUIRE for a UDP flow 10.0.0.1:4000 -> 10.1.0.9:53 that
// met the %trap eroute 10.0.0.0/8 -> 10.1.0.0/16.
func trapped() *Acquired {
	return &Acquired{
		Flow:     msel("10.0.0.1/32", "10.1.0.9/32", 17, 4000, 53),
		Eroute:   eroute.Eroute{Selector: msel("10.0.0.0/8", "10.1.0.0/16", 0, 0, 0), SAID: eroute.Trap},
		Priority: 1<<24 + 100*16 + 7,
	}
}

// foreignTrapped is an ACQUIRE from a policy eroute did not make, scoped
// by a mark.
func foreignTrapped() *Acquired {
	ev := trapped()
	ev.Foreign = true
	ev.Eroute.SAID = eroute.SAID{Proto: eroute.ProtoESP, Dst: netip.MustParseAddr("0.0.0.0")}
	ev.Scope = Scope{Mark: 1, Mask: 0xff}
	ev.Priority = 0
	return ev
}

func TestMonitorPrintsAndHolds(t *testing.T) {
	w := newWorld(t)
	w.monitor.events = []any{trapped(), trapped()}
	if code := w.run("--monitor", "--hold-timeout", "7"); code != 0 {
		t.Fatalf("status %d, stderr %q", code, w.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(w.stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per ACQUIRE, got %q", w.stdout.String())
	}
	want := " acquire 10.0.0.1/32:4000 -> 10.1.0.9/32:53 => %trap:17 by 10.0.0.0/8 -> 10.1.0.0/16 => %trap; hold placed"
	if !strings.HasSuffix(lines[0], want) {
		t.Errorf("line %q\nwant it to end with %q", lines[0], want)
	}
	if !strings.HasSuffix(lines[1], "; hold exists") {
		t.Errorf("second ACQUIRE of the flow: %q, want the hold to exist", lines[1])
	}
	hold := Hold{Selector: msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0)}
	if w.monitor.holds[hold] != 0 || len(w.monitor.deleted) == 0 {
		t.Errorf("holds %v", w.monitor.holds)
	}
	if len(w.monitor.timeouts) != 1 || w.monitor.timeouts[0] != 7*time.Second {
		t.Errorf("hold timeouts %v, want one of 7s", w.monitor.timeouts)
	}
	// On exit the monitor removes the holds it made.
	if _, left := w.monitor.holds[hold]; len(w.monitor.deleted) != 1 || w.monitor.deleted[0] != hold || left {
		t.Errorf("holds deleted on exit %v, want [%v]", w.monitor.deleted, hold)
	}
	if !w.monitor.closed {
		t.Error("monitor not closed")
	}
}

func TestMonitorJSON(t *testing.T) {
	w := newWorld(t)
	w.monitor.events = []any{trapped()}
	if code := w.run("--monitor", "--json"); code != 0 {
		t.Fatalf("status %d, stderr %q", code, w.stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(w.stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, w.stdout.String())
	}
	for k, v := range map[string]any{"src": "10.0.0.1", "dst": "10.1.0.9", "proto": 17.0, "src_port": 4000.0,
		"dst_port": 53.0, "hold": "placed", "hold_src": "10.0.0.1/32", "hold_dst": "10.1.0.9/32", "hold_timeout": 30.0} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	e, _ := got["eroute"].(map[string]any)
	if e["said"] != "%trap" || e["src"] != "10.0.0.0/8" || e["dst"] != "10.1.0.0/16" {
		t.Errorf("eroute = %v", e)
	}
}

func TestHoldSelector(t *testing.T) {
	for _, c := range []struct {
		name       string
		trap, want eroute.Selector
		ok         bool
	}{
		{"subnets: the two hosts", msel("10.0.0.0/8", "10.1.0.0/16", 0, 0, 0), msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0), true},
		{"trap names a port: kept", msel("10.0.0.0/8", "10.1.0.0/16", 17, 0, 53), msel("10.0.0.1/32", "10.1.0.9/32", 17, 0, 53), true},
		{"host trap: the flow's protocol narrows", msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0), msel("10.0.0.1/32", "10.1.0.9/32", 17, 0, 0), true},
		{"host+proto trap: the flow's ports narrow", msel("10.0.0.1/32", "10.1.0.9/32", 17, 0, 0), msel("10.0.0.1/32", "10.1.0.9/32", 17, 4000, 53), true},
		{"trap as narrow as the flow: no hold", msel("10.0.0.1/32", "10.1.0.9/32", 17, 4000, 53), msel("10.0.0.1/32", "10.1.0.9/32", 17, 4000, 53), false},
	} {
		ev := trapped()
		ev.Eroute.Selector = c.trap
		got, ok := holdSelector(ev)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: hold %v (%v), want %v (%v)", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestMonitorOverrunGoesOn(t *testing.T) {
	w := newWorld(t)
	w.monitor.events = []any{eroute.ErrOverrun, eroute.ErrOverrun, trapped()}
	if code := w.run("--monitor"); code != 0 {
		t.Fatalf("status %d", code)
	}
	if !strings.Contains(w.stderr.String(), "(2 overruns so far); listening goes on") {
		t.Errorf("stderr %q, want the overruns counted", w.stderr.String())
	}
	if !strings.Contains(w.stdout.String(), " acquire ") {
		t.Errorf("the ACQUIRE after the overruns was not printed: %q", w.stdout.String())
	}
}

func TestMonitorReapsStaleAndReportsTimeouts(t *testing.T) {
	w := newWorld(t)
	stale := Hold{Selector: msel("10.9.0.1/32", "10.9.0.2/32", 0, 0, 0), Scope: Scope{Mark: 3, Mask: 3}}
	w.monitor.stale = []Hold{stale}
	hold := Hold{Selector: msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0)}
	// The kernel reports more of the hold than the monitor placed.
	reaped := hold
	reaped.Priority, reaped.Index, reaped.Timeout, reaped.Added = 367225, 9, 30*time.Second, time.Now()
	w.monitor.events = []any{trapped(), &HoldReaped{Hold: reaped}}
	if code := w.run("--monitor"); code != 0 {
		t.Fatalf("status %d", code)
	}
	if _, left := w.monitor.holds[stale]; left {
		t.Error("stale hold left in place")
	}
	for _, want := range []string{"removed 1 stale %hold eroutes", "timed out and was removed; the %trap fires again"} {
		if !strings.Contains(w.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", w.stderr.String(), want)
		}
	}
	if len(w.monitor.deleted) != 1 {
		t.Errorf("holds deleted %v, want the stale one alone (the reaped one is gone)", w.monitor.deleted)
	}
}

func TestMonitorExec(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(t.TempDir(), "env")
	w.monitor.events = []any{trapped()}
	script := `echo "$EROUTE_SRC $EROUTE_DST $EROUTE_PROTO $EROUTE_SRC_PORT $EROUTE_DST_PORT $EROUTE_TRAP_SRC $EROUTE_TRAP_SAID" > ` + out + `; exit 3`
	if code := w.run("--monitor", "--exec", script); code != 0 {
		t.Fatalf("a failing --exec must not end the monitor: status %d", code)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "10.0.0.1 10.1.0.9 17 4000 53 10.0.0.0/8 %trap\n"; string(got) != want {
		t.Errorf("--exec saw %q, want %q", got, want)
	}
	if !strings.Contains(w.stderr.String(), "exit status 3") {
		t.Errorf("--exec failure not reported: %q", w.stderr.String())
	}
}

func TestMonitorOptionsElsewhere(t *testing.T) {
	w := newWorld(t)
	for args, want := range map[string]string{
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --exec true": "eroute: --exec goes with --monitor only\n",
		"--json --clear":             "eroute: --json goes with the listing, --monitor and --sync only\n",
		"--monitor --src 10.0.0.0/8": "eroute: --monitor watches the whole table and takes no --src\n",
		"--monitor --hold-timeout 0": "eroute: Invalid --hold-timeout parameter \"0\": want a whole number of seconds from 1\n",
		"--monitor --rcvbuf lots":    "eroute: Invalid --rcvbuf parameter \"lots\": want a number of bytes from 1\n",
		"--monitor --add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop": "eroute: " + msgOneAction + "\n",
	} {
		if code := w.run(strings.Fields(args)...); code != 1 || w.stderr.String() != want {
			t.Errorf("eroute %s: status %d, stderr %q, want %q", args, code, w.stderr.String(), want)
		}
	}
}

// A foreign ACQUIRE is printed, marked foreign, and gets no hold and no
// --exec; eroute's own trap in the same run still does.
func TestMonitorForeignAcquire(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(t.TempDir(), "execs")
	w.monitor.events = []any{foreignTrapped(), trapped()}
	if code := w.run("--monitor", "--exec", "echo $EROUTE_DST >> "+out); code != 0 {
		t.Fatalf("status %d, stderr %q", code, w.stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(w.stdout.String()), "\n")
	want := " acquire 10.0.0.1/32:4000 -> 10.1.0.9/32:53 => esp0x0@0.0.0.0:17 by 10.0.0.0/8 -> 10.1.0.0/16 => esp0x0@0.0.0.0 (foreign, mark 0x1/0xff); hold none: not eroute's trap (--all answers it)"
	if len(lines) != 2 || !strings.HasSuffix(lines[0], want) || !strings.HasSuffix(lines[1], "=> %trap; hold placed") {
		t.Fatalf("lines %q\nwant the first to end with %q", lines, want)
	}
	if len(w.monitor.timeouts) != 1 {
		t.Errorf("%d holds placed, want 1 (eroute's own trap only)", len(w.monitor.timeouts))
	}
	if got, _ := os.ReadFile(out); string(got) != "10.1.0.9\n" {
		t.Errorf("--exec ran for %q, want once, for eroute's own trap", got)
	}

	w.monitor.events = []any{foreignTrapped()}
	if code := w.run("--monitor", "--json"); code != 0 {
		t.Fatal(code)
	}
	var got map[string]any
	if err := json.Unmarshal(w.stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["owner"] != "foreign" || got["mark"] != 1.0 || got["mask"] != 255.0 || !strings.HasPrefix(got["hold"].(string), "none") {
		t.Errorf("JSON %v", got)
	}
}

// With --all a foreign trap gets a hold in its own scope and --exec; a
// trap of priority below 10 cannot be outranked, so no hold.
func TestMonitorForeignAll(t *testing.T) {
	w := newWorld(t)
	out := filepath.Join(t.TempDir(), "execs")
	scoped := foreignTrapped()
	scoped.Priority = 200
	top := foreignTrapped()
	top.Flow.Dst = netip.MustParsePrefix("10.1.0.10/32")
	w.monitor.events = []any{scoped, top}
	if code := w.run("--monitor", "--all", "--exec", "echo $EROUTE_DST >> "+out); code != 0 {
		t.Fatalf("status %d, stderr %q", code, w.stderr.String())
	}
	hold := Hold{Selector: msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0), Scope: Scope{Mark: 1, Mask: 0xff}}
	if len(w.monitor.deleted) != 1 || w.monitor.deleted[0] != hold {
		t.Errorf("holds made (deleted on exit) %v, want [%v]", w.monitor.deleted, hold)
	}
	lines := strings.Split(strings.TrimSpace(w.stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "(foreign, mark 0x1/0xff); hold placed") ||
		!strings.HasSuffix(lines[1], "hold none: nothing wins over the trapping policy's priority 0") {
		t.Errorf("lines %q", lines)
	}
	if got, _ := os.ReadFile(out); len(got) != len("10.1.0.9\n10.1.0.10\n") || !strings.Contains(string(got), "10.1.0.9\n") || !strings.Contains(string(got), "10.1.0.10\n") {
		t.Errorf("--exec ran for %q, want twice", got)
	}
}

// A hold for an own scoped trap (a policy eroute would never scope, but
// the rule is the same) and the priority handed to the kernel.
func TestMonitorHoldBelowTrap(t *testing.T) {
	w := newWorld(t)
	w.monitor.events = []any{trapped()}
	w.mustRun(t, "--monitor")
	hold := Hold{Selector: msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0)}
	if len(w.monitor.deleted) != 1 || w.monitor.deleted[0] != hold {
		t.Fatalf("holds %v", w.monitor.deleted)
	}
}

func TestMonitorWarnsAcquireExpiry(t *testing.T) {
	w := newWorld(t)
	w.monitor.acqExpires = 165 * time.Second
	w.monitor.events = []any{trapped()}
	if code := w.run("--monitor"); code != 0 {
		t.Fatal(code)
	}
	want := "eroute: monitor: net.core.xfrm_acq_expires is 165 s in this network namespace, more than --hold-timeout 30 s"
	if strings.Count(w.stderr.String(), "\n") != 1 || !strings.HasPrefix(w.stderr.String(), want) {
		t.Errorf("stderr %q, want one warning %q", w.stderr.String(), want)
	}
	w.monitor.acqExpires = 30 * time.Second
	w.monitor.events = []any{trapped()}
	if code := w.run("--monitor"); code != 0 || strings.Contains(w.stderr.String(), "xfrm_acq_expires") {
		t.Errorf("status %d, stderr %q: no warning wanted when equal", code, w.stderr.String())
	}
}

// epipeWriter is standard output whose reader went away.
type epipeWriter struct{ writes int }

func (e *epipeWriter) Write(b []byte) (int, error) {
	e.writes++
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// When standard output goes away the monitor says so, removes its holds
// and ends with status 1, without waiting for more ACQUIREs.
func TestMonitorOutputClosed(t *testing.T) {
	w := newWorld(t)
	w.monitor.events = []any{trapped(), trapped(), trapped()}
	env := w.env()
	out := &epipeWriter{}
	env.Stdout = out
	if code := Run([]string{"--monitor"}, env); code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	if want := "eroute: monitor: standard output is closed"; !strings.HasPrefix(w.stderr.String(), want) || strings.Count(w.stderr.String(), "\n") != 1 {
		t.Errorf("stderr %q, want one line starting %q", w.stderr.String(), want)
	}
	if out.writes != 1 || len(w.monitor.events) != 2 {
		t.Errorf("%d writes, %d events left: want the monitor to stop at the first failed write", out.writes, len(w.monitor.events))
	}
	if len(w.monitor.holds) != 0 || len(w.monitor.deleted) != 1 {
		t.Errorf("holds left %v, deleted %v", w.monitor.holds, w.monitor.deleted)
	}
}

// Notes of the kernel side: an eroute taken over and put back.
func TestMonitorTakeoverNotes(t *testing.T) {
	w := newWorld(t)
	trap := eroute.Eroute{Selector: msel("10.1.0.0/16", "10.2.0.0/16", 0, 0, 0), SAID: eroute.Trap}
	by := eroute.Eroute{Selector: trap.Selector, SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0xc3cb7566, Dst: netip.MustParseAddr("10.0.0.2")}}
	w.monitor.events = []any{&TakenOver{Eroute: trap, By: by}, &Restored{Eroute: trap}, &Restored{Eroute: trap, Err: errors.New("boom")}}
	if code := w.run("--monitor"); code != 0 {
		t.Fatal(code)
	}
	for _, want := range []string{
		"eroute: monitor: 10.1.0.0/16 -> 10.2.0.0/16 => %trap was replaced by a policy eroute did not make (tun0xc3cb7566@10.0.0.2): it is put back when that policy goes\n",
		"eroute: monitor: put back 10.1.0.0/16 -> 10.2.0.0/16 => %trap: the policy that had replaced it was removed\n",
		"cannot put back 10.1.0.0/16 -> 10.2.0.0/16 => %trap, whose selector the policy that replaced it left empty: boom\n",
	} {
		if !strings.Contains(w.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", w.stderr.String(), want)
		}
	}
}

func TestMonitorExecOptions(t *testing.T) {
	w := newWorld(t)
	for args, want := range map[string]string{
		"--monitor --exec-max 4":                                               "eroute: --exec-max goes with --exec only\n",
		"--monitor --exec true --exec-max 0":                                   "eroute: Invalid --exec-max parameter \"0\": want a number of hooks from 1 to 4096\n",
		"--monitor --exec true --exec-max 5000":                                "eroute: Invalid --exec-max parameter \"5000\": want a number of hooks from 1 to 4096\n",
		"--monitor --exec true --exec-queue -1":                                "eroute: Invalid --exec-queue parameter \"-1\": want a number of ACQUIREs from 0 to 1048576\n",
		"--monitor --exec true --exec-timeout 0":                               "eroute: Invalid --exec-timeout parameter \"0\": want a whole number of seconds from 1\n",
		"--exec-timeout 3 --list":                                              "eroute: option '--list' not recognised\n",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --exec-queue 3": "eroute: --exec-queue goes with --monitor only\n",
	} {
		if strings.Contains(args, "--list") {
			continue
		}
		if code := w.run(strings.Fields(args)...); code != 1 || w.stderr.String() != want {
			t.Errorf("eroute %s: status %d, stderr %q, want %q", args, code, w.stderr.String(), want)
		}
	}
	p := Parser{}
	req, err := p.Parse(strings.Fields("--monitor --exec true --exec-max 3 --exec-queue 0 --exec-timeout 9"))
	if err != nil || req.ExecMax != 3 || req.ExecQueue != 0 || req.ExecTimeout != 9*time.Second {
		t.Errorf("%+v, %v", req, err)
	}
	req, err = p.Parse(strings.Fields("--monitor --exec true"))
	if err != nil || req.ExecMax != DefaultExecMax || req.ExecQueue != DefaultExecQueue || req.ExecTimeout != DefaultExecTimeout {
		t.Errorf("defaults: %+v, %v", req, err)
	}
}

// syncBuffer is a bytes.Buffer for hooks that write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testHooks(t *testing.T, exec string, max, queue int, timeout time.Duration) (*hooks, *syncBuffer) {
	out := &syncBuffer{}
	h := newHooks(Request{Exec: exec, ExecMax: max, ExecQueue: queue, ExecTimeout: timeout}, out,
		func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) })
	t.Cleanup(func() { h.close(0) })
	return h, out
}

func (h *hooks) counts() (running, queued int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.running), len(h.queue)
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// At most max hooks run, queueMax wait, the rest are dropped and counted;
// the queued ones run, in order, as slots free up.
func TestHooksBounded(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	log := filepath.Join(dir, "log")
	h, out := testHooks(t, "echo $EROUTE_DST_PORT >> "+log+"; while [ ! -e "+gate+" ]; do sleep 0.05; done", 2, 2, time.Minute)
	var got []string
	for port := uint16(1); port <= 6; port++ {
		ev := trapped()
		ev.Flow.DstPort = port
		got = append(got, h.submit(ev, ""))
	}
	want := []string{"started", "started", "queued", "queued", "dropped", "dropped"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("submit gave %v, want %v", got, want)
	}
	if r, q := h.counts(); r != 2 || q != 2 {
		t.Errorf("%d running, %d queued; want 2 and 2", r, q)
	}
	if !strings.Contains(out.String(), "--exec: 1 ACQUIREs got no hook so far: 2 hooks running (--exec-max) and 2 waiting (--exec-queue)") {
		t.Errorf("drops not reported: %q", out.String())
	}
	// Both running hooks have logged their port before the gate opens: on
	// a loaded machine the second shell may not have started yet.
	logged := func() int { b, _ := os.ReadFile(log); return len(strings.Fields(string(b))) }
	if !waitFor(10*time.Second, func() bool { return logged() == 2 }) {
		t.Fatalf("%d hooks logged before the gate opened, want 2", logged())
	}
	os.WriteFile(gate, nil, 0o600)
	if !waitFor(10*time.Second, func() bool { r, q := h.counts(); return r == 0 && q == 0 }) {
		t.Fatal("hooks did not drain")
	}
	b, _ := os.ReadFile(log)
	if lines := strings.Fields(string(b)); len(lines) != 4 || lines[0]+lines[1] != "12" && lines[0]+lines[1] != "21" ||
		lines[2]+lines[3] != "34" && lines[2]+lines[3] != "43" {
		t.Errorf("hooks ran for ports %q, want 1 and 2, then 3 and 4", lines)
	}
	h.close(time.Second)
	if !strings.Contains(out.String(), "--exec: 2 ACQUIREs got no hook so far") {
		t.Errorf("final count of drops missing: %q", out.String())
	}
}

// alive tells whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// readPid waits for a file with a process id in it.
func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	if !waitFor(10*time.Second, func() bool {
		b, err := os.ReadFile(file)
		_, serr := fmt.Sscan(string(b), &pid)
		return err == nil && serr == nil
	}) {
		t.Fatalf("no pid in %s", file)
	}
	return pid
}

// A hook that runs out of time loses its whole process group.
func TestHooksTimeout(t *testing.T) {
	bg := filepath.Join(t.TempDir(), "bg")
	h, out := testHooks(t, "sleep 60 & echo $! > "+bg+"; wait", 1, 0, 300*time.Millisecond)
	start := time.Now()
	h.submit(trapped(), "")
	pid := readPid(t, bg)
	if !waitFor(10*time.Second, func() bool { r, _ := h.counts(); return r == 0 }) {
		t.Fatal("hook not ended after its time limit")
	}
	if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
		t.Errorf("the hook's background sleep (pid %d) survived", pid)
	}
	if !strings.Contains(out.String(), "still running after 300ms (--exec-timeout): its process group was ended") {
		t.Errorf("timeout not reported: %q", out.String())
	}
	t.Logf("ended after %v", time.Since(start))
}

// Closing waits for running hooks up to the grace, then ends their
// process groups, even one that ignores SIGTERM; queued hooks never run.
func TestHooksClose(t *testing.T) {
	dir := t.TempDir()
	h, out := testHooks(t, "trap '' TERM; echo $$ > "+dir+"/$EROUTE_DST_PORT; sleep 60 & wait; sleep 60", 1, 5, time.Minute)
	for port := uint16(1); port <= 3; port++ {
		ev := trapped()
		ev.Flow.DstPort = port
		h.submit(ev, "")
	}
	pid := readPid(t, filepath.Join(dir, "1"))
	start := time.Now()
	h.close(200 * time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("close took %v", d)
	}
	if r, q := h.counts(); r != 0 || q != 0 || alive(pid) {
		t.Errorf("after close: %d running, %d queued, shell alive %v", r, q, alive(pid))
	}
	if _, err := os.Stat(filepath.Join(dir, "2")); err == nil {
		t.Error("a queued hook ran after close")
	}
	for _, want := range []string{"--exec: 2 queued hooks not run: the monitor is ending", "--exec: ending 1 hooks still running after 200ms"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output %q lacks %q", out.String(), want)
		}
	}
	if got := h.submit(trapped(), ""); got != "dropped" {
		t.Errorf("submit after close: %s", got)
	}
}
