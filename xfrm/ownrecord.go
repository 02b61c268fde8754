package xfrm

import "github.com/eroute/eroute/pkg/eroute"

// The listing's fast path. Nearly every policy of a large table is one
// eroute wrote, and such a policy is known byte for byte before it is read:
// its selector, a priority that its selector and kind fix, and no template,
// or the one template its kind writes. ownRecord checks exactly that on
// the message's bytes and packs the record at once, with neither a Policy,
// an eroute.Eroute nor a netip value in between. Anything else (a foreign
// policy, a monitor hold, an SA group, an attribute it does not expect)
// goes the general way (scanPolicy, policyView.eroute, recordOf), which
// gives the same record for every message the fast path takes
// (FuzzOwnRecord).

// Offsets in xfrm_selector (at the start of xfrm_userpolicy_info).
const (
	offSelDaddr     = 0
	offSelSaddr     = 16
	offSelDport     = 32 // big-endian, as the mask after it
	offSelSport     = 36
	offSelFamily    = 40
	offSelDbits     = 42
	offSelSbits     = 43
	offSelProto     = 44
	offSelIfindex   = 48
	offSelUser      = 52
	offTmplSPI      = 16
	offTmplProto    = 20
	offTmplFamily   = 24
	offTmplSaddr    = 28
	offTmplReqid    = 44
	offTmplMode     = 48
	offTmplShare    = 49
	offTmplOptional = 50
	offTmplAalgos   = 52
)

// kindSAIDRecords holds each magic kind's SAID as a record packs it.
var kindSAIDRecords = func() (rs [numKinds]record) {
	for k := kindPass; k < numKinds; k++ {
		rs[k] = recordOf(eroute.Eroute{SAID: kindSAIDs[k]}, 0, 0)
	}
	return rs
}()

// ownRecord fills r (all but pos) when b, the payload of a policy of a
// dump, is outbound, main and exactly a policy eroute writes for the
// eroute it reads as (policyView.wrote), of a kind other than a monitor
// hold, with at most one template and no SA group; else it gives false and
// r is left in an undefined state. It gives the kind too: kindSA's SAID
// names an SA.
func ownRecord(b []byte, r *record) (kind, bool) {
	if len(b) < sizePolicyInfo || b[offPolicyDir] != DirOut || ne.Uint64(b[offPolicyHardAdd:]) != 0 ||
		ne.Uint32(b[offSelIfindex:]) != 0 || ne.Uint32(b[offSelUser:]) != 0 {
		return 0, false
	}
	family := ne.Uint16(b[offSelFamily:])
	alen := 4
	switch family {
	case AFInet:
	case AFInet6:
		alen = 16
	default:
		return 0, false
	}
	sbits, dbits, proto := b[offSelSbits], b[offSelDbits], b[offSelProto]
	sport, sok := erouteWrittenPort(b[offSelSport:])
	dport, dok := erouteWrittenPort(b[offSelDport:])
	if int(sbits) > 8*alen || int(dbits) > 8*alen || !sok || !dok {
		return 0, false
	}
	tmpl, ok := onlyTemplate(b[sizePolicyInfo:])
	if !ok {
		return 0, false
	}
	// eroute.Selector.Specificity, of the ports as the key holds them.
	spec := uint32(sbits)*129 + uint32(dbits)
	spec = spec*2 + uint32(boolByte(proto != 0))
	spec = spec*2 + uint32(boolByte(dport != 0))
	spec = spec*2 + uint32(boolByte(sport != 0))
	k := ne.Uint32(b[offPolicyPriority:]) - (PrioBase + (eroute.MaxSpecificity-spec)*prioStep)
	if k >= numKinds || k == uint32(kindMonitorHold) {
		return 0, false
	}
	block := b[offPolicyAction] == ActionBlock
	if b[offPolicyAction] != ActionAllow && !block {
		return 0, false
	}
	switch kind(k) {
	case kindSA:
		if block || !saRecord(tmpl, family, r) {
			return 0, false
		}
	case kindDrop, kindReject, kindHold:
		if !block || tmpl != nil {
			return 0, false
		}
	case kindTrap, kindTrapSubnet:
		if block || !isTrapTemplate(tmpl, family) {
			return 0, false
		}
	default: // the passes
		if block || tmpl != nil {
			return 0, false
		}
	}
	if kind(k) != kindSA {
		s := &kindSAIDRecords[k]
		r.saidDst, r.spi, r.proto, r.saidFam = s.saidDst, s.spi, s.proto, s.saidFam
	}
	var key eroute.Key
	key[0] = byte(alen >> 4) // 1 for IPv6
	copy(key[1:1+alen], b[offSelSaddr:])
	key[17] = sbits
	copy(key[18:18+alen], b[offSelDaddr:])
	key[34] = dbits
	key[35] = proto
	be.PutUint16(key[36:], sport)
	be.PutUint16(key[38:], dport)
	for i := range r.key {
		r.key[i] = be.Uint64(key[8*i:])
	}
	r.index = ne.Uint32(b[offPolicyIndex:])
	r.flags = recOwn | recDeletable
	return kind(k), true
}

// erouteWrittenPort reads a selector's port and mask as eroute writes
// them: none (0, 0) or one port (p, 0xffff).
func erouteWrittenPort(b []byte) (uint16, bool) {
	port, mask := be.Uint16(b), be.Uint16(b[2:])
	return port, mask == 0 && port == 0 || mask == 0xffff && port != 0
}

// onlyTemplate reads a policy's attributes as scanPolicy does and gives the
// bytes of its one template (nil when it has none); false when the
// attributes are malformed or say anything eroute does not write: more
// than one template, a type other than main, a mark, an if_id, a security
// context.
func onlyTemplate(a []byte) ([]byte, bool) {
	var tmpl []byte
	seen := false
	for len(a) >= 4 {
		n := int(ne.Uint16(a))
		if n < 4 || n > len(a) {
			return nil, false
		}
		v := a[4:n]
		switch ne.Uint16(a[2:]) & attrTypeMask {
		case attrTmpl:
			if seen || len(v) != sizeTmpl {
				return nil, false
			}
			tmpl, seen = v, true
		case attrPolicyType:
			if len(v) >= 1 && v[0] != TypeMain {
				return nil, false
			}
		case attrMark:
			if len(v) >= 8 && ne.Uint64(v) != 0 {
				return nil, false
			}
		case attrIfID:
			if len(v) >= 4 && ne.Uint32(v) != 0 {
				return nil, false
			}
		case attrSecCtx:
			return nil, false
		}
		a = a[min(align4(n), len(a)):]
	}
	return tmpl, true
}

// templateFamily gives a template's family as getTmpl reads it (0 is the
// selector's) and its address length; false for a family an address of
// neither IPv4 nor IPv6.
func templateFamily(t []byte, selFamily uint16) (uint16, int, bool) {
	family := ne.Uint16(t[offTmplFamily:])
	if family == 0 {
		family = selFamily
	}
	switch family {
	case AFInet:
		return family, 4, true
	case AFInet6:
		return family, 16, true
	}
	return 0, 0, false
}

// plainTemplate tells whether a template has what every template eroute
// writes has: an unspecified source, no reqid, no share, not optional, any
// algorithm.
func plainTemplate(t []byte, alen int) bool {
	return allZero(t[offTmplSaddr:offTmplSaddr+alen]) && ne.Uint32(t[offTmplReqid:]) == 0 &&
		t[offTmplShare] == 0 && t[offTmplOptional] == 0 &&
		ne.Uint32(t[offTmplAalgos:]) == anyAlgos && ne.Uint32(t[offTmplAalgos+4:]) == anyAlgos &&
		ne.Uint32(t[offTmplAalgos+8:]) == anyAlgos
}

// isTrapTemplate tells whether t is trapTemplate(selFamily).
func isTrapTemplate(t []byte, selFamily uint16) bool {
	if t == nil {
		return false
	}
	family, alen, ok := templateFamily(t, selFamily)
	return ok && family == selFamily && plainTemplate(t, alen) && allZero(t[:alen]) &&
		be.Uint32(t[offTmplSPI:]) == 0 && t[offTmplProto] == protoESP && t[offTmplMode] == ModeTransport
}

// saRecord fills r's SAID from t when t is saTemplate's template for the
// SAID it reads as (foreignSAID), and that SAID is of kind kindSA.
func saRecord(t []byte, selFamily uint16, r *record) bool {
	if t == nil {
		return false
	}
	_, alen, ok := templateFamily(t, selFamily)
	if !ok || !plainTemplate(t, alen) {
		return false
	}
	spi := be.Uint32(t[offTmplSPI:])
	switch proto, mode := t[offTmplProto], t[offTmplMode]; {
	case mode == ModeTunnel && proto == protoESP:
		if spi == 0 && allZero(t[:alen]) {
			return false // %passthrough4 or 6: written as its own kind
		}
		r.proto = eroute.ProtoTun
	case mode == ModeTransport && (proto == protoESP || proto == protoAH || proto == protoComp):
		r.proto = eroute.Proto(proto)
	default:
		return false
	}
	r.spi = spi
	r.saidFam = uint8(alen>>4)*2 + 4 // 4 or 6
	r.saidDst = [16]byte{}
	copy(r.saidDst[:alen], t)
	return true
}
