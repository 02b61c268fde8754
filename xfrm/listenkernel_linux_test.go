package xfrm

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// On the real kernel: Close from another goroutine ends a Next that waits
// (ErrClosed, net.ErrClosed), and later calls of Next and Close give the
// same.
func TestKernelListenerCloseWhileWaiting(t *testing.T) {
	ns := newNetns(t)
	l, err := ListenWith(ListenOptions{Netns: ns, Policies: true, SAs: true})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := l.Next()
		got <- err
	}()
	// Next is waiting, or about to: Close must end it either way.
	time.Sleep(20 * time.Millisecond)
	first := l.Close()
	select {
	case err := <-got:
		if !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Next: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still waits 10 s after Close")
	}
	if err := l.Close(); err != first {
		t.Errorf("second Close: %v, first: %v", err, first)
	}
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

// A listener of policy changes with the smallest receive buffer, under a
// batch of 2,000 adds: Next says ErrOverrun (ENOBUFS) once, and then goes
// on, with the events that come after.
func TestKernelListenerOverrunGoesOn(t *testing.T) {
	tab, ns := openTable(t)
	l, err := ListenWith(ListenOptions{Netns: ns, Policies: true, RcvBuf: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ops := make([]PolicyOp, 2000)
	for i := range ops {
		ops[i] = PolicyOp{PolicyAdd, edgePolicy(i, 10)}
	}
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	overruns := 0
	for !l.drained() {
		_, err := l.Next()
		switch {
		case errors.Is(err, ErrOverrun):
			if !errors.Is(err, unix.ENOBUFS) {
				t.Errorf("%v is not ENOBUFS", err)
			}
			overruns++
		case err != nil:
			t.Fatal(err)
		}
	}
	if overruns != 1 {
		t.Errorf("%d overruns reported, want 1", overruns)
	}
	last := edgePolicy(5000, 10)
	if err := tab.AddPolicy(last); err != nil {
		t.Fatal(err)
	}
	ev, err := l.Next()
	pc, ok := ev.(*PolicyChange)
	if err != nil || !ok || pc.Policy.Sel.Src != last.Sel.Src || pc.Deleted {
		t.Errorf("Next after the overrun: %+v, %v", ev, err)
	}
}

// On the real kernel: a listener's deadline ends a Next that waits with an
// error that matches os.ErrDeadlineExceeded; with the deadline lifted, the
// same listener reports the next policy change.
func TestKernelListenerDeadline(t *testing.T) {
	tab, ns := openTable(t)
	l, err := ListenWith(ListenOptions{Netns: ns, Policies: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.SetDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if ev, err := l.Next(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Next with nothing to read: %v, %v; want a deadline error", ev, err)
	}
	if err := l.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := tab.AddPolicy(edgePolicy(1, 10)); err != nil {
		t.Fatal(err)
	}
	ev, err := l.Next()
	if _, ok := ev.(*PolicyChange); err != nil || !ok {
		t.Fatalf("Next after an add: %T %v, want a *PolicyChange", ev, err)
	}
}
