package xfrm

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// Policies eroute did not make (foreign ones) are rare next to eroutes: a
// daemon's few dozen. The listing keeps each of them whole, decoded, beside
// its 72-byte record, so that it can tell the truth about them: a template
// without an SA is a %trap, a template that names an SA by reqid counts that
// SA's packets, and the JSON listing gives the priority, the mark and each
// template.

// detail is a foreign policy (or a monitor hold, own) as the listing keeps
// it beside its record.
type detail struct {
	p       Policy
	own     bool   // a monitor hold
	count   uint64 // packets of the SA its template finds by reqid
	counted bool   // count is set (the template names no SPI)
	trap    bool   // listed as %trap: its template finds no SA
}

// entry gives the foreign policy's Entry as the listing shows it.
func (d *detail) entry() Entry {
	e, _ := entryOf(d.p)
	if d.trap {
		e.SAID = eroute.Trap
	}
	e.Count = d.count
	return e
}

// shownTemplate is the template a foreign policy is listed by: the first in
// tunnel mode, else the first (foreignSAID reads it the same way).
func shownTemplate(p *Policy) (Template, bool) {
	for _, t := range p.Tmpls {
		if t.Mode == ModeTunnel {
			return t, true
		}
	}
	if len(p.Tmpls) > 0 {
		return p.Tmpls[0], true
	}
	return Template{}, false
}

// saInfo is one SA of a dump, as far as the listing needs it.
type saInfo struct {
	key     saKey // dst, SPI, proto
	reqid   uint32
	packets uint64
}

// saIndex finds the SAs a template names: by SPI, or by reqid (and
// destination) when the template names no SPI, as the kernel does.
type saIndex struct {
	packets map[saKey]uint64   // by dst, SPI, proto
	byReqid map[saKey]uint64   // key.spi is the reqid; dst unspecified: any destination
	byDst   map[saKey]struct{} // key.spi is 0: some SA to dst of that protocol
}

func newSAIndex() *saIndex {
	return &saIndex{packets: map[saKey]uint64{}, byReqid: map[saKey]uint64{}, byDst: map[saKey]struct{}{}}
}

func (x *saIndex) add(sa saInfo) {
	x.packets[sa.key] += sa.packets
	x.byDst[saKey{dst: sa.key.dst, proto: sa.key.proto}] = struct{}{}
	if sa.reqid != 0 {
		x.byReqid[saKey{dst: sa.key.dst, spi: sa.reqid, proto: sa.key.proto}] += sa.packets
		any := saKey{dst: unspecified(familyOf(sa.key.dst)), spi: sa.reqid, proto: sa.key.proto}
		x.byReqid[any] += sa.packets
	}
}

// find gives the packets of the SAs a template without SPI finds, and
// whether it finds one: by reqid and destination (any destination when the
// template has none, as in transport mode), or with reqid 0 by destination
// alone. A template that finds none is a trap: the kernel asks the key
// managers for an SA (ACQUIRE).
func (x *saIndex) find(t Template) (uint64, bool) {
	dst := t.Dst
	if !dst.IsValid() {
		dst = unspecified(t.Family)
	}
	if t.Reqid != 0 {
		n, ok := x.byReqid[saKey{dst: dst, spi: t.Reqid, proto: t.Proto}]
		return n, ok
	}
	if dst.IsUnspecified() {
		return 0, false
	}
	_, ok := x.byDst[saKey{dst: dst, proto: t.Proto}]
	return 0, ok
}

// trapShaped tells whether a foreign policy's listed template names no SPI,
// so that only the SAs can tell a trap from a tunnel.
func trapShaped(p *Policy) (Template, bool) {
	t, ok := shownTemplate(p)
	return t, ok && p.Action == ActionAllow && t.SPI == 0
}

// resolve lists a foreign policy whose template names no SPI: a %trap when
// no SA answers it, else with the packets of the SAs it finds.
func (d *detail) resolve(r *record, sas *saIndex) {
	t, ok := trapShaped(&d.p)
	if !ok {
		return
	}
	if n, found := sas.find(t); found {
		d.count, d.counted = n, true
		return
	}
	d.trap = true
	r.setSAID(eroute.Trap)
}

// setSAID changes the SAID a record lists.
func (r *record) setSAID(s eroute.SAID) {
	n := recordOf(eroute.Eroute{SAID: s}, 0, 0)
	r.saidDst, r.spi, r.proto, r.saidFam = n.saidDst, n.spi, n.proto, n.saidFam
}

// entryOf gives the Entry of a decoded policy; false when its selector is
// one an eroute cannot have.
func entryOf(p Policy) (Entry, bool) {
	v := viewOf(p)
	e, own, ok := v.eroute()
	if !ok {
		return Entry{}, false
	}
	return Entry{
		Eroute: e, Own: own, Deletable: v.deletable(e.Selector), Inbound: p.Dir == DirIn,
		Priority: p.Priority, Index: p.Index, Mark: p.Mark, Mask: p.Mask, IfID: p.IfID, Tmpls: p.Tmpls,
	}, true
}

// covers tells whether a policy takes every packet an eroute's selector
// picks, whatever else is in the table: outbound, main, no mark, no if_id,
// no interface or user, and a selector that contains sel's.
func covers(p *Policy, sel eroute.Selector) bool {
	s := &p.Sel
	if p.Dir != DirOut || p.Type != TypeMain || p.Mark != 0 || p.Mask != 0 || p.IfID != 0 || p.SecCtx ||
		s.Ifindex != 0 || s.User != 0 || s.Family != familyOf(sel.Src.Addr()) {
		return false
	}
	return contains(s.Src, sel.Src) && contains(s.Dst, sel.Dst) &&
		(s.Proto == 0 || s.Proto == sel.Proto) &&
		fieldCovers(s.SrcPort, s.SrcPortMask, sel.SrcPort) && fieldCovers(s.DstPort, s.DstPortMask, sel.DstPort)
}

// contains tells whether the prefix outer (host bits ignored, as the
// kernel ignores them when it matches) holds every address of inner.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// fieldCovers tells whether a port (or type, code, key half) with its mask
// takes every value v stands for: any (mask 0), or exactly v's when v is set.
func fieldCovers(port, mask, v uint16) bool {
	return mask == 0 || v != 0 && v&mask == port&mask
}

// shadows finds, for eroute's own entries, the foreign policy that takes
// their packets first (see Entry.ShadowedBy): the foreign policies that may
// cover a selector, by priority, each checked until the priority reaches
// the eroute's. A listing with many of them costs that many checks an
// eroute; daemons make a few dozen.
type shadows struct {
	cands []*detail
}

func newShadows(details map[uint32]*detail) *shadows {
	s := &shadows{}
	for _, d := range details {
		if !d.own && d.p.Dir == DirOut && d.p.Mark == 0 && d.p.Mask == 0 && d.p.IfID == 0 && !d.p.SecCtx && d.p.Sel.Ifindex == 0 {
			s.cands = append(s.cands, d)
		}
	}
	slices.SortFunc(s.cands, func(a, b *detail) int {
		return cmp.Or(cmp.Compare(a.p.Priority, b.p.Priority), cmp.Compare(a.p.Index, b.p.Index))
	})
	return s
}

// of gives the policy that shadows an eroute, nil when none does.
func (s *shadows) of(e *Entry) *Entry {
	for _, d := range s.cands {
		if d.p.Priority >= e.Priority {
			break
		}
		if covers(&d.p, e.Selector) {
			f := d.entry()
			return &f
		}
	}
	return nil
}
