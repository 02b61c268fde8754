package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// defaultTimeout bounds every send and every wait for an answer, so that a
// kernel that never answers cannot hang the tool (OpenOptions.Timeout
// changes it).
const defaultTimeout = 10 * time.Second

// recvBufSize holds any datagram the kernel sends us: dump datagrams are at
// most 32 KiB (the kernel's own cap), acknowledgements far less.
const recvBufSize = 64 << 10

// conn is a NETLINK_XFRM socket that carries one exchange at a time. It is
// a plain blocking descriptor with SO_SNDTIMEO and SO_RCVTIMEO: one process
// talks to the kernel in order, so the runtime's poller would only add
// system calls. Answers are parsed in place in one reused buffer; nothing a
// request or a dump reads is kept unless its caller copies it.
type conn struct {
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
	timeout   time.Duration // SO_SNDTIMEO and SO_RCVTIMEO; 0 for the default
	closeOnce sync.Once
	closeErr  error
}

// newSocket makes and binds a NETLINK_XFRM socket in the calling thread's
// namespace.
func newSocket() (*conn, error) { return newSocketWith(defaultTimeout)() }

// newSocketWith gives what makes a socket whose sends and waits end after
// timeout.
func newSocketWith(timeout time.Duration) func() (*conn, error) {
	return func() (*conn, error) {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_XFRM)
		if err != nil {
			return nil, socketError(err, "")
		}
		pid, err := setup(fd, timeout)
		if err != nil {
			unix.Close(fd)
			return nil, err
		}
		return &conn{sock: fdSocket(fd), pid: pid, timeout: timeout}, nil
	}
}

// setup binds a new socket and sets its options; it gives the port id.
func setup(fd int, timeout time.Duration) (uint32, error) {
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, socketError(err, "")
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, socketError(err, "")
	}
	nsa, ok := sa.(*unix.SockaddrNetlink)
	if !ok {
		return 0, errors.New("cannot open the XFRM netlink socket: not a netlink address")
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return 0, socketError(err, "")
	}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, socketError(err, "")
	}
	// Extended acks only make refusals more telling; old kernels lack them.
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	// Refusals need not carry our whole request back, its header is enough
	// (a batch may have thousands of them queued at once).
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	return nsa.Pid, nil
}

// socket is the kernel's end of a conn: a NETLINK_XFRM descriptor
// (fdSocket), or in the tests a fake kernel that answers as scripted. Its
// methods make one system call each and give the errno as it is; the conn
// handles EINTR, EAGAIN and timeouts.
type socket interface {
	// send sends one datagram to the kernel.
	send(b []byte) error
	// recv reads one datagram into buf (flags 0 or MSG_DONTWAIT), and
	// tells whether the kernel sent it.
	recv(buf []byte, flags int) (n int, fromKernel bool, err error)
	// growBuffers asks for send and receive buffers of size bytes, and
	// gives the receive buffer granted.
	growBuffers(size int) int
	close() error
}

// fdSocket is a NETLINK_XFRM socket descriptor.
type fdSocket int

func (fd fdSocket) send(b []byte) error {
	return unix.Sendto(int(fd), b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

func (fd fdSocket) recv(buf []byte, flags int) (int, bool, error) {
	n, from, err := unix.Recvfrom(int(fd), buf, flags)
	return n, err == nil && fromKernel(from), err
}

// growBuffers uses SO_RCVBUFFORCE where it may (root: it passes
// net.core.rmem_max), else SO_RCVBUF up to that cap.
func (fd fdSocket) growBuffers(size int) int {
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size)
	}
	if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, size) != nil {
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, size)
	}
	n, _ := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	return n
}

func (fd fdSocket) close() error {
	if err := unix.Close(int(fd)); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// close releases the socket; only the first call does, later ones give
// what it gave.
func (c *conn) close() error {
	c.closeOnce.Do(func() { c.closeErr = c.sock.close() })
	return c.closeErr
}

// nextSeq gives a fresh sequence number; 0 is skipped (never ours).
func (c *conn) nextSeq() uint32 {
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
func (c *conn) request(typ, flags uint16, payload []byte) error {
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
func (c *conn) get(typ uint16, payload []byte, fn func(typ uint16, payload []byte)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(typ, payload, fn)
}

func (c *conn) getLocked(typ uint16, payload []byte, fn func(typ uint16, payload []byte)) error {
	seq, err := c.send(typ, unix.NLM_F_ACK, payload)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

// dump asks for a whole table and calls fn with the type and payload of
// each message, over as many reads as the kernel splits the answer into.
// The payload is only valid during the call.
func (c *conn) dump(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dumpLocked(typ, fn)
}

func (c *conn) dumpLocked(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.dumps++
	return c.dumpUncounted(typ, fn)
}

// dumpUncounted is dumpLocked without counting the dump: the SA dump that
// looks groups up for a batch is not one of the policy table's.
func (c *conn) dumpUncounted(typ uint16, fn func(typ uint16, payload []byte)) error {
	seq, err := c.send(typ, unix.NLM_F_DUMP, nil)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

func (c *conn) send(typ, flags uint16, payload []byte) (uint32, error) {
	seq := c.nextSeq()
	c.wbuf = appendMsg(c.wbuf[:0], typ, flags, seq, payload)
	return seq, c.write(c.wbuf)
}

// write sends one datagram to the kernel, which handles every message in
// it before the call returns.
func (c *conn) write(b []byte) error {
	for {
		err := c.sock.send(b)
		if err != unix.EINTR {
			return timedOut(err, c.timeout)
		}
	}
}

// read reads one datagram from the kernel into c.rbuf; nonblock makes it
// give (nil, nil) at once when none is queued.
func (c *conn) read(nonblock bool) ([]byte, error) {
	if c.rbuf == nil {
		c.rbuf = make([]byte, recvBufSize)
	}
	if !nonblock {
		return c.readInto(c.rbuf)
	}
	return c.recv(c.rbuf, unix.MSG_DONTWAIT)
}

// recv reads one datagram from the kernel into buf, over EINTR and past
// datagrams of anyone else. With MSG_DONTWAIT it gives (nil, nil) when
// none is queued; else EAGAIN is the socket's timeout (timedOut).
func (c *conn) recv(buf []byte, flags int) ([]byte, error) {
	for {
		n, fromKernel, err := c.sock.recv(buf, flags)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && flags&unix.MSG_DONTWAIT != 0:
			return nil, nil
		case err != nil:
			return nil, timedOut(err, c.timeout)
		case !fromKernel:
			continue
		}
		return buf[:n], nil
	}
}

// message is one netlink message of a datagram, parsed in place.
type message struct {
	typ, flags uint16
	seq, pid   uint32
	data       []byte
}

// nextMessage splits the first message off b; ok false at the end or on
// a malformed header (the rest of the datagram is then dropped).
func nextMessage(b []byte) (m message, rest []byte, ok bool) {
	if len(b) < unix.NLMSG_HDRLEN {
		return message{}, nil, false
	}
	n := int(ne.Uint32(b))
	if n < unix.NLMSG_HDRLEN || n > len(b) {
		return message{}, nil, false
	}
	m = message{
		typ:   ne.Uint16(b[4:]),
		flags: ne.Uint16(b[6:]),
		seq:   ne.Uint32(b[8:]),
		pid:   ne.Uint32(b[12:]),
		data:  b[unix.NLMSG_HDRLEN:n],
	}
	return m, b[min(align4(n), len(b)):], true
}

// receive reads the answers to seq until the acknowledgement (NLMSG_ERROR,
// errno 0 for success) or the end of a dump (NLMSG_DONE). Messages of other
// sequence numbers are late answers to requests that timed out: skipped.
func (c *conn) receive(seq uint32, fn func(uint16, []byte)) error {
	interrupted := false
	for {
		b, err := c.read(false)
		if err != nil {
			return err
		}
		if done, err := c.handleAnswers(b, seq, &interrupted, fn); done {
			return err
		}
	}
}

// handleAnswers hands the messages of one datagram that answer seq to fn,
// and tells whether the answer ended (an error, an ack, or the end of a
// dump), with the error it carried.
func (c *conn) handleAnswers(b []byte, seq uint32, interrupted *bool, fn func(uint16, []byte)) (bool, error) {
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		if m.seq != seq || m.pid != c.pid {
			continue
		}
		*interrupted = *interrupted || m.flags&unix.NLM_F_DUMP_INTR != 0
		switch m.typ {
		case unix.NLMSG_ERROR:
			return true, ackError(m.flags, m.data)
		case unix.NLMSG_DONE:
			return true, doneError(m.data, *interrupted)
		}
		if fn != nil {
			fn(m.typ, m.data)
		}
	}
	return false, nil
}

// timedOut gives a send or receive that SO_SNDTIMEO or SO_RCVTIMEO ended
// (EAGAIN) as a timeout: errors.Is finds os.ErrDeadlineExceeded in it.
func timedOut(err error, timeout time.Duration) error {
	if errors.Is(err, unix.EAGAIN) {
		return &timeoutError{fmt.Sprintf("no answer from the kernel within %v", cmp.Or(timeout, defaultTimeout)), err}
	}
	return err
}

// ackError reads an nlmsgerr: the negative errno, the header of our request
// (all of it unless NLM_F_CAPPED), then, with NLM_F_ACK_TLVS, attributes.
func ackError(flags uint16, data []byte) error {
	if len(data) < 4 {
		return errShort
	}
	errno := unix.Errno(-int32(ne.Uint32(data)))
	if errno == 0 {
		return nil
	}
	if text := extAckText(flags, data); text != "" {
		return fmt.Errorf("%w (%s)", errno, text)
	}
	return errno
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
func doneError(data []byte, interrupted bool) error {
	if len(data) >= 4 {
		if errno := unix.Errno(-int32(ne.Uint32(data))); errno != 0 {
			return errno
		}
	}
	if interrupted {
		return ErrDumpInterrupted
	}
	return nil
}

// outCount gives the kernel's count of outbound policies (every type),
// 0 when it cannot tell: a capacity hint, never a limit.
func (c *conn) outCount() int { return max(c.spdCount(spdOutCount), 0) }

// The counts of struct xfrmu_spdinfo, by place.
const (
	spdInCount  = 0 // incnt
	spdOutCount = 1 // outcnt
)

// spdCount gives one of the kernel's policy counts (XFRM_MSG_GETSPDINFO),
// -1 when it cannot tell.
func (c *conn) spdCount(field int) int {
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

// dumpOverlapped is dumpLocked for large tables: one goroutine reads the
// datagrams (the kernel builds them inside that read, which is most of a
// dump's cost) while the caller's goroutine hands their messages to fn, so
// that on two cores the kernel's work and fn's overlap. A few buffers go
// round between the two; nothing else is allocated.
func (c *conn) dumpOverlapped(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.dumps++
	seq, err := c.send(typ, unix.NLM_F_DUMP, nil)
	if err != nil {
		return err
	}
	type datagram struct {
		b    []byte
		err  error
		last bool // holds the end of the dump (or the read failed)
	}
	const nbufs = 4
	free := make(chan []byte, nbufs)
	full := make(chan datagram, nbufs)
	for i := 0; i < nbufs; i++ {
		free <- make([]byte, recvBufSize)
	}
	stop := make(chan struct{})
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			d := datagram{}
			d.b, d.err = c.readInto(buf)
			d.last = d.err != nil || endsDump(d.b, seq, c.pid)
			full <- d
			if d.last {
				return
			}
		}
	}()
	defer close(stop)
	interrupted := false
	for {
		d := <-full
		if d.err != nil {
			return d.err
		}
		if done, err := c.handleAnswers(d.b, seq, &interrupted, fn); done {
			return err
		}
		free <- d.b[:cap(d.b)]
	}
}

// endsDump tells whether a datagram holds the last message of the dump seq.
func endsDump(b []byte, seq, pid uint32) bool {
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		if m.seq == seq && m.pid == pid && (m.typ == unix.NLMSG_DONE || m.typ == unix.NLMSG_ERROR) {
			return true
		}
	}
	return false
}

// readInto reads one datagram from the kernel into buf, waiting for it.
func (c *conn) readInto(buf []byte) ([]byte, error) {
	return c.recv(buf, 0)
}
