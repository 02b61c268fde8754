package xfrm

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"golang.org/x/sys/unix"
)

// recvSize holds any one message the kernel multicasts: an ACQUIRE or a
// POLEXPIRE is a few hundred bytes, more with many templates.
const recvSize = 64 << 10

// Listener reads the ACQUIREs and policy expiries of one namespace. Calls
// of Next wait for each other; Close may be called from any goroutine.
type Listener struct {
	f       *os.File // non-blocking: Go's poller waits for it, Close wakes it
	rc      syscall.RawConn
	closed  atomic.Bool
	mu      sync.Mutex // held by Next; guards pending and buf
	pending []Event    // decoded, not yet returned: a datagram may hold several
	skip    uint64     // message types not asked for (ListenOptions.skip)
	buf     []byte

	closeOnce sync.Once
	closeErr  error // what Close gave
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
	fd, err := inNamespace(netnsName, func() (int, error) { return listenSocket(rcvbuf, groups) })
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "NETLINK_XFRM")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Listener{f: f, rc: rc, buf: make([]byte, recvSize)}, nil
}

// listenSocket makes the subscribed socket in the calling thread's
// namespace. Joining XFRM groups takes CAP_NET_ADMIN (EPERM otherwise).
func listenSocket(rcvbuf int, groups uint32) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_XFRM)
	if err != nil {
		return -1, socketError(err, "")
	}
	if err := setRcvbuf(fd, rcvbuf); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return -1, socketError(err, "")
	}
	return fd, nil
}

// setRcvbuf tries SO_RCVBUFFORCE first: a monitor that must not lose
// ACQUIREs may need more than net.core.rmem_max, the cap of SO_RCVBUF.
func setRcvbuf(fd, n int) error {
	if n == 0 {
		return nil
	}
	err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
	if errors.Is(err, unix.EPERM) {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
	if err != nil {
		return fmt.Errorf("cannot set the receive buffer to %d bytes: %w", n, err)
	}
	return nil
}

// Next blocks for the next event of those the Listener was opened for
// (see Event); other messages, and messages that do not decode, are
// skipped. ErrOverrun when the kernel
// dropped messages because the receive buffer was full: the socket stays
// usable and the next call goes on listening. ErrClosed after Close.
func (l *Listener) Next() (Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.closed.Load() {
		if len(l.pending) > 0 {
			ev := l.pending[0]
			l.pending = l.pending[1:]
			return ev, nil
		}
		b, err := l.receive()
		if err != nil {
			return nil, err
		}
		l.pending = appendEvents(l.pending, b, l.skip)
	}
	return nil, ErrClosed
}

// drained tells whether nothing is waiting to be read: no decoded event,
// no datagram in the socket.
func (l *Listener) drained() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) > 0 {
		return false
	}
	empty := true
	var one [1]byte
	l.rc.Control(func(fd uintptr) {
		_, _, err := unix.Recvfrom(int(fd), one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		empty = err == unix.EAGAIN
	})
	return empty
}

// receive reads one datagram: nil for one to skip (not from the kernel,
// or cut short by the buffer). The wait is the runtime poller's, so that
// Close, which evicts the file from the poller, ends it.
func (l *Listener) receive() ([]byte, error) {
	var n, flags int
	var from unix.Sockaddr
	var rerr error
	err := l.rc.Read(func(fd uintptr) bool {
		for {
			n, _, flags, from, rerr = unix.Recvmsg(int(fd), l.buf, nil, 0)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	switch {
	case l.closed.Load():
		return nil, ErrClosed
	case err != nil:
		return nil, err
	case rerr == unix.ENOBUFS: // reported once; the queue goes on
		return nil, ErrOverrun
	case rerr != nil:
		return nil, fmt.Errorf("cannot read the XFRM netlink socket: %w", rerr)
	case flags&unix.MSG_TRUNC != 0 || !fromKernel(from):
		return nil, nil
	}
	return l.buf[:n], nil
}

// fromKernel: only root may send to XFRM groups, but the kernel's port is 0.
func fromKernel(from unix.Sockaddr) bool {
	sa, ok := from.(*unix.SockaddrNetlink)
	return ok && sa.Pid == 0
}

// Close releases the socket. It may be called from any goroutine, and
// makes a pending Next return ErrClosed at once.
// Only the first call does; later ones give what it gave.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		l.closeErr = l.f.Close()
	})
	return l.closeErr
}

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
