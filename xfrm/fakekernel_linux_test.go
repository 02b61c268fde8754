package xfrm

import (
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fakeKernel is the kernel's end of the netlink socket, in memory: a policy
// table that answers XFRM requests as Linux does (exclusive NEWPOLICY,
// UPDPOLICY, DELPOLICY and GETPOLICY by index or selector, multipart
// dumps, SPD counts, the barrier's acknowledgement), so that the driver is
// tested without root, and with what a real kernel seldom does on demand:
// a refusal at request k, a capped error reply, an interrupted dump, a
// receive buffer that overflows, an answer that never comes.
type fakeKernel struct {
	policies  []Policy // in the kernel's order
	nextIndex uint32

	// refuse, when set, is asked about every NEWPOLICY, UPDPOLICY and
	// DELPOLICY (n counts them from 0): a non-zero errno refuses it, with
	// text as the extended ack when not "".
	refuse  func(n int, m message) (unix.Errno, string)
	changes int
	// uncapped makes error replies carry the whole request back, as
	// without NETLINK_CAP_ACK.
	uncapped bool
	// interrupt marks dumps NLM_F_DUMP_INTR: the table changed meanwhile.
	interrupt bool
	// silent drops every answer: a kernel that never answers.
	silent bool
	// perDatagram is how many policies a dump datagram holds.
	perDatagram int

	sends    int       // datagrams received from the driver
	requests []message // every request, in order (data not kept)
}

// fakeSocket is one socket to a fakeKernel, with its own receive queue. A
// recv that waits is woken by a datagram, the deadline or close, as the
// runtime poller wakes a pollSocket's; the queue may be filled from
// another goroutine (deliver), as the kernel multicasts.
type fakeSocket struct {
	k        *fakeKernel
	pid      uint32
	mu       sync.Mutex
	wake     chan struct{} // a datagram came, or the socket closed
	deadline time.Time
	queue    [][]byte
	queued   int
	// capacity, when not 0, is the receive buffer in bytes: an answer
	// that does not fit is dropped, and the next recv fails with ENOBUFS.
	capacity int
	overrun  bool
	closed   bool
}

func newFakeKernel() *fakeKernel { return &fakeKernel{nextIndex: 8, perDatagram: 3} }

// table gives a Table on the fake kernel; its Clear gets a socket of its own.
func (k *fakeKernel) table() (*Table, *fakeSocket) {
	s := k.socket(1000)
	pid := uint32(2000)
	return &Table{c: k.conn(s), dial: func() (*nlConn, error) {
		pid++
		return k.conn(k.socket(pid)), nil
	}}, s
}

// fakeTimeout bounds the waits of the fake kernel's sockets: it answers
// within the send, so only a test of a silent kernel waits that long.
const fakeTimeout = 100 * time.Millisecond

func (k *fakeKernel) conn(s *fakeSocket) *nlConn {
	return &nlConn{sock: s, pid: s.pid, timeout: fakeTimeout}
}

func (k *fakeKernel) socket(pid uint32) *fakeSocket {
	return &fakeSocket{k: k, pid: pid, wake: make(chan struct{}, 1)}
}

func (s *fakeSocket) growBuffers(size int) int { return 2 * size }

func (s *fakeSocket) control(func(fd int)) error { return unix.EBADF }

func (s *fakeSocket) setReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	return nil
}

func (s *fakeSocket) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return os.ErrClosed
	}
	s.closed = true
	s.signal()
	return nil
}

// signal wakes a waiting recv; the caller holds s.mu.
func (s *fakeSocket) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *fakeSocket) recv(buf []byte, flags int) (int, bool, error) {
	for {
		n, fromKernel, wait, err := s.tryRecv(buf, flags)
		if wait == nil {
			return n, fromKernel, err
		}
		select {
		case <-s.wake:
		case <-wait:
		}
	}
}

// tryRecv is one attempt of recv; wait, when not nil, says to wait for
// s.wake or for the deadline's channel.
func (s *fakeSocket) tryRecv(buf []byte, flags int) (n int, fromKernel bool, wait <-chan time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, false, nil, os.ErrClosed // the poller's "use of closed file"
	case s.overrun:
		s.overrun = false
		return 0, false, nil, unix.ENOBUFS
	case len(s.queue) > 0:
	case flags&unix.MSG_DONTWAIT != 0:
		return 0, false, nil, unix.EAGAIN
	case s.deadline.IsZero():
		return 0, false, make(chan time.Time), nil
	case !time.Now().Before(s.deadline):
		return 0, false, nil, os.ErrDeadlineExceeded
	default:
		return 0, false, time.After(time.Until(s.deadline)), nil
	}
	d := s.queue[0]
	if flags&unix.MSG_PEEK == 0 {
		s.queue = s.queue[1:]
		s.queued -= len(d)
	}
	copy(buf, d)
	return len(d), true, nil, nil
}

// deliver queues one datagram for the driver, unless it does not fit.
func (s *fakeSocket) deliver(d []byte) {
	if s.k.silent {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.capacity > 0 && s.queued+len(d) > s.capacity {
		s.overrun = true
		s.signal()
		return
	}
	s.queue = append(s.queue, d)
	s.queued += len(d)
	s.signal()
}

// send handles every request of a datagram, in order, before it returns,
// as the kernel does.
func (s *fakeSocket) send(b []byte) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return os.ErrClosed
	}
	s.k.sends++
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		s.k.requests = append(s.k.requests, message{typ: m.typ, flags: m.flags, seq: m.seq})
		s.handle(m)
	}
	return nil
}

func (s *fakeSocket) handle(m message) {
	k := s.k
	var errno unix.Errno
	text := ""
	switch m.typ {
	case unix.NLMSG_NOOP:
	case msgGetSPD:
		var info [24]byte // incnt, outcnt, fwdcnt, then the socket policies'
		for _, p := range k.policies {
			if p.Dir <= DirFwd {
				ne.PutUint32(info[4*p.Dir:], ne.Uint32(info[4*p.Dir:])+1)
			}
		}
		s.deliver(s.reply(msgNewSPD, 0, m.seq, appendAttr(make([]byte, 4), attrSPDInfo, info[:])))
	case msgGetSA:
		s.deliver(s.reply(unix.NLMSG_DONE, unix.NLM_F_MULTI, m.seq, make([]byte, 4)))
		return
	case msgGetPolicy:
		if m.flags&unix.NLM_F_DUMP != 0 {
			s.dump(m.seq)
			return
		}
		if i := k.find(m.data); i >= 0 {
			s.deliver(s.reply(msgNewPolicy, 0, m.seq, encodePolicy(k.policies[i])))
		} else {
			errno = unix.ENOENT
		}
	case msgNewPolicy, msgUpdPolicy, msgDelPolicy:
		if k.refuse != nil {
			errno, text = k.refuse(k.changes, m)
		}
		k.changes++
		if errno == 0 {
			errno = k.change(m)
		}
	default:
		errno = unix.EOPNOTSUPP
	}
	switch {
	case errno != 0:
		s.deliver(s.errorReply(m, errno, text))
	case m.flags&unix.NLM_F_ACK != 0:
		s.deliver(s.errorReply(m, 0, ""))
	}
}

// change carries out NEWPOLICY, UPDPOLICY or DELPOLICY.
func (k *fakeKernel) change(m message) unix.Errno {
	if m.typ == msgDelPolicy {
		i := k.find(m.data)
		if i < 0 {
			return unix.ENOENT
		}
		k.policies = slices.Delete(k.policies, i, i+1)
		return 0
	}
	p, err := decodePolicy(m.data)
	if err != nil {
		return unix.EINVAL
	}
	i := k.findPolicy(p)
	switch {
	case i >= 0 && m.typ == msgNewPolicy:
		return unix.EEXIST
	case i >= 0: // a replace keeps the index
		p.Index = k.policies[i].Index
		k.policies[i] = p
		return 0
	}
	if p.Index == 0 {
		p.Index = k.nextIndex + uint32(p.Dir)
		k.nextIndex += 8
	}
	k.policies = append(k.policies, p)
	return 0
}

// find gives the place of the policy an xfrm_userpolicy_id names, -1 for none.
func (k *fakeKernel) find(b []byte) int {
	if len(b) < sizePolicyID {
		return -1
	}
	id := Policy{Sel: getSelector(b), Index: ne.Uint32(b[sizeSelector:]), Dir: b[sizeSelector+4]}
	walkAttrs(b[sizePolicyID:], func(typ uint16, v []byte) { decodePolicyAttr(&id, typ, v) })
	if id.Index != 0 {
		return slices.IndexFunc(k.policies, func(p Policy) bool {
			return p.Index == id.Index && p.Dir == id.Dir && sameScope(p, id)
		})
	}
	return k.findPolicy(id)
}

// findPolicy gives the place of the policy with p's selector, direction,
// type, mark and if_id.
func (k *fakeKernel) findPolicy(p Policy) int {
	return slices.IndexFunc(k.policies, func(q Policy) bool {
		return q.Sel == p.Sel && q.Dir == p.Dir && sameScope(p, q)
	})
}

func sameScope(p, q Policy) bool {
	return p.Type == q.Type && p.Mark == q.Mark && p.Mask == q.Mask && p.IfID == q.IfID
}

// dump sends the table perDatagram policies to a datagram, then NLMSG_DONE.
func (s *fakeSocket) dump(seq uint32) {
	var flags uint16 = unix.NLM_F_MULTI
	if s.k.interrupt {
		flags |= unix.NLM_F_DUMP_INTR
	}
	var d []byte
	for i, p := range s.k.policies {
		d = append(d, s.reply(msgNewPolicy, flags, seq, encodePolicy(p))...)
		if (i+1)%s.k.perDatagram == 0 {
			s.deliver(d)
			d = nil
		}
	}
	s.deliver(append(d, s.reply(unix.NLMSG_DONE, flags, seq, make([]byte, 4))...))
}

// reply gives one message from the kernel to this socket.
func (s *fakeSocket) reply(typ, flags uint16, seq uint32, payload []byte) []byte {
	n := sizeNlmsghdr + len(payload)
	b := ne.AppendUint32(nil, uint32(n))
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, flags)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, s.pid)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// errorReply gives the NLMSG_ERROR answering m: the negative errno, the
// request's header (all of the request when uncapped), and the extended
// ack's text as NLMSGERR_ATTR_MSG.
func (s *fakeSocket) errorReply(m message, errno unix.Errno, text string) []byte {
	req := s.reply(m.typ, m.flags, m.seq, m.data)
	ne.PutUint32(req[12:], s.pid)
	var flags uint16
	if !s.k.uncapped || errno == 0 {
		req = req[:sizeNlmsghdr]
		flags |= unix.NLM_F_CAPPED
	}
	payload := ne.AppendUint32(nil, uint32(-int32(errno)))
	payload = append(payload, req...)
	if text != "" {
		flags |= unix.NLM_F_ACK_TLVS
		payload = appendAttr(payload, unix.NLMSGERR_ATTR_MSG, append([]byte(text), 0))
	}
	return s.reply(unix.NLMSG_ERROR, flags, m.seq, payload)
}
