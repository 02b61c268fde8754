package xfrm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// A run sends many requests without waiting for each answer. Requests go
// without NLM_F_ACK, many to a datagram: the kernel handles every message of
// a datagram, in order, before sendmsg returns, and answers only those it
// refuses, with an NLMSG_ERROR that carries the request's sequence number.
// The run ends with a barrier, NLMSG_NOOP with NLM_F_ACK, whose
// acknowledgement comes after every other answer: then the run knows which
// requests failed, and that all the others were carried out.
//
// No refusal may be lost: the kernel drops an answer that does not fit in
// the receive buffer (and the next read fails with ENOBUFS). So a datagram
// carries at most as many requests as the buffer holds refusals, and the
// queue is emptied after each datagram.

// Limits of one datagram of a run.
const (
	runMaxBytes = 128 << 10
	runMaxMsgs  = 512
	// ackRoom is what one refusal may take of the receive buffer: the
	// kernel charges an skb's truesize, under 1 KiB for an NLMSG_ERROR with
	// NETLINK_CAP_ACK and an extended-ack text; 4 KiB leaves room to spare.
	ackRoom = 4 << 10
	// batchBuf is the receive and send buffer asked for batches (the kernel
	// doubles it): 2048 refusals of ackRoom fit in the receive buffer.
	batchBuf = 4 << 20
)

// run is one pipelined run on a conn whose lock the caller holds.
type run struct {
	c        *nlConn
	buf      []byte // the datagram being built
	first    uint32 // sequence number of the run's first request
	n        int    // requests so far
	handled  int    // requests in datagrams sent: the kernel has handled them
	inBuf    int    // requests in buf
	start    int    // where the request being built starts in buf
	maxMsgs  int
	tags     []int32 // the caller's tag of each request
	failures []failure
	overrun  bool // answers were lost: the failures are not all known
	sendErr  error
	// tolerate, when set, tells which refusals are no failure of the run
	// (the op's effect was in place already): they go to tolerated, and
	// do not stop a batch.
	tolerate  func(tag int32, err error) bool
	tolerated []failure
	// reply, when set, is given every answer that is not an NLMSG_ERROR
	// (the policy a GETPOLICY asks for), with the request's tag.
	reply func(tag int32, typ uint16, payload []byte)
	// untagged runs keep no tags (their failures carry tag 0), so that a
	// stream of any length (Clear) holds no memory per request.
	untagged bool
	hard     int // failures other than ENOENT
}

// failure is one request the kernel refused.
type failure struct {
	msg int   // the request's number in the run
	tag int32 // the caller's tag
	err error // the errno with the kernel's words
}

// batchBuffers enlarges the socket's buffers once for runs (SO_RCVBUFFORCE
// passes net.core.rmem_max, root only; else SO_RCVBUF up to it), and
// records the receive buffer granted.
func (c *nlConn) batchBuffers() {
	if c.batchBufs {
		return
	}
	c.batchBufs = true
	c.rcvbuf = c.sock.growBuffers(batchBuf)
}

// newRun starts a run whose requests each take at most room bytes of the
// receive buffer with their answer: ackRoom for requests answered only when
// refused.
func (c *nlConn) newRun(room int) *run {
	c.batchBuffers()
	if c.seq > 1<<31 { // a run numbers its requests without wrapping
		c.seq = 0
	}
	r := &run{c: c, first: c.seq + 1, maxMsgs: min(runMaxMsgs, c.rcvbuf/room)}
	if r.maxMsgs < 1 {
		r.maxMsgs = 1
	}
	if c.wbuf == nil || cap(c.wbuf) < runMaxBytes+4096 {
		c.wbuf = make([]byte, 0, runMaxBytes+4096)
	}
	r.buf = c.wbuf[:0]
	return r
}

// begin starts a request in r.buf, which the caller then appends the
// payload to and closes with end. The tag is the caller's name for the
// request, given back with its failure.
func (r *run) begin(typ, flags uint16, tag int32) []byte {
	r.start = len(r.buf)
	if !r.untagged {
		r.tags = append(r.tags, tag)
	}
	return appendMsg(r.buf, typ, flags, r.first+uint32(r.n), nil)
}

// end closes the request begun last and sends the datagram when full.
func (r *run) end() error {
	n := len(r.buf) - r.start
	ne.PutUint32(r.buf[r.start:], uint32(n))
	for len(r.buf)%4 != 0 {
		r.buf = append(r.buf, 0)
	}
	r.n++
	r.c.seq = r.first + uint32(r.n) - 1
	r.inBuf++
	if r.inBuf >= r.maxMsgs || len(r.buf) >= runMaxBytes {
		return r.flush()
	}
	return nil
}

// flush sends the datagram, then reads every answer already queued.
func (r *run) flush() error {
	if r.inBuf == 0 {
		return nil
	}
	err := r.c.write(r.buf)
	if err != nil {
		r.sendErr = err
		return fmt.Errorf("cannot send to the kernel: %w", err)
	}
	r.handled += r.inBuf
	r.buf, r.inBuf = r.buf[:0], 0
	for {
		b, err := r.c.read(true)
		if err != nil {
			return r.readError(err)
		}
		if b == nil {
			return nil
		}
		r.answers(b, 0)
	}
}

func (r *run) readError(err error) error {
	if errors.Is(err, unix.ENOBUFS) {
		r.overrun = true
		return nil
	}
	return fmt.Errorf("cannot read the kernel's answers: %w", err)
}

// answers reads the refusals in a datagram; true when it held the
// acknowledgement of the barrier whose sequence number is barrier.
func (r *run) answers(b []byte, barrier uint32) bool {
	done := false
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		if m.pid != r.c.pid {
			continue
		}
		if barrier != 0 && m.seq == barrier && m.typ == unix.NLMSG_ERROR {
			done = true
			continue
		}
		d := m.seq - r.first
		if d >= uint32(r.n) {
			continue // a late answer to an earlier exchange
		}
		tag := int32(0)
		if !r.untagged {
			tag = r.tags[d]
		}
		if m.typ != unix.NLMSG_ERROR {
			if r.reply != nil {
				r.reply(tag, m.typ, m.data)
			}
			continue
		}
		if err := ackError(m); err != nil {
			if r.tolerate != nil && r.tolerate(tag, err) {
				r.tolerated = append(r.tolerated, failure{msg: int(d), tag: tag, err: err})
				continue
			}
			r.failures = append(r.failures, failure{msg: int(d), tag: tag, err: err})
			if !errors.Is(err, unix.ENOENT) {
				r.hard++
			}
		}
	}
	return done
}

// refused tells whether the kernel refused a request for another reason
// than that its policy was gone (ENOENT), or answers were lost.
func (r *run) refused() bool { return r.hard > 0 || r.overrun }

// failure tells whether a request was refused (or answers were lost).
func (r *run) failure() bool { return len(r.failures) > 0 || r.overrun }

// finish sends what is left with the barrier, and reads until the
// barrier's acknowledgement: every refusal is then in r.failures.
func (r *run) finish() error {
	barrier := r.c.nextSeq()
	r.buf = appendMsg(r.buf, unix.NLMSG_NOOP, unix.NLM_F_ACK, barrier, nil)
	if err := r.c.write(r.buf); err != nil {
		r.sendErr = err
		return fmt.Errorf("cannot send to the kernel: %w", err)
	}
	r.handled += r.inBuf
	r.buf, r.inBuf = r.buf[:0], 0
	for {
		b, err := r.c.read(false)
		if err != nil {
			if err := r.readError(err); err != nil {
				return err
			}
			continue
		}
		if r.answers(b, barrier) {
			return nil
		}
	}
}
