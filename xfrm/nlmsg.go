package xfrm

import (
	"errors"
	"os"
	"syscall"
)

// message is one netlink message of a datagram, parsed in place.
type message struct {
	typ, flags uint16
	seq, pid   uint32
	data       []byte
}

// nextMessage splits the first message off b; ok false at the end or on
// a malformed header (the rest of the datagram is then dropped). It is the
// package's one walk over netlink headers: answers, dumps, refusals of a
// run, notifications and events all go through it.
func nextMessage(b []byte) (m message, rest []byte, ok bool) {
	if len(b) < sizeNlmsghdr {
		return message{}, nil, false
	}
	n := int(ne.Uint32(b))
	if n < sizeNlmsghdr || n > len(b) {
		return message{}, nil, false
	}
	m = message{
		typ:   ne.Uint16(b[4:]),
		flags: ne.Uint16(b[6:]),
		seq:   ne.Uint32(b[8:]),
		pid:   ne.Uint32(b[12:]),
		data:  b[sizeNlmsghdr:n],
	}
	return m, b[min(align4(n), len(b)):], true
}

// OpError is a netlink exchange that failed: the kernel refused a request
// (Errno, with the kernel's extended-ack text when it gave one), or the
// socket failed (Err: a timeout, a closed socket, lost messages). errors.Is
// finds both the errno and Err in it: unix.EEXIST, os.ErrDeadlineExceeded,
// net.ErrClosed, ErrOverrun.
type OpError struct {
	// Op is what failed: "send", "receive", or "request" for a refusal.
	Op string
	// Seq is the sequence number of the request the error answers; 0 when
	// the failure belongs to no request (a listener's socket).
	Seq uint32
	// Errno is the kernel's errno; 0 when there was none.
	Errno syscall.Errno
	// ExtAck is the kernel's own words (NLMSGERR_ATTR_MSG), "" for none.
	ExtAck string
	// Err is the failure other than the errno, nil for a refusal.
	Err error
}

func (e *OpError) Error() string {
	var s string
	switch {
	case e.Err != nil:
		s = e.Err.Error()
	default:
		s = e.Errno.Error()
	}
	if e.ExtAck != "" {
		s += " (" + e.ExtAck + ")"
	}
	return s
}

func (e *OpError) Unwrap() []error {
	switch {
	case e.Err == nil:
		return []error{e.Errno}
	case e.Errno == 0:
		return []error{e.Err}
	}
	return []error{e.Err, e.Errno}
}

// Timeout tells whether a wait for the kernel ran out of time.
func (e *OpError) Timeout() bool { return errors.Is(e.Err, os.ErrDeadlineExceeded) }
