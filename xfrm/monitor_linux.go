package xfrm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"golang.org/x/sys/unix"
)

// Listener reads the ACQUIREs and policy expiries of one namespace. Calls
// of Next wait for each other; Close may be called from any goroutine.
type Listener struct {
	c       *nlConn    // waits without a timeout: Close ends the wait
	mu      sync.Mutex // held by Next; guards pending
	pending []Event    // decoded, not yet returned: a datagram may hold several
	skip    uint64     // message types not asked for (ListenOptions.skip)
}

// Listen opens a NETLINK_XFRM socket inside the network namespace called
// netnsName ("" the caller's own), as Open does, subscribed to the groups
// XFRMNLGRP_ACQUIRE and XFRMNLGRP_EXPIRE. While it is open the kernel makes
// a larval SA for each ACQUIRE it sends (with no subscriber it sends none
// and just drops the packet). rcvbuf sets the receive buffer in bytes
// (SO_RCVBUFFORCE, which passes net.core.rmem_max; the kernel doubles the
// value and applies its minimum); 0 keeps the kernel's default.
func Listen(netnsName string, rcvbuf int) (*Listener, error) {
	return ListenWith(ListenOptions{Netns: netnsName, RcvBuf: rcvbuf})
}

// listen opens a listener subscribed to groups (a bit mask of XFRMNLGRP_*).
func listen(netnsName string, rcvbuf int, groups uint32) (*Listener, error) {
	if rcvbuf < 0 {
		return nil, fmt.Errorf("receive buffer of %d bytes", rcvbuf)
	}
	c, err := dialIn(netnsName, dialConfig{proto: unix.NETLINK_XFRM, groups: groups, rcvbuf: rcvbuf})
	if err != nil {
		return nil, err
	}
	return &Listener{c: c}, nil
}

// Next blocks for the next event of those the Listener was opened for
// (see Event); other messages, and messages that do not decode, are
// skipped. ErrOverrun when the kernel
// dropped messages because the receive buffer was full: the socket stays
// usable and the next call goes on listening. ErrClosed after Close.
func (l *Listener) Next() (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.c.closed.Load() {
		if len(l.pending) > 0 {
			ev := l.pending[0]
			l.pending = l.pending[1:]
			return ev, nil
		}
		b, err := l.c.read(false)
		switch {
		case l.c.closed.Load():
		case errors.Is(err, errTruncated):
		case errors.Is(err, ErrOverrun): // reported once; the queue goes on
			return nil, err
		case errors.Is(err, os.ErrDeadlineExceeded): // SetDeadline's; the listener goes on
			return nil, errListenDeadline
		case err != nil:
			return nil, fmt.Errorf("cannot read the XFRM netlink socket: %w", err)
		default:
			l.pending = appendEvents(l.pending, b, l.skip)
		}
	}
	return nil, ErrClosed
}

// drained tells whether nothing is waiting to be read: no decoded event,
// no datagram in the socket.
func (l *Listener) drained() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) == 0 && !l.c.queued()
}

// Close releases the socket. It may be called from any goroutine, and
// makes a pending Next return ErrClosed at once.
// Only the first call does; later ones give what it gave.
func (l *Listener) Close() error { return l.c.close() }

// errListenDeadline is Next's wait past the Listener's deadline.
var errListenDeadline = &timeoutError{"no event before the listener's deadline", unix.EAGAIN}

// SetDeadline bounds the waits of Next: once t has passed with nothing to
// return, Next gives an error that matches os.ErrDeadlineExceeded, and the
// listener stays usable (a later deadline, or the zero time for none, lets
// it wait again). Events already received are returned first. It may be
// called from another goroutine while Next waits.
func (l *Listener) SetDeadline(t time.Time) error { return l.c.sock.setReadDeadline(t) }

// ClaimMonitor makes sure one monitor runs per namespace: it takes the
// namespace's "monitor" lock (internal/nslock: a flock on a file in the
// root-only /run/eroute, named by the namespace's inode), which only root
// can take, so no other user can keep a monitor from starting (an
// abstract unix socket, used before, could be bound by anyone). The kernel
// releases the lock when the process dies, even by SIGKILL: no stale lock
// is possible; the descriptor is not inherited by the commands the monitor
// starts. ErrMonitorRunning when the namespace is claimed.
func ClaimMonitor(netnsName string) (io.Closer, error) {
	l, err := nslock.Acquire(netnsName, "monitor", 0)
	var busy *nslock.BusyError
	switch {
	case errors.As(err, &busy) && busy.PID > 0:
		return nil, sentinel{fmt.Errorf("%w (pid %d)", ErrMonitorRunning, busy.PID), err}
	case errors.Is(err, nslock.ErrBusy):
		return nil, sentinel{ErrMonitorRunning, err}
	case err != nil:
		return nil, fmt.Errorf("cannot take the monitor lock: %w", err)
	}
	return &claim{l: l}, nil
}

// claim is a monitor's lock.
type claim struct {
	once sync.Once
	l    *nslock.Lock
}

// Close gives up the claim; later calls do nothing.
func (c *claim) Close() error {
	var err error
	c.once.Do(func() { err = c.l.Release() })
	return err
}

// AcquireExpiry reads net.core.xfrm_acq_expires of the network namespace
// called netnsName ("" own): how long the kernel keeps the larval state
// of a trapped flow, during which the flow ACQUIREs no more. /proc/sys/net
// shows the namespace of the thread that opens it, so the file is opened
// on a thread inside the namespace.
func AcquireExpiry(netnsName string) (time.Duration, error) {
	return inNamespace(netnsName, func() (time.Duration, error) {
		b, err := os.ReadFile("/proc/sys/net/core/xfrm_acq_expires")
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		if err != nil {
			return 0, fmt.Errorf("net.core.xfrm_acq_expires: %w", err)
		}
		return time.Duration(n) * time.Second, nil
	})
}
