package xfrm

import (
	"errors"

	"github.com/eroute/eroute/pkg/sadb"
)

// Messages of the SA events.
const (
	msgExpire = 0x18 // XFRM_MSG_EXPIRE: to the group XFRMNLGRP_EXPIRE
	msgUpdSA  = 0x1a // XFRM_MSG_UPDSA
	attrSA    = 6    // XFRMA_SA: xfrm_usersa_info (in DELSA)
	grpSA     = 3    // XFRMNLGRP_SA: SAs made, changed, deleted, flushed

	sizeUserExpire = 232 // xfrm_user_expire: the SA, hard, padding
	offExpireHard  = 224
)

// SAExpire is one XFRM_MSG_EXPIRE (xfrm_user_expire): an SA reached one of
// its limits (bytes, packets, seconds since added or first used). Soft
// (Hard false) is the time to make a new SA; Hard means the kernel has
// deleted this one. ListenOptions.SAExpires asks for them.
type SAExpire struct {
	// SA is the SA as xfrm_usersa_info holds it: SAID (protocol, SPI,
	// destination), source, reqid, mode, limits and counters; the
	// kernel sends no algorithms or keys with an expire.
	SA   sadb.SA
	Hard bool
	// Mark, Mask and IfID are the SA's XFRMA_MARK and XFRMA_IF_ID, 0 when
	// it has none: an SA is known by them too.
	Mark, Mask, IfID uint32
}

// SAChange is a notification of XFRMNLGRP_SA: an SA made (XFRM_MSG_NEWSA),
// changed (UPDSA) or deleted (DELSA: the SA that was deleted).
// ListenOptions.SAs asks for them. The kernel sends an SA whole, keys
// included, as a dump gives it.
type SAChange struct {
	SA               sadb.SA
	Mark, Mask, IfID uint32
	Deleted          bool
}

// SAFlush is XFRM_MSG_FLUSHSA: every SA of a protocol went (Proto 50 ESP,
// 51 AH, 108 IPComp; 255 all of them).
type SAFlush struct{ Proto uint8 }

func (*SAExpire) isEvent() {}
func (*SAChange) isEvent() {}
func (*SAFlush) isEvent()  {}

// decodeSAEvent reads the messages of the SA events; nil for other types.
func decodeSAEvent(typ uint16, b []byte) (Event, error) {
	switch typ {
	case msgExpire:
		return decodeSAExpire(b)
	case msgNewSA, msgUpdSA:
		sa, err := decodeState(b)
		if err != nil {
			return nil, err
		}
		ev := &SAChange{SA: sa}
		ev.Mark, ev.Mask, ev.IfID = saScope(b[min(sizeSAInfo, len(b)):])
		return ev, nil
	case msgDelSA:
		return decodeDeletedSA(b)
	case msgFlushSA:
		if len(b) < 1 {
			return nil, errShort
		}
		return &SAFlush{Proto: b[0]}, nil
	}
	return nil, nil
}

func decodeSAExpire(b []byte) (Event, error) {
	if len(b) < sizeUserExpire {
		return nil, errShort
	}
	sa, err := decodeStateAt(b, sizeUserExpire)
	if err != nil {
		return nil, err
	}
	ev := &SAExpire{SA: sa, Hard: b[offExpireHard] != 0}
	ev.Mark, ev.Mask, ev.IfID = saScope(b[sizeUserExpire:])
	return ev, nil
}

var errNoSA = errors.New("XFRM_MSG_DELSA without the SA (XFRMA_SA)")

// decodeDeletedSA reads the notification of a deleted SA: an
// xfrm_usersa_id, then the SA's xfrm_usersa_info in the attribute
// XFRMA_SA and its other attributes (algorithms, mark...) beside it.
func decodeDeletedSA(b []byte) (Event, error) {
	if len(b) < sizeSAID {
		return nil, errShort
	}
	attrs := b[sizeSAID:]
	var info []byte
	if err := walkAttrs(attrs, func(typ uint16, v []byte) {
		if typ == attrSA {
			info = v
		}
	}); err != nil {
		return nil, err
	}
	if len(info) < sizeSAInfo {
		return nil, errNoSA
	}
	// The SA as NEWSA gives it: the info, then the other attributes.
	whole := append([]byte(nil), info[:sizeSAInfo]...)
	walkAttrs(attrs, func(typ uint16, v []byte) {
		if typ != attrSA {
			whole = appendAttr(whole, typ, v)
		}
	})
	sa, err := decodeState(whole)
	if err != nil {
		return nil, err
	}
	ev := &SAChange{SA: sa, Deleted: true}
	ev.Mark, ev.Mask, ev.IfID = saScope(attrs)
	return ev, nil
}

// saScope reads an SA's mark and if_id from its attributes, which were
// checked already.
func saScope(attrs []byte) (mark, mask, ifID uint32) {
	var p Policy // the policy attributes of the same numbers
	walkAttrs(attrs, func(typ uint16, v []byte) {
		if typ == attrMark || typ == attrIfID {
			decodePolicyAttr(&p, typ, v)
		}
	})
	return p.Mark, p.Mask, p.IfID
}
