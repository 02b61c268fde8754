package cli

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// fakeMonitor plays a list of events, then stops as after SIGINT.
type fakeMonitor struct {
	mu       sync.Mutex
	events   []any // *Acquired, *HoldReaped, or error
	holds    map[eroute.Selector]bool
	timeouts []time.Duration
	stale    []eroute.Selector
	deleted  []eroute.Selector
	closed   bool
}

func (f *fakeMonitor) Next() (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		return nil, ErrStopped
	}
	ev := f.events[0]
	f.events = f.events[1:]
	if err, ok := ev.(error); ok {
		return nil, err
	}
	if r, ok := ev.(*HoldReaped); ok {
		delete(f.holds, r.Selector)
	}
	return ev, nil
}

func (f *fakeMonitor) StopListening() {}

func (f *fakeMonitor) AddHold(sel eroute.Selector, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holds[sel] {
		return ErrHoldExists
	}
	f.holds[sel] = true
	f.timeouts = append(f.timeouts, timeout)
	return nil
}

func (f *fakeMonitor) DeleteHold(sel eroute.Selector) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, sel)
	had := f.holds[sel]
	delete(f.holds, sel)
	return had, nil
}

func (f *fakeMonitor) StaleHolds() ([]eroute.Selector, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.stale {
		f.holds[s] = true
	}
	return f.stale, nil
}

func (f *fakeMonitor) Close() error { f.closed = true; return nil }

func msel(src, dst string, proto uint8, sport, dport uint16) eroute.Selector {
	return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), Proto: proto, SrcPort: sport, DstPort: dport}
}

// trapped is an ACQUIRE for a UDP flow 10.0.0.1:4000 -> 10.1.0.9:53 that
// met the %trap eroute 10.0.0.0/8 -> 10.1.0.0/16.
func trapped() *Acquired {
	return &Acquired{
		Flow:   msel("10.0.0.1/32", "10.1.0.9/32", 17, 4000, 53),
		Eroute: eroute.Eroute{Selector: msel("10.0.0.0/8", "10.1.0.0/16", 0, 0, 0), SAID: eroute.Trap},
	}
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
	hold := msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0)
	if len(w.monitor.timeouts) != 1 || w.monitor.timeouts[0] != 7*time.Second {
		t.Errorf("hold timeouts %v, want one of 7s", w.monitor.timeouts)
	}
	// On exit the monitor removes the holds it made.
	if len(w.monitor.deleted) != 1 || w.monitor.deleted[0] != hold || w.monitor.holds[hold] {
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
	w.monitor.events = []any{ErrOverrun, ErrOverrun, trapped()}
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
	stale := msel("10.9.0.1/32", "10.9.0.2/32", 0, 0, 0)
	w.monitor.stale = []eroute.Selector{stale}
	hold := msel("10.0.0.1/32", "10.1.0.9/32", 0, 0, 0)
	w.monitor.events = []any{trapped(), &HoldReaped{Selector: hold}}
	if code := w.run("--monitor"); code != 0 {
		t.Fatalf("status %d", code)
	}
	if w.monitor.holds[stale] {
		t.Error("stale hold left in place")
	}
	for _, want := range []string{"removed 1 stale %hold eroutes", "timed out and was removed; the %trap fires again"} {
		if !strings.Contains(w.stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", w.stderr.String(), want)
		}
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
