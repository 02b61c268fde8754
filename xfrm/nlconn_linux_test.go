package xfrm

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// These tests drive nlConn, the one socket type, against the fake kernel.

// A kernel that never answers: the read deadline ends the wait, as a
// timeout that errors.Is finds as os.ErrDeadlineExceeded and EAGAIN, and
// that names the request it waited for.
func TestFakeDeadline(t *testing.T) {
	k := newFakeKernel()
	k.silent = true
	tab, _ := k.table()
	start := time.Now()
	err := tab.Add(fakeEroute(1, eroute.Drop))
	var oe *OpError
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, unix.EAGAIN) || !errors.As(err, &oe) || !oe.Timeout() {
		t.Fatalf("Add without an answer: %v", err)
	}
	if last := k.requests[len(k.requests)-1]; oe.Seq != last.seq {
		t.Errorf("the timeout names request %d, want %d", oe.Seq, last.seq)
	}
	if waited := time.Since(start); waited < fakeTimeout {
		t.Errorf("gave up after %v, before the deadline of %v", waited, fakeTimeout)
	}
	if want := "no answer from the kernel within " + fakeTimeout.String(); !errors.Is(err, os.ErrDeadlineExceeded) || oe.Error() != want {
		t.Errorf("timeout text %q, want %q", oe.Error(), want)
	}
}

// Close ends a receive that waits without a deadline (a listener's, or an
// exchange whose kernel never answers), from another goroutine.
func TestFakeCloseUnblocksReceive(t *testing.T) {
	k := newFakeKernel()
	k.silent = true
	tab, _ := k.table()
	tab.c.timeout = 0 // wait for ever
	done := make(chan error, 1)
	go func() { done <- tab.Add(fakeEroute(1, eroute.Drop)) }()
	select {
	case err := <-done:
		t.Fatalf("Add returned without an answer: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Add ended by Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting receive")
	}
	if err := tab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// The same for a Listener: Next waits until Close, then gives ErrClosed.
func TestFakeListenerClose(t *testing.T) {
	closeEndsNext(t, &Listener{c: &nlConn{sock: newFakeKernel().socket(0)}})
}

// A refusal names the request's sequence number and carries the kernel's
// words; the text is the one the command line has always shown.
func TestFakeRefusalSeqAndExtAck(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	if err := tab.Apply(addOps(0, 3)); err != nil {
		t.Fatal(err)
	}
	k.refuse = func(int, message) (unix.Errno, string) { return unix.EINVAL, "Invalid policy template" }
	err := tab.Replace(fakeEroute(1, eroute.Trap))
	var oe *OpError
	if !errors.As(err, &oe) || oe.Errno != unix.EINVAL || oe.ExtAck != "Invalid policy template" || oe.Op != "request" {
		t.Fatalf("Replace refused: %#v", err)
	}
	if last := k.requests[len(k.requests)-1]; last.typ != msgUpdPolicy || oe.Seq != last.seq {
		t.Errorf("the refusal names request %d, want %d (%+v)", oe.Seq, last.seq, last)
	}
	if err.Error() != "kernel refused the request: invalid argument (Invalid policy template)" {
		t.Errorf("text %q", err)
	}

	// In a batch, the refused request of the run.
	k.refuse = func(n int, m message) (unix.Errno, string) {
		if fakeSelectorIs(m, 11) {
			return unix.ENOSPC, "No room"
		}
		return 0, ""
	}
	from := len(k.requests)
	err = tab.Apply(addOps(10, 3))
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.As(err, &oe) || oe.Errno != unix.ENOSPC || oe.ExtAck != "No room" {
		t.Fatalf("Apply refused at op 1: %v", err)
	}
	for _, m := range k.requests[from:] {
		if m.seq == oe.Seq && m.typ != msgNewPolicy {
			t.Errorf("the refusal names request %d of type %d", oe.Seq, m.typ)
		}
	}
	if n := countSeq(k.requests[from:], oe.Seq, msgNewPolicy); n != 1 {
		t.Errorf("the refusal's sequence number %d is that of %d adds of the batch", oe.Seq, n)
	}
}

// fakeSelectorIs tells whether a NEWPOLICY request is for fakeEroute(i).
func fakeSelectorIs(m message, i int) bool {
	p, err := decodePolicy(m.data)
	return err == nil && p.Sel == selectorOf(fakeEroute(i, eroute.Drop).Selector)
}

func countSeq(ms []message, seq uint32, typ uint16) int {
	n := 0
	for _, m := range ms {
		if m.seq == seq && m.typ == typ {
			n++
		}
	}
	return n
}

// The kernel drops what does not fit in a listener's receive buffer, and
// the next read says so (sk_err comes before the queue): Next gives
// ErrOverrun (and ENOBUFS) once, then goes on with what was queued and
// what comes after.
func TestFakeListenerOverrun(t *testing.T) {
	acquire := readTestdata(t, "acquire-udp4.bin")
	k := newFakeKernel()
	s := k.socket(0)
	l := &Listener{c: &nlConn{sock: s}}
	defer l.Close()
	msg := s.reply(msgAcquire, 0, 0, acquire)
	s.capacity = 2 * len(msg)
	for range 3 { // the third does not fit
		s.deliver(msg)
	}
	if _, err := l.Next(); !errors.Is(err, ErrOverrun) || !errors.Is(err, unix.ENOBUFS) {
		t.Fatalf("Next after the overrun: %v", err)
	}
	for i := range 3 {
		if i == 2 {
			s.deliver(msg) // room again
		}
		if ev, err := l.Next(); err != nil {
			t.Fatalf("event %d after ErrOverrun: %v", i, err)
		} else if _, ok := ev.(*Acquire); !ok {
			t.Fatalf("event %d after ErrOverrun: %T", i, ev)
		}
	}
	if !l.drained() {
		t.Error("a listener that read everything is not drained")
	}
}

// A datagram longer than the listener's buffer is passed over.
func TestFakeListenerSkips(t *testing.T) {
	acquire := readTestdata(t, "acquire-udp4.bin")
	k := newFakeKernel()
	s := k.socket(0)
	l := &Listener{c: &nlConn{sock: s, rbuf: make([]byte, 1024)}}
	defer l.Close()
	msg := s.reply(msgAcquire, 0, 0, acquire)
	big := s.reply(msgAcquire, 0, 0, make([]byte, 2048))
	s.deliver(big)
	s.deliver(msg)
	if ev, err := l.Next(); err != nil {
		t.Fatalf("Next: %v", err)
	} else if _, ok := ev.(*Acquire); !ok {
		t.Fatalf("Next: %T", ev)
	}
}

// A listener's deadline ends a Next that has nothing to return with an
// error that matches os.ErrDeadlineExceeded, not before the deadline; the
// listener goes on (Close still ends the next wait with ErrClosed).
func TestFakeListenerDeadline(t *testing.T) {
	l := &Listener{c: &nlConn{sock: newFakeKernel().socket(0)}}
	const wait = 50 * time.Millisecond
	start := time.Now()
	if err := l.SetDeadline(start.Add(wait)); err != nil {
		t.Fatal(err)
	}
	_, err := l.Next()
	if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrClosed) || err.Error() != "no event before the listener's deadline" {
		t.Fatalf("Next past the deadline: %v", err)
	}
	if waited := time.Since(start); waited < wait {
		t.Errorf("Next gave up after %v, before the deadline of %v", waited, wait)
	}
	if err := l.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	closeEndsNext(t, l)
}
