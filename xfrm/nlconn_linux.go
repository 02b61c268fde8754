package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// defaultTimeout bounds every wait for an answer, so that a kernel that
// never answers cannot hang the tool (OpenOptions.Timeout changes it).
const defaultTimeout = 10 * time.Second

// recvBufSize holds any datagram the kernel sends us: dump datagrams are at
// most 32 KiB (the kernel's own cap), acknowledgements and notifications
// far less.
const recvBufSize = 64 << 10

// nlConn is the package's one netlink socket: under the Table, its batches
// (pipeline_linux.go), a Snapshot's watch, the Listener and the Guard. It
// is shaped like mdlayher/netlink's Conn (send one, send many in one
// write, receive the answers of a request or a multipart dump, errors
// carrying the sequence number and the kernel's words, the runtime poller
// with deadlines) but allocates nothing per message: answers are parsed in
// place in one reused buffer, and nothing a request or a dump reads is
// kept unless its caller copies it (see DESIGN.md, "One netlink socket").
//
// The descriptor is non-blocking and belongs to the runtime's poller: a
// wait ends at the deadline (timeout, for exchanges) or when Close evicts
// it. The kernel handles a request inside the write that sends it, and
// builds a dump's next datagram inside the read of the last, so an
// exchange finds its answers queued and never parks in the poller.
// Exchanges hold mu; Close may come from any goroutine.
type nlConn struct {
	mu   sync.Mutex
	sock socket
	pid  uint32 // our port id: answers to us carry it
	seq  uint32 // the last sequence number used
	rbuf []byte // receive buffer, made on first use
	wbuf []byte // one request being built
	// batchBufs is set once the socket buffers were enlarged for a batch;
	// rcvbuf is then the receive buffer the kernel granted, in bytes.
	batchBufs bool
	rcvbuf    int
	dumps     int           // dumps asked for: tests count them
	lost      bool          // queued took an ENOBUFS the next read gives
	timeout   time.Duration // bounds each wait for a datagram; 0: none (a listener)
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// dialConfig says what socket dial makes.
type dialConfig struct {
	proto   int           // NETLINK_XFRM, or NETLINK_ROUTE for the addresses
	groups  uint32        // multicast groups joined (a bit mask of XFRMNLGRP_*)
	rcvbuf  int           // receive buffer in bytes; 0 keeps the kernel's
	timeout time.Duration // see nlConn.timeout
}

// xfrmConfig is the configuration of a table's socket.
func xfrmConfig(timeout time.Duration) dialConfig {
	return dialConfig{proto: unix.NETLINK_XFRM, timeout: timeout}
}

// dialIn makes a socket inside the network namespace called netns ("" the
// caller's own), on a thread that is then discarded (see inNetns).
func dialIn(netns string, cfg dialConfig) (*nlConn, error) {
	return inNamespace(netns, func() (*nlConn, error) { return dial(cfg) })
}

// dial makes and binds a netlink socket in the calling thread's namespace.
func dial(cfg dialConfig) (*nlConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, cfg.proto)
	if err != nil {
		return nil, socketError(err, "")
	}
	pid, err := setup(fd, cfg)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	s, err := newPollSocket(fd)
	if err != nil {
		return nil, err
	}
	return &nlConn{sock: s, pid: pid, timeout: cfg.timeout}, nil
}

// setup sets a new socket's options and binds it; it gives the port id.
func setup(fd int, cfg dialConfig) (uint32, error) {
	if err := setRcvbuf(fd, cfg.rcvbuf); err != nil {
		return 0, err
	}
	// Extended acks only make refusals more telling; old kernels lack them.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	// Refusals need not carry our whole request back, its header is enough
	// (a batch may have thousands of them queued at once).
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	// Joining XFRM groups takes CAP_NET_ADMIN (EPERM otherwise).
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cfg.groups}); err != nil {
		return 0, socketError(err, "")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, socketError(err, "")
	}
	nsa, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return 0, errors.New("cannot open the netlink socket: not a netlink address")
	}
	return nsa.Pid, nil
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

// socket is the kernel's end of an nlConn: a netlink descriptor in the
// runtime's poller (pollSocket), or in the tests a fake kernel that
// answers as scripted. Its methods make one system call each (recv waits
// in the poller first) and give the errno as it is; the nlConn handles
// EINTR, EAGAIN, ENOBUFS, deadlines and Close in one place (recv).
// Receives do not overlap (the nlConn's users see to it).
type socket interface {
	// send sends one datagram to the kernel, which handles every message
	// in it before the call returns.
	send(b []byte) error
	// recv reads one datagram into buf and tells whether the kernel sent
	// it; n is the datagram's whole length, more than len(buf) when it was
	// cut short. flags is 0, or MSG_DONTWAIT and MSG_PEEK. Without
	// MSG_DONTWAIT it waits for a datagram until the read deadline
	// (os.ErrDeadlineExceeded) or close.
	recv(buf []byte, flags int) (n int, fromKernel bool, err error)
	// setReadDeadline bounds the waits of recv; the zero time: none.
	setReadDeadline(t time.Time) error
	// growBuffers asks for send and receive buffers of size bytes, and
	// gives the receive buffer granted.
	growBuffers(size int) int
	// control runs fn with the descriptor (unix.EBADF without one).
	control(fn func(fd int)) error
	close() error
}

// pollSocket is a non-blocking netlink descriptor in the runtime's poller.
// The functions handed to the poller are made once, with their arguments
// and results in the struct, so that a datagram costs no allocation.
type pollSocket struct {
	f  *os.File
	rc syscall.RawConn

	// The receive in progress: arguments, then results.
	rbuf    []byte
	rflags  int
	rn      int
	rerr    unix.Errno
	from    unix.RawSockaddrNetlink
	readFn  func(fd uintptr) bool
	wbuf    []byte
	werr    unix.Errno
	writeFn func(fd uintptr) bool
}

func newPollSocket(fd int) (*pollSocket, error) {
	f := os.NewFile(uintptr(fd), "netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &pollSocket{f: f, rc: rc}
	s.readFn = s.recvfrom
	s.writeFn = s.write
	return s, nil
}

// recvfrom is one recvfrom(2), repeated on EINTR; false on EAGAIN tells
// the poller to wait. The raw system call fills a sockaddr in place where
// unix.Recvfrom would allocate one.
func (s *pollSocket) recvfrom(fd uintptr) bool {
	for {
		alen := uint32(unix.SizeofSockaddrNetlink)
		var p unsafe.Pointer
		if len(s.rbuf) > 0 {
			p = unsafe.Pointer(&s.rbuf[0])
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(p), uintptr(len(s.rbuf)),
			uintptr(s.rflags|unix.MSG_TRUNC), uintptr(unsafe.Pointer(&s.from)), uintptr(unsafe.Pointer(&alen)))
		s.rn, s.rerr = int(n), errno
		switch {
		case errno == unix.EINTR:
			continue
		case errno == unix.EAGAIN:
			return s.rflags&unix.MSG_DONTWAIT != 0
		}
		return true
	}
}

// write is one write(2) to the kernel (an unconnected netlink socket
// writes to port 0), repeated on EINTR.
func (s *pollSocket) write(fd uintptr) bool {
	for {
		_, err := unix.Write(int(fd), s.wbuf)
		s.werr = 0
		if err != nil {
			s.werr = err.(unix.Errno)
		}
		switch s.werr {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		return true
	}
}

func (s *pollSocket) send(b []byte) error {
	s.wbuf = b
	err := s.rc.Write(s.writeFn)
	s.wbuf = nil
	if err != nil {
		return err
	}
	if s.werr != 0 {
		return s.werr
	}
	return nil
}

func (s *pollSocket) recv(buf []byte, flags int) (int, bool, error) {
	s.rbuf, s.rflags = buf, flags
	err := s.rc.Read(s.readFn)
	s.rbuf = nil
	switch {
	case err != nil:
		return 0, false, err
	case s.rerr != 0:
		return 0, false, s.rerr
	}
	return s.rn, s.from.Family == unix.AF_NETLINK && s.from.Pid == 0, nil
}

func (s *pollSocket) setReadDeadline(t time.Time) error { return s.f.SetReadDeadline(t) }

func (s *pollSocket) control(fn func(fd int)) error {
	return s.rc.Control(func(fd uintptr) { fn(int(fd)) })
}

// growBuffers uses SO_RCVBUFFORCE where it may (root: it passes
// net.core.rmem_max), else SO_RCVBUF up to that cap.
func (s *pollSocket) growBuffers(size int) int {
	n := 0
	s.control(func(fd int) {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, size)
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, size)
		}
		n, _ = unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return n
}

func (s *pollSocket) close() error { return s.f.Close() }

// close releases the socket, and ends a receive that waits; only the first
// call does, later ones give what it gave.
func (c *nlConn) close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.sock.close()
	})
	return c.closeErr
}

// queued tells whether a datagram waits to be read (or messages were
// lost: the next read says so). The kernel hands a socket's error to the
// first receive and clears it, a peek too: an ENOBUFS the peek took is
// kept for the next read.
func (c *nlConn) queued() bool {
	var one [1]byte
	_, _, err := c.sock.recv(one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == unix.ENOBUFS {
		c.lost = true
	}
	return err != unix.EAGAIN
}

// errClosed is what an operation on a closed socket gives.
var errClosed = fmt.Errorf("netlink socket closed: %w", net.ErrClosed)

// nextSeq gives a fresh sequence number; 0 is skipped (never ours).
func (c *nlConn) nextSeq() uint32 {
	c.seq++
	if c.seq == 0 {
		c.seq++
	}
	return c.seq
}

// appendMsg adds one request to b: header and payload, padded to 4 bytes.
func appendMsg(b []byte, typ, flags uint16, seq uint32, payload []byte) []byte {
	n := unix.NLMSG_HDRLEN + len(payload)
	b = ne.AppendUint32(b, uint32(n))
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags|unix.NLM_F_REQUEST)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // port 0: to the kernel, from us
	b = append(b, payload...)
	for n%4 != 0 {
		b = append(b, 0)
		n++
	}
	return b
}

// request sends one message and waits for the kernel's acknowledgement: nil,
// or the errno (with the kernel's own words when it gives some).
func (c *nlConn) request(typ, flags uint16, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, err := c.send(typ, flags|unix.NLM_F_ACK, payload)
	if err != nil {
		return err
	}
	return c.receive(seq, nil)
}

// get sends one request and calls fn with the type and payload of each
// answer before the acknowledgement: XFRM_MSG_GETPOLICY answers with one
// XFRM_MSG_NEWPOLICY.
func (c *nlConn) get(typ uint16, payload []byte, fn func(typ uint16, payload []byte)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(typ, payload, fn)
}

func (c *nlConn) getLocked(typ uint16, payload []byte, fn func(typ uint16, payload []byte)) error {
	seq, err := c.send(typ, unix.NLM_F_ACK, payload)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

// dump asks for a whole table and calls fn with the type and payload of
// each message, over as many reads as the kernel splits the answer into.
// The payload is only valid during the call.
func (c *nlConn) dump(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dumpLocked(typ, fn)
}

func (c *nlConn) dumpLocked(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.dumps++
	return c.dumpUncounted(typ, fn)
}

// dumpUncounted is dumpLocked without counting the dump: the SA dump that
// looks groups up for a batch is not one of the policy table's.
func (c *nlConn) dumpUncounted(typ uint16, fn func(typ uint16, payload []byte)) error {
	seq, err := c.send(typ, unix.NLM_F_DUMP, nil)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

func (c *nlConn) send(typ, flags uint16, payload []byte) (uint32, error) {
	seq := c.nextSeq()
	c.wbuf = appendMsg(c.wbuf[:0], typ, flags, seq, payload)
	return seq, withSeq(c.write(c.wbuf), seq)
}

// write sends one datagram to the kernel (one request, or a run's many),
// which handles every message in it before the call returns.
func (c *nlConn) write(b []byte) error {
	if err := c.sock.send(b); err != nil {
		return c.opError("send", 0, err)
	}
	return nil
}

// read reads one datagram from the kernel into c.rbuf; nonblock makes it
// give (nil, nil) at once when none is queued.
func (c *nlConn) read(nonblock bool) ([]byte, error) {
	if nonblock {
		return c.recv(c.buffer(), unix.MSG_DONTWAIT)
	}
	return c.recv(c.buffer(), 0)
}

// buffer gives the receive buffer, made on first use. Another socket may
// borrow it while c's lock is held and c reads nothing (a Snapshot's
// watch: 64 KiB a batch saved).
func (c *nlConn) buffer() []byte {
	if c.rbuf == nil {
		c.rbuf = make([]byte, recvBufSize)
	}
	return c.rbuf
}

// recv reads one datagram from the kernel into buf, past datagrams of
// anyone else. With MSG_DONTWAIT it gives (nil, nil) when none is queued;
// else it waits, at most c.timeout when that is set. It is the one place
// that reads the socket's failures: every error is an *OpError (see
// opError), and a datagram longer than buf is errTruncated.
//
// The deadline is set only when nothing is queued: an exchange finds its
// answer there, and a deadline set for every read costs the runtime's
// timers a third of a small batch's time (see PERFORMANCE.md).
func (c *nlConn) recv(buf []byte, flags int) ([]byte, error) {
	if c.lost {
		c.lost = false
		return nil, c.opError("receive", 0, unix.ENOBUFS)
	}
	waited := false
	for {
		n, fromKernel, err := c.sock.recv(buf, flags|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN && flags&unix.MSG_DONTWAIT == 0 {
			if !waited && c.timeout > 0 {
				c.sock.setReadDeadline(time.Now().Add(c.timeout))
				defer c.sock.setReadDeadline(time.Time{})
			}
			waited = true
			n, fromKernel, err = c.sock.recv(buf, flags)
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && flags&unix.MSG_DONTWAIT != 0:
			return nil, nil
		case err != nil:
			return nil, c.opError("receive", 0, err)
		case !fromKernel:
			continue
		case n > len(buf):
			return nil, errTruncated
		}
		return buf[:n], nil
	}
}

// errTruncated is a datagram longer than the receive buffer: a listener
// passes over it.
var errTruncated = errors.New("netlink datagram longer than the receive buffer")

// opError gives a failure of the socket as an *OpError: ENOBUFS (the
// kernel dropped messages that did not fit in the receive buffer; the
// socket goes on) as ErrOverrun, a deadline as a timeout that keeps
// EAGAIN, the poller's error after Close as net.ErrClosed.
func (c *nlConn) opError(op string, seq uint32, err error) error {
	e := &OpError{Op: op, Seq: seq}
	var errno unix.Errno
	switch {
	case c.closed.Load():
		e.Err = errClosed
	case errors.Is(err, os.ErrDeadlineExceeded):
		e.Errno = unix.EAGAIN
		e.Err = &timeoutError{fmt.Sprintf("no answer from the kernel within %v", cmp.Or(c.timeout, defaultTimeout)), unix.EAGAIN}
	case errors.As(err, &errno) && errno == unix.ENOBUFS:
		e.Errno, e.Err = errno, ErrOverrun
	case errors.As(err, &errno):
		e.Errno = errno
	default:
		e.Err = err
	}
	return e
}

// receive reads the answers to seq until the acknowledgement (NLMSG_ERROR,
// errno 0 for success) or the end of a dump (NLMSG_DONE). Messages of other
// sequence numbers are late answers to requests that timed out: skipped.
func (c *nlConn) receive(seq uint32, fn func(uint16, []byte)) error {
	interrupted := false
	for {
		b, err := c.read(false)
		if err != nil {
			return withSeq(err, seq)
		}
		if done, err := c.handleAnswers(b, seq, &interrupted, fn); done {
			return err
		}
	}
}

// withSeq names the request a failure of the socket interrupted.
func withSeq(err error, seq uint32) error {
	var oe *OpError
	if errors.As(err, &oe) && oe.Seq == 0 {
		oe.Seq = seq
	}
	return err
}

// handleAnswers hands the messages of one datagram that answer seq to fn,
// and tells whether the answer ended (an error, an ack, or the end of a
// dump), with the error it carried.
func (c *nlConn) handleAnswers(b []byte, seq uint32, interrupted *bool, fn func(uint16, []byte)) (bool, error) {
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		if m.seq != seq || m.pid != c.pid {
			continue
		}
		*interrupted = *interrupted || m.flags&unix.NLM_F_DUMP_INTR != 0
		switch m.typ {
		case unix.NLMSG_ERROR:
			return true, ackError(m)
		case unix.NLMSG_DONE:
			return true, doneError(m, *interrupted)
		}
		if fn != nil {
			fn(m.typ, m.data)
		}
	}
	return false, nil
}

// ackError reads an nlmsgerr: the negative errno, the header of our request
// (all of it unless NLM_F_CAPPED), then, with NLM_F_ACK_TLVS, attributes.
// A refusal is an *OpError with the request's sequence number and the
// kernel's words.
func ackError(m message) error {
	if len(m.data) < 4 {
		return errShort
	}
	errno := unix.Errno(-int32(ne.Uint32(m.data)))
	if errno == 0 {
		return nil
	}
	return &OpError{Op: "request", Seq: m.seq, Errno: errno, ExtAck: extAckText(m.flags, m.data)}
}

// extAckText gives the kernel's NLMSGERR_ATTR_MSG, "" when there is none.
func extAckText(flags uint16, data []byte) string {
	if flags&unix.NLM_F_ACK_TLVS == 0 || len(data) < 4+unix.NLMSG_HDRLEN {
		return ""
	}
	skip := 4 + unix.NLMSG_HDRLEN
	if flags&unix.NLM_F_CAPPED == 0 {
		skip = 4 + align4(int(ne.Uint32(data[4:])))
	}
	if skip > len(data) {
		return ""
	}
	text := ""
	walkAttrs(data[skip:], func(typ uint16, v []byte) {
		if typ == unix.NLMSGERR_ATTR_MSG {
			text = unix.ByteSliceToString(v)
		}
	})
	return text
}

// doneError reads NLMSG_DONE, which carries the dump's own errno.
func doneError(m message, interrupted bool) error {
	if len(m.data) >= 4 {
		if errno := unix.Errno(-int32(ne.Uint32(m.data))); errno != 0 {
			return &OpError{Op: "request", Seq: m.seq, Errno: errno}
		}
	}
	if interrupted {
		return ErrDumpInterrupted
	}
	return nil
}

// outCount gives the kernel's count of outbound policies (every type),
// 0 when it cannot tell: a capacity hint, never a limit.
func (c *nlConn) outCount() int { return max(c.spdCount(spdOutCount), 0) }

// The counts of struct xfrmu_spdinfo, by place.
const (
	spdInCount  = 0 // incnt
	spdOutCount = 1 // outcnt
)

// spdCount gives one of the kernel's policy counts (XFRM_MSG_GETSPDINFO),
// -1 when it cannot tell.
func (c *nlConn) spdCount(field int) int {
	n := -1
	seq, err := c.send(msgGetSPD, unix.NLM_F_ACK, make([]byte, 4))
	if err != nil {
		return -1
	}
	err = c.receive(seq, func(typ uint16, b []byte) {
		if typ != msgNewSPD || len(b) < 4 {
			return
		}
		walkAttrs(b[4:], func(typ uint16, v []byte) {
			if off := 4 * field; typ == attrSPDInfo && len(v) >= off+4 {
				n = int(ne.Uint32(v[off:]))
			}
		})
	})
	if err != nil || n > 1<<24 {
		return -1
	}
	return n
}
