//go:build eroutebench && linux

// Command floor is the floor of scripts/bench.sh: the least the kernel can
// be asked to do for a batch, a listing or a --sync, with eroute's own
// requests. It is built with -tags eroutebench by bench.sh only.
//
//	floor encode FILE.eroute OUT            the datagrams eroute --batch sends
//	floor encode-sync OLD.eroute NEW.eroute OUT OUT.del
//	                                        those of --sync: adds and replaces,
//	                                        and the selectors to delete
//	floor send NETNS OUT                    sends them, one barrier, nothing else
//	floor dump NETNS                        dumps the outbound policies, decodes nothing
//	floor sync NETNS OUT OUT.del            dump, then the changes (deletes by index)
//
// Encoding is done beforehand (it is not what the floor measures): send
// reads the datagrams from OUT and sends them 512 requests a datagram, with
// no acknowledgement asked, reading only the refusals after each (as eroute
// does), and ends with one NOOP+ACK barrier.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/scripts/bench/benchfile"
	"github.com/eroute/eroute/xfrm"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "encode":
		ops, err := readOps(args[1])
		if err != nil {
			return err
		}
		return writeDatagrams(args[2], xfrm.FloorDatagrams(ops))
	case len(args) == 5 && args[0] == "encode-sync":
		return encodeSync(args[1], args[2], args[3], args[4])
	case len(args) == 3 && args[0] == "send":
		fd, err := socketIn(args[1])
		if err != nil {
			return err
		}
		return sendFile(fd, args[2])
	case len(args) == 2 && args[0] == "dump":
		fd, err := socketIn(args[1])
		if err != nil {
			return err
		}
		return dump(fd, func([]byte) {})
	case len(args) == 4 && args[0] == "sync":
		return syncFloor(args[1], args[2], args[3])
	}
	return errors.New("usage: floor encode FILE OUT | encode-sync OLD NEW OUT OUT.del | send NETNS OUT | dump NETNS | sync NETNS OUT OUT.del")
}

// readOps reads a file of --add lines.
func readOps(path string) ([]xfrm.Op, error) {
	es, err := benchfile.ReadAdds(path)
	ops := make([]xfrm.Op, len(es))
	for i, e := range es {
		ops[i] = xfrm.Op{Kind: eroute.OpAdd, Eroute: e}
	}
	return ops, err
}

// encodeSync writes what --sync sends to make OLD's table NEW's: adds and
// replaces in OUT, and the selectors of the deletes in DEL.
func encodeSync(oldPath, newPath, out, del string) error {
	old, err := readOps(oldPath)
	if err != nil {
		return err
	}
	want, err := readOps(newPath)
	if err != nil {
		return err
	}
	had := make(map[eroute.Key]eroute.SAID, len(old))
	for _, op := range old {
		had[op.Eroute.Selector.Key()] = op.Eroute.SAID
	}
	var changes []xfrm.Op
	for _, op := range want {
		k := op.Eroute.Selector.Key()
		said, ok := had[k]
		switch {
		case !ok:
			changes = append(changes, op)
		case said != op.Eroute.SAID:
			changes = append(changes, xfrm.Op{Kind: eroute.OpReplace, Eroute: op.Eroute})
		}
		delete(had, k)
	}
	var sels []byte
	for _, op := range old {
		if _, ok := had[op.Eroute.Selector.Key()]; ok {
			s := xfrm.FloorSelector(op.Eroute.Selector)
			sels = append(sels, s[:]...)
		}
	}
	if err := os.WriteFile(del, sels, 0o644); err != nil {
		return err
	}
	return writeDatagrams(out, xfrm.FloorDatagrams(changes))
}

func writeDatagrams(path string, ds [][]byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, d := range ds {
		binary.Write(w, binary.NativeEndian, uint32(len(d)))
		w.Write(d)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// socketIn opens a NETLINK_XFRM socket inside a namespace, on this
// (locked) thread, with eroute's buffers.
func socketIn(name string) (int, error) {
	runtime.LockOSThread()
	ns, err := netns.GetFromName(name)
	if err != nil {
		return -1, err
	}
	if err := netns.Set(ns); err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_XFRM)
	if err != nil {
		return -1, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, xfrm.FloorBufSize)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, xfrm.FloorBufSize)
	return fd, nil
}

var rbuf = make([]byte, 1<<20)

// sendFile sends the datagrams of a file.
func sendFile(fd int, path string) error {
	if err := sendDatagrams(fd, path); err != nil {
		return err
	}
	return barrier(fd)
}

// sendDatagrams sends the datagrams of a file.
func sendDatagrams(fd int, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for len(data) >= 4 {
		n := binary.NativeEndian.Uint32(data)
		if err := send(fd, data[4:4+n]); err != nil {
			return err
		}
		data = data[4+n:]
	}
	return nil
}

// send sends one datagram, then reads the refusals already queued.
func send(fd int, d []byte) error {
	if err := unix.Sendto(fd, d, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return nil
		}
		if err != nil {
			return err
		}
		if err := refusal(rbuf[:n], 0); err != nil && err != errBarrier {
			return err
		}
	}
}

var errBarrier = errors.New("barrier")

// refusal looks through the answers of a datagram: the first refusal, or
// errBarrier at the acknowledgement of the barrier seq.
func refusal(b []byte, seq uint32) error {
	for len(b) >= unix.NLMSG_HDRLEN {
		n := binary.NativeEndian.Uint32(b)
		typ := binary.NativeEndian.Uint16(b[4:])
		if typ == unix.NLMSG_ERROR {
			errno := int32(binary.NativeEndian.Uint32(b[16:]))
			if binary.NativeEndian.Uint32(b[8:]) == seq && seq != 0 {
				return errBarrier
			}
			if errno != 0 {
				return fmt.Errorf("the kernel refused request %d: %v", binary.NativeEndian.Uint32(b[8:]), unix.Errno(-errno))
			}
		}
		b = b[min(int(n+3)&^3, len(b)):]
	}
	return nil
}

// barrier sends NOOP with NLM_F_ACK and waits for its acknowledgement.
func barrier(fd int) error {
	const seq = 0x7fffffff
	if err := sendHeader(fd, unix.NLMSG_NOOP, unix.NLM_F_ACK, seq); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, 0)
		if err != nil {
			return err
		}
		if err := refusal(rbuf[:n], seq); err != nil {
			if err == errBarrier {
				return nil
			}
			return err
		}
	}
}

// sendHeader sends a request that is only a netlink header.
func sendHeader(fd int, typ, flags uint16, seq uint32) error {
	m := binary.NativeEndian.AppendUint32(nil, unix.NLMSG_HDRLEN)
	m = binary.NativeEndian.AppendUint16(m, typ)
	m = binary.NativeEndian.AppendUint16(m, unix.NLM_F_REQUEST|flags)
	m = binary.NativeEndian.AppendUint32(m, seq)
	m = binary.NativeEndian.AppendUint32(m, 0)
	return unix.Sendto(fd, m, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
}

// dump dumps the policies, giving fn each XFRM_MSG_NEWPOLICY's payload.
func dump(fd int, fn func(payload []byte)) error {
	if err := sendHeader(fd, xfrm.FloorMsgGetPolicy, unix.NLM_F_DUMP, 1); err != nil {
		return err
	}
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, 0)
		if err != nil {
			return err
		}
		for b := rbuf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := binary.NativeEndian.Uint32(b)
			switch binary.NativeEndian.Uint16(b[4:]) {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				return fmt.Errorf("dump: %v", unix.Errno(-int32(binary.NativeEndian.Uint32(b[16:]))))
			case xfrm.FloorMsgNewPolicy:
				fn(b[unix.NLMSG_HDRLEN:l])
			}
			b = b[min(int(l+3)&^3, len(b)):]
		}
	}
}

// syncFloor dumps the table, noting the index of each selector to delete,
// then sends the adds and replaces, then the deletes by index.
func syncFloor(name, out, del string) error {
	fd, err := socketIn(name)
	if err != nil {
		return err
	}
	sels, err := os.ReadFile(del)
	if err != nil {
		return err
	}
	const selSize = 56
	gone := make(map[[selSize]byte]uint32, len(sels)/selSize)
	for ; len(sels) >= selSize; sels = sels[selSize:] {
		gone[[selSize]byte(sels)] = 0
	}
	offIndex, offDir := xfrm.FloorOffIndex, xfrm.FloorOffDir
	err = dump(fd, func(p []byte) {
		if len(p) <= offDir || p[offDir] != 1 { // out
			return
		}
		if _, ok := gone[[selSize]byte(p[:selSize])]; ok {
			gone[[selSize]byte(p[:selSize])] = binary.NativeEndian.Uint32(p[offIndex:])
		}
	})
	if err != nil {
		return err
	}
	if err := sendDatagrams(fd, out); err != nil {
		return err
	}
	var d []byte
	k := uint32(1 << 20)
	for sel, index := range gone {
		if index == 0 {
			return fmt.Errorf("a selector to delete is not in the table: % x", sel[:8])
		}
		d = xfrm.FloorDeleteByIndex(d, index, k)
		if k++; k%xfrm.FloorMaxMsgs == 0 {
			if err := send(fd, d); err != nil {
				return err
			}
			d = d[:0]
		}
	}
	if len(d) > 0 {
		if err := send(fd, d); err != nil {
			return err
		}
	}
	return barrier(fd)
}
