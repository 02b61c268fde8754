package xfrm

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// A library's caller tells the errors apart with errors.Is: by this
// package's kinds, by the standard errors of each kind, and by the errno.
func TestErrorsMatchTheirKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		is   []error
	}{
		{"add in use", kernelError(unix.EEXIST, unix.EEXIST, ErrExists), []error{ErrExists, fs.ErrExist, unix.EEXIST}},
		{"delete of nothing", kernelError(unix.ENOENT, unix.ENOENT, ErrNotFound), []error{ErrNotFound, fs.ErrNotExist, unix.ENOENT}},
		{"no privilege", kernelError(unix.EPERM, 0, nil), []error{ErrPermission, fs.ErrPermission, unix.EPERM}},
		{"no privilege to read", forReading(kernelError(unix.EACCES, 0, nil)), []error{ErrReadPermission, ErrPermission, fs.ErrPermission, unix.EACCES}},
		{"setns refused", setnsError(unix.EPERM, "ns"), []error{ErrNetnsPermission, ErrPermission, fs.ErrPermission, unix.EPERM}},
		{"no XFRM", socketError(unix.EPROTONOSUPPORT, ""), []error{ErrNoXFRM, errors.ErrUnsupported, unix.EPROTONOSUPPORT}},
		{"timeout", new(nlConn).opError("receive", 7, os.ErrDeadlineExceeded), []error{os.ErrDeadlineExceeded, unix.EAGAIN}},
		{"overrun", new(nlConn).opError("receive", 0, unix.ENOBUFS), []error{ErrOverrun, unix.ENOBUFS}},
		{"dump interrupted", doneError(message{data: []byte{0, 0, 0, 0}}, true), []error{ErrDumpInterrupted}},
		{"closed", ErrClosed, []error{net.ErrClosed}},
	}
	for _, tt := range tests {
		for _, want := range tt.is {
			if !errors.Is(tt.err, want) {
				t.Errorf("%s: %q is not %q", tt.name, tt.err, want)
			}
		}
	}
	// A read refusal is not a setns refusal; an add in use is no privilege matter.
	if err := forReading(kernelError(unix.EPERM, 0, nil)); errors.Is(err, ErrNetnsPermission) {
		t.Errorf("a read refusal is a setns refusal: %v", err)
	}
	if err := kernelError(unix.EEXIST, unix.EEXIST, ErrExists); errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ErrExists matches another kind: %v", err)
	}
	var se *os.SyscallError
	if err := setnsError(unix.EPERM, "ns"); !errors.As(err, &se) || se.Syscall != "setns" {
		t.Errorf("setns refusal %v names no system call", err)
	}
	var timeout interface{ Timeout() bool }
	if err := new(nlConn).opError("receive", 0, os.ErrDeadlineExceeded); !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("%v is not a timeout", err)
	}
	if err := new(nlConn).opError("receive", 0, unix.EINVAL); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("EINVAL gave a timeout: %v", err)
	}
	if err := doneError(message{data: []byte{0, 0, 0, 0}}, false); err != nil {
		t.Errorf("an uninterrupted dump ended with %v", err)
	}
}

// Close may be called again and gives what the first call gave; a second
// Close does not close the descriptor another socket got meanwhile.
func TestKernelCloseTwice(t *testing.T) {
	ns := newNetns(t)
	tab, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := tab.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ns, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeAll := func(round int) {
		t.Helper()
		if err := snap.Close(); err != nil {
			t.Errorf("Snapshot.Close #%d: %v", round, err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Listener.Close #%d: %v", round, err)
		}
		if err := tab.Close(); err != nil {
			t.Errorf("Table.Close #%d: %v", round, err)
		}
	}
	closeAll(1)
	// The lowest free descriptors, which the closed ones were.
	other, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	closeAll(2)
	e := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}, SAID: eroute.Drop}
	if err := other.Add(e); err != nil {
		t.Errorf("a table opened between two Closes of another: %v", err)
	}
	if _, err := l.Next(); !errors.Is(err, ErrClosed) {
		t.Errorf("Next after Close: %v", err)
	}
}

// OpenOptions.Timeout is the socket's, and the words of a wait that ran out.
func TestOpenTimeout(t *testing.T) {
	tab, err := OpenWith(OpenOptions{Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Skip("no XFRM socket here:", err)
	}
	defer tab.Close()
	if tab.c.timeout != 1500*time.Millisecond {
		t.Errorf("the table's socket waits %v", tab.c.timeout)
	}
	dc, err := tab.newConn()
	if err != nil {
		t.Fatal(err)
	}
	defer dc.close()
	if dc.timeout != 1500*time.Millisecond {
		t.Errorf("Clear's socket waits %v", dc.timeout)
	}
	if err := (&nlConn{timeout: 3 * time.Second}).opError("receive", 0, os.ErrDeadlineExceeded); err.Error() != "no answer from the kernel within 3s" {
		t.Errorf("timeout text %q", err)
	}
	if err := new(nlConn).opError("receive", 0, os.ErrDeadlineExceeded); err.Error() != "no answer from the kernel within 10s" {
		t.Errorf("default timeout text %q", err)
	}
}
