//go:build eroutebench && linux

package xfrm

import (
	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// What the floor program of scripts/bench sends (built with -tags
// eroutebench only: none of this is in eroute's binaries). The floor is
// the least a batch can cost the kernel: the very requests Apply sends,
// encoded beforehand, then only sent.

// FloorDatagrams gives the datagrams Apply sends for a batch of adds and
// replaces that the kernel refuses none of: the same requests (sequence
// numbers from 1) in the same order, cut where a run cuts them.
func FloorDatagrams(ops []Op) [][]byte {
	var out [][]byte
	var buf []byte
	var tmpl [1]Template
	inBuf := 0
	for k, at := range sendOrder(len(ops), func(i int) Op { return ops[i] }) {
		typ, flags := uint16(msgNewPolicy), uint16(unix.NLM_F_CREATE|unix.NLM_F_EXCL)
		if ops[at].Kind == eroute.OpReplace {
			typ, flags = msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE
		}
		p, t, ok := shapeOf(ops[at].Eroute)
		if ok {
			tmpl[0] = t
			p.Tmpls = tmpl[:]
		}
		start := len(buf)
		buf = appendMsg(buf, typ, flags, uint32(k+1), nil)
		buf = appendPolicy(buf, &p)
		ne.PutUint32(buf[start:], uint32(len(buf)-start))
		for len(buf)%4 != 0 {
			buf = append(buf, 0)
		}
		if inBuf++; inBuf >= runMaxMsgs || len(buf) >= runMaxBytes {
			out, buf, inBuf = append(out, buf), nil, 0
		}
	}
	if inBuf > 0 {
		out = append(out, buf)
	}
	return out
}

// FloorSelector gives the xfrm_selector eroute writes for a selector, as
// the kernel's dump gives it back.
func FloorSelector(s eroute.Selector) [sizeSelector]byte {
	var b [sizeSelector]byte
	putSelector(b[:], selectorOf(s))
	return b
}

// FloorDeleteByIndex appends the request that deletes the outbound main
// policy of an index, as a batch's delete by index does.
func FloorDeleteByIndex(b []byte, index, seq uint32) []byte {
	start := len(b)
	b = appendMsg(b, msgDelPolicy, 0, seq, nil)
	b = appendPolicyID(b, &Policy{Index: index, Dir: DirOut, Type: TypeMain})
	ne.PutUint32(b[start:], uint32(len(b)-start))
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Netlink numbers the floor program needs.
const (
	FloorMsgNewPolicy = msgNewPolicy
	FloorMsgGetPolicy = msgGetPolicy
	FloorMaxMsgs      = runMaxMsgs
	FloorBufSize      = batchBuf
	FloorOffIndex     = offPolicyIndex // in xfrm_userpolicy_info
	FloorOffDir       = offPolicyDir
)
