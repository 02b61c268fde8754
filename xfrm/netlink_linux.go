package xfrm

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// timeout bounds every send and every wait for an answer, so that a kernel
// that never answers cannot hang the tool.
const timeout = 10 * time.Second

// conn is a NETLINK_XFRM socket that carries one exchange at a time.
type conn struct {
	mu   sync.Mutex
	sock *nl.NetlinkSocket
	pid  uint32 // our port id: answers to us carry it
}

func newConn(s *nl.NetlinkSocket) (*conn, error) {
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	s.SetSendTimeout(&tv)
	s.SetReceiveTimeout(&tv)
	// Extended acks only make refusals more telling; old kernels lack them.
	_ = s.SetExtAck(true)
	pid, err := s.GetPid()
	if err != nil {
		s.Close()
		return nil, err
	}
	return &conn{sock: s, pid: pid}, nil
}

func (c *conn) close() { c.sock.Close() }

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
	seq, err := c.send(typ, unix.NLM_F_ACK, payload)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

// dump asks for a whole table and calls fn with the type and payload of
// each message, over as many reads as the kernel splits the answer into.
func (c *conn) dump(typ uint16, fn func(typ uint16, payload []byte)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, err := c.send(typ, unix.NLM_F_DUMP, nil)
	if err != nil {
		return err
	}
	return c.receive(seq, fn)
}

func (c *conn) send(typ, flags uint16, payload []byte) (uint32, error) {
	req := nl.NewNetlinkRequest(int(typ), int(flags))
	req.AddRawData(payload)
	if err := c.sock.Send(req); err != nil {
		return 0, timedOut(err)
	}
	return req.Seq, nil
}

// receive reads the answers to seq until the acknowledgement (NLMSG_ERROR,
// errno 0 for success) or the end of a dump (NLMSG_DONE). Messages of other
// sequence numbers are late answers to requests that timed out: skipped.
func (c *conn) receive(seq uint32, fn func(uint16, []byte)) error {
	interrupted := false
	for {
		msgs, from, err := c.sock.Receive()
		if err != nil {
			return timedOut(err)
		}
		if from.Pid != nl.PidKernel {
			continue
		}
		for _, m := range msgs {
			if m.Header.Seq != seq || m.Header.Pid != c.pid {
				continue
			}
			interrupted = interrupted || m.Header.Flags&unix.NLM_F_DUMP_INTR != 0
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				return ackError(m)
			case unix.NLMSG_DONE:
				return doneError(m.Data, interrupted)
			}
			if fn != nil {
				fn(m.Header.Type, m.Data)
			}
		}
	}
}

func timedOut(err error) error {
	if errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("no answer from the kernel within %v", timeout)
	}
	return err
}

// ackError reads an nlmsgerr: the negative errno, the header of our request
// (all of it unless NLM_F_CAPPED), then, with NLM_F_ACK_TLVS, attributes.
func ackError(m syscall.NetlinkMessage) error {
	if len(m.Data) < 4 {
		return errShort
	}
	errno := unix.Errno(-int32(ne.Uint32(m.Data)))
	if errno == 0 {
		return nil
	}
	if text := extAckText(m); text != "" {
		return fmt.Errorf("%w (%s)", errno, text)
	}
	return errno
}

// extAckText gives the kernel's NLMSGERR_ATTR_MSG, "" when there is none.
func extAckText(m syscall.NetlinkMessage) string {
	if m.Header.Flags&unix.NLM_F_ACK_TLVS == 0 || len(m.Data) < 4+unix.NLMSG_HDRLEN {
		return ""
	}
	skip := 4 + unix.NLMSG_HDRLEN
	if m.Header.Flags&unix.NLM_F_CAPPED == 0 {
		skip = 4 + align4(int(ne.Uint32(m.Data[4:])))
	}
	if skip > len(m.Data) {
		return ""
	}
	text := ""
	walkAttrs(m.Data[skip:], func(typ uint16, v []byte) {
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
		return errors.New("the kernel's table changed during the listing; try again")
	}
	return nil
}
