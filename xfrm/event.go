package xfrm

import (
	"errors"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// Event is what a Listener reads: *Acquire, *PolicyExpire, with
// ListenOptions.Policies *PolicyChange and *PolicyFlush, with
// ListenOptions.SAExpires *SAExpire, and with ListenOptions.SAs *SAChange
// and *SAFlush (a Guard gives its own: *TakenOver, *Restored, *GuardNote).
type Event interface{ isEvent() }

// Acquire is one XFRM_MSG_ACQUIRE (xfrm_user_acquire and its attributes):
// a packet met a policy whose template no SA matches, and the kernel asks
// the key managers for one. Meanwhile it keeps a larval SA for the flow,
// which stops further ACQUIREs for the same SA (see kernel-notes.md).
type Acquire struct {
	// Flow is the packet's flow: host prefixes (/32 or /128, as the
	// kernel gives them), the protocol, and for TCP and UDP the ports.
	// The kernel puts ICMP type and code in the ports too; an eroute
	// selector has ports with TCP and UDP only, so those are in Sel.
	Flow eroute.Selector
	// Sel is the flow's selector as the kernel gave it, with the output
	// device (Ifindex) and the ports of every protocol.
	Sel Selector
	// Policy is the policy that trapped the packet, its templates read
	// with its own selector's family.
	Policy Policy
	// Eroute is the trapping eroute in listing terms: ErouteOf(Policy).
	Eroute eroute.Eroute
	// Own tells that eroute made the trapping policy; a policy of an IKE
	// daemon or of ip xfrm is foreign.
	Own bool
	// Tmpl is what the kernel wants an SA for: the acquire's id (daddr,
	// SPI, protocol) and saddr, read with the family of the policy's
	// template of that protocol and SPI, whose mode and reqid it has; the
	// algorithms are the acquire's.
	Tmpl Template
	// Seq is the acquire's sequence number, which the SA that answers it
	// carries.
	Seq uint32
}

// PolicyExpire is one XFRM_MSG_POLEXPIRE (xfrm_user_polexpire): a policy
// reached a time limit. Hard means the kernel has deleted it.
type PolicyExpire struct {
	Policy Policy
	Eroute eroute.Eroute // ErouteOf(Policy)
	Hard   bool
}

// PolicyChange is a policy notification of XFRMNLGRP_POLICY: a policy made
// or replaced (XFRM_MSG_NEWPOLICY, UPDPOLICY: the new policy, which on a
// replace has the index of the one it replaced) or deleted (DELPOLICY: the
// policy that was deleted).
type PolicyChange struct {
	Policy  Policy
	Deleted bool
}

// PolicyFlush is XFRM_MSG_FLUSHPOLICY: every policy of a type went.
type PolicyFlush struct{}

func (*Acquire) isEvent()      {}
func (*PolicyExpire) isEvent() {}
func (*PolicyChange) isEvent() {}
func (*PolicyFlush) isEvent()  {}

var errFlowFamily = errors.New("ACQUIRE for a flow of neither IPv4 nor IPv6")

// DecodeAcquire reads the payload of an XFRM_MSG_ACQUIRE message. Like the
// rest of the codec it never panics, whatever the bytes.
func DecodeAcquire(b []byte) (*Acquire, error) {
	p, err := decodePolicyAt(b, offAcqPolicy, sizeAcquire)
	if err != nil {
		return nil, err
	}
	sel := getSelector(b[offAcqSel:])
	flow, ok := flowOf(sel)
	if !ok {
		return nil, errFlowFamily
	}
	v := viewOf(p)
	e, own, _ := v.eroute()
	return &Acquire{
		Flow:   flow,
		Sel:    sel,
		Policy: p,
		Eroute: e,
		Own:    own,
		Tmpl:   acquireTmpl(b, sel.Family, p.Tmpls),
		Seq:    ne.Uint32(b[offAcqSeq:]),
	}, nil
}

// flowOf reads the acquire's selector as an eroute selector, keeping ports
// only where eroute selectors have them.
func flowOf(sel Selector) (eroute.Selector, bool) {
	flow, ok := erouteSelector(sel)
	if flow.Proto != eroute.TCP && flow.Proto != eroute.UDP {
		flow.SrcPort, flow.DstPort = 0, 0
	}
	return flow, ok
}

// acquireTmpl reads what the kernel wants an SA for. xfrm_user_acquire has
// no family for its addresses: that is the template's, which in tunnel mode
// may differ from the flow's; without a matching template it is the flow's.
func acquireTmpl(b []byte, flowFamily uint16, tmpls []Template) Template {
	proto, spi := b[offAcqProto], be.Uint32(b[offAcqSPI:])
	t := Template{Family: flowFamily}
	if i := slices.IndexFunc(tmpls, func(t Template) bool { return t.Proto == proto && t.SPI == spi }); i >= 0 {
		t = tmpls[i]
	}
	t.Proto, t.SPI = proto, spi
	t.Dst = getAddr(b[offAcqDaddr:], t.Family)
	t.Src = getAddr(b[offAcqSaddr:], t.Family)
	t.Aalgos = ne.Uint32(b[offAcqAalgos:])
	t.Ealgos = ne.Uint32(b[offAcqEalgos:])
	t.Calgos = ne.Uint32(b[offAcqCalgos:])
	return t
}

// decodePolicyExpire reads the payload of an XFRM_MSG_POLEXPIRE message.
func decodePolicyExpire(b []byte) (*PolicyExpire, error) {
	p, err := decodePolicyAt(b, 0, sizePolExpire)
	if err != nil {
		return nil, err
	}
	return &PolicyExpire{Policy: p, Eroute: ErouteOf(p), Hard: b[offPolExpireHard] != 0}, nil
}

// decodeDeletedPolicy reads the notification of a deleted policy: an
// xfrm_userpolicy_id, then the policy's xfrm_userpolicy_info in the
// attribute XFRMA_POLICY and its other attributes (templates, mark, if_id,
// type) beside it.
func decodeDeletedPolicy(b []byte) (Policy, error) {
	if len(b) < sizePolicyID {
		return Policy{}, errShort
	}
	var info []byte
	err := walkAttrs(b[sizePolicyID:], func(typ uint16, v []byte) {
		if typ == attrPolicy {
			info = v
		}
	})
	if err != nil {
		return Policy{}, err
	}
	p, err := decodePolicyAt(info, 0, sizePolicyInfo)
	if err != nil {
		return Policy{}, err
	}
	err = walkAttrs(b[sizePolicyID:], func(typ uint16, v []byte) {
		if typ != attrPolicy {
			decodePolicyAttr(&p, typ, v)
		}
	})
	return p, err
}

// decodeEvent reads a message a Listener received: nil for the types that
// are no Event, and for messages that do not decode (err says why). The
// checks keep a nil *Acquire out of the interface.
func decodeEvent(typ uint16, payload []byte) (Event, error) {
	switch typ {
	case msgAcquire:
		a, err := DecodeAcquire(payload)
		if err != nil {
			return nil, err
		}
		return a, nil
	case msgPolExpire:
		e, err := decodePolicyExpire(payload)
		if err != nil {
			return nil, err
		}
		return e, nil
	case msgNewPolicy, msgUpdPolicy:
		p, err := decodePolicy(payload)
		if err != nil {
			return nil, err
		}
		return &PolicyChange{Policy: p}, nil
	case msgDelPolicy:
		p, err := decodeDeletedPolicy(payload)
		if err != nil {
			return nil, err
		}
		return &PolicyChange{Policy: p, Deleted: true}, nil
	case msgFlushPol:
		return &PolicyFlush{}, nil
	}
	return decodeSAEvent(typ, payload)
}

// appendEvents decodes the messages of one datagram (the kernel
// multicasts one per datagram; nextMessage checks every length), and
// leaves out the message types skip has a bit for (1<<type).
func appendEvents(evs []Event, b []byte, skip uint64) []Event {
	for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
		wanted := m.typ >= 64 || skip&(1<<m.typ) == 0
		if ev, err := decodeEvent(m.typ, m.data); wanted && err == nil && ev != nil {
			evs = append(evs, ev)
		}
	}
	return evs
}
