package xfrm

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// TestGuardStateOfAnotherNamespace: a state file whose cookie is not the
// namespace's was left by a dead namespace whose inode this one reuses; it
// is removed, not applied.
func TestGuardStateOfAnotherNamespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	body := "# comment\nnetns-cookie 4\n4242 10.1.0.0/16 10.2.0.0/16 0 0 0 %trap\n"
	for _, tt := range []struct {
		cookie uint64
		want   int
	}{{4, 1}, {5, 0}} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		g := &Guard{path: path, cookie: tt.cookie, taken: map[uint32]takeover{}}
		if err := g.load(); err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(path)
		if len(g.taken) != tt.want || (tt.want == 0) != os.IsNotExist(statErr) {
			t.Errorf("cookie %d: %d take-overs read, file: %v; want %d", tt.cookie, len(g.taken), statErr, tt.want)
		}
		if tk := g.taken[4242]; tt.want == 1 && tk.Eroute.SAID.String() != "%trap" {
			t.Errorf("read %v", tk)
		}
	}
}

// TestGuardMissedTakeOver: a foreign policy that replaced an own eroute while
// the guard heard nothing of it (lost notifications) is found by the next
// reading of the table, reported as taken over, and the eroute is put back
// when that policy goes.
func TestGuardMissedTakeOver(t *testing.T) {
	tb, ns := openTable(t)
	e := er(t, "10.1.0.0/16", "10.2.0.0/16", "tun0x135@10.0.0.2")
	mustAdd(t, tb, e)
	g, err := OpenGuard(ns, "")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// UPDPOLICY keeps the index: the daemon's policy takes the eroute's place.
	ipn(t, ns, "xfrm", "policy", "update", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "out",
		"tmpl", "src", "10.0.0.1", "dst", "10.0.0.9", "proto", "esp", "mode", "tunnel")
	// Read the table again before the notification is handled, as Next does
	// after an overrun: only the reading can tell of the take-over.
	g.mu.Lock()
	err = g.reconcile(true)
	g.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ev := nextGuardEvent(t, g)
	if tk, ok := ev.(*TakenOver); !ok || tk.Eroute != e || tk.By.SAID.String() != "tun0x0@10.0.0.9" {
		t.Fatalf("got %#v, want the take-over of %v", ev, e)
	}
	ipn(t, ns, "xfrm", "policy", "delete", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "out")
	if ev := nextGuardEvent(t, g); !isRestored(ev, e) {
		t.Fatalf("got %#v, want %v put back", ev, e)
	}
	wantContains(t, policies(t, ns), "src 10.1.0.0/16 dst 10.2.0.0/16", "proto esp spi 0x00000135")
}

func isRestored(ev Event, e eroute.Eroute) bool {
	r, ok := ev.(*Restored)
	return ok && r.Err == nil && r.Eroute == e
}

// nextGuardEvent gives the guard's next event, or fails the test after 10 s.
func nextGuardEvent(t *testing.T, g *Guard) Event {
	t.Helper()
	type result struct {
		ev  Event
		err error
	}
	c := make(chan result, 1)
	go func() {
		ev, err := g.Next()
		c <- result{ev, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.ev
	case <-time.After(10 * time.Second):
		t.Fatal("no guard event in 10 s")
		return nil
	}
}
