package xfrm

import (
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// PrioBase is the priority of the least specific eroute of kind 0. Eroute
// priorities run from PrioBase to PrioBase+eroute.MaxSpecificity*16+15: far
// from 0, where ip xfrm puts policies by default, so a hand-made policy of
// priority 0 is never mistaken for an eroute.
const PrioBase = 1 << 24

// prioStep leaves room for the kind in the low 4 bits.
const prioStep = 16

// kind is what an eroute policy realises, kept in the low 4 bits of its
// priority, so that SAIDs with the same kernel shape (%drop, %reject, %hold;
// %pass, %passthrough4, %passthrough6; %trap, %trapsubnet) read back apart,
// and a monitor's hold apart from a %hold an administrator gave.
//
// The numbers are stored in the kernel's tables: they are written out, never
// renumbered (TestKindNumbersPinned), and a new kind takes the next free one.
type kind uint32

const (
	kindSA           kind = 0 // ah, esp, comp or tun SAID: one template
	kindPass         kind = 1
	kindPassthrough4 kind = 2
	kindPassthrough6 kind = 3
	kindDrop         kind = 4
	kindReject       kind = 5
	kindHold         kind = 6
	kindTrap         kind = 7
	kindTrapSubnet   kind = 8
	kindMonitorHold  kind = 9 // a %hold a monitor put on a trapped flow: see AddHold
	numKinds              = 10
)

// The kind must fit in the priority's low bits, below one step of
// specificity: this fails to compile when numKinds exceeds prioStep.
var _ [prioStep - numKinds]struct{}

// kindSAIDs gives the magic SAID of each kind (kindSA has none).
var kindSAIDs = [numKinds]eroute.SAID{
	kindPass:         eroute.Pass,
	kindPassthrough4: eroute.Passthrough4,
	kindPassthrough6: eroute.Passthrough6,
	kindDrop:         eroute.Drop,
	kindReject:       eroute.Reject,
	kindHold:         eroute.Hold,
	kindTrap:         eroute.Trap,
	kindTrapSubnet:   eroute.TrapSubnet,
	kindMonitorHold:  eroute.Hold,
}

// kindOf gives the kind an eroute is written with. %hold is kindHold, found
// first: kindMonitorHold is only ever written by AddHold.
func kindOf(s eroute.SAID) kind {
	switch s.Proto { // the magic SAIDs are of these two protocols
	case eroute.ProtoInt, eroute.ProtoTun:
		for k := kindPass; k < numKinds; k++ {
			if kindSAIDs[k] == s {
				return k
			}
		}
	}
	return kindSA
}

// priority gives the priority of an eroute: more specific selectors get
// lower values, so the kernel prefers them as the KLIPS radix tree did.
func priority(sel eroute.Selector, k kind) uint32 {
	return PrioBase + (eroute.MaxSpecificity-sel.Specificity())*prioStep + uint32(k)
}

// PolicyOf gives the policy that stores an eroute (see the package comment).
// The Count is not stored: the kernel counts SAs, not policies. There is no
// expiry: the kernel never deletes an eroute by itself.
func PolicyOf(e eroute.Eroute) Policy {
	p, t, ok := shapeOf(e)
	if ok {
		p.Tmpls = []Template{t}
	}
	return p
}

// shapeOf is PolicyOf without the template slice, which it gives apart
// (ok when there is one), so that reading a dump back allocates nothing.
func shapeOf(e eroute.Eroute) (p Policy, t Template, ok bool) {
	return shapeOfKind(e, kindOf(e.SAID))
}

// shapeOfKind is shapeOf for an eroute whose kind is known to be k.
func shapeOfKind(e eroute.Eroute, k kind) (p Policy, t Template, ok bool) {
	p = Policy{
		Sel:      selectorOf(e.Selector),
		Dir:      DirOut,
		Type:     TypeMain,
		Priority: priority(e.Selector, k),
	}
	switch k {
	case kindDrop, kindReject, kindHold:
		p.Action = ActionBlock
	case kindTrap, kindTrapSubnet:
		return p, trapTemplate(p.Sel.Family), true
	case kindSA:
		return p, saTemplate(e.SAID, p.Sel.Family), true
	}
	return p, Template{}, false
}

func selectorOf(s eroute.Selector) Selector {
	sel := Selector{
		Family:  familyOf(s.Src.Addr()),
		Src:     s.Src,
		Dst:     s.Dst,
		Proto:   s.Proto,
		SrcPort: s.SrcPort,
		DstPort: s.DstPort,
	}
	if s.SrcPort != 0 {
		sel.SrcPortMask = 0xffff
	}
	if s.DstPort != 0 {
		sel.DstPortMask = 0xffff
	}
	return sel
}

// trapTemplate has no state to match, so the kernel asks the key managers
// for one (ACQUIRE); daddr zero in transport mode means the packet's own.
func trapTemplate(family uint16) Template {
	return Template{
		Family: family, Src: unspecified(family), Dst: unspecified(family),
		Proto: protoESP, Mode: ModeTransport,
		Aalgos: anyAlgos, Ealgos: anyAlgos, Calgos: anyAlgos,
	}
}

// saTemplate names the SA of an ah, esp, comp or tun SAID. The template's
// family is the SAID address's (the selector's when the SAID has none): a
// tunnel may carry IPv4 in IPv6 and back; transport mode cannot, and the
// kernel refuses it.
func saTemplate(s eroute.SAID, selFamily uint16) Template {
	family := familyOf(s.Dst)
	dst := s.Dst
	if family == 0 {
		family = selFamily
		dst = unspecified(family)
	}
	t := Template{
		Family: family, Src: unspecified(family), Dst: dst,
		Proto: uint8(s.Proto), SPI: s.SPI, Mode: ModeTransport,
		Aalgos: anyAlgos, Ealgos: anyAlgos, Calgos: anyAlgos,
	}
	if s.Proto == eroute.ProtoTun {
		t.Proto, t.Mode = protoESP, ModeTunnel
	}
	return t
}

// ErouteOf reads a policy as an eroute (see the package comment). It gives
// the zero Eroute for a policy whose selector is neither IPv4 nor IPv6.
func ErouteOf(p Policy) eroute.Eroute {
	v := viewOf(p)
	e, _, _ := v.eroute()
	return e
}

// erouteOf is ErouteOf that also tells whether the policy could be read.
func erouteOf(p Policy) (eroute.Eroute, bool) {
	v := viewOf(p)
	e, _, ok := v.eroute()
	return e, ok
}

// policyView is a Policy as far as reading it back needs, without the
// template slice: the number of templates, the first, and the first in
// tunnel mode. The streaming decoder (scanPolicy) fills one from a dump
// message without allocating; viewOf makes one of a Policy.
type policyView struct {
	Policy             // Tmpls stays nil
	nTmpls    int      // how many templates the policy has
	first     Template // the first template, when nTmpls > 0
	tunnel    Template // the first in tunnel mode, when hasTunnel
	hasTunnel bool
	// isGroup: the templates are those of an SA group's head, group
	// (see groupTemplates).
	group   eroute.SAID
	isGroup bool
}

// maxGroup is the most SAs a group has: KLIPS's spigrp took four.
const maxGroup = 4

func viewOf(p Policy) policyView {
	v := policyView{Policy: p, nTmpls: len(p.Tmpls)}
	v.Tmpls = nil
	if len(p.Tmpls) > 0 {
		v.first = p.Tmpls[0]
	}
	if i := slices.IndexFunc(p.Tmpls, func(t Template) bool { return t.Mode == ModeTunnel }); i >= 0 {
		v.tunnel, v.hasTunnel = p.Tmpls[i], true
	}
	if len(p.Tmpls) <= maxGroup {
		v.group, v.isGroup = groupSAID(p.Tmpls)
	}
	return v
}

// eroute reads the policy as an eroute: own when eroute wrote it (its kind
// is recognised), ok when its selector is one an eroute can have.
func (v *policyView) eroute() (e eroute.Eroute, own, ok bool) {
	sel, ok := erouteSelector(v.Sel)
	if !ok {
		return eroute.Eroute{}, false, false
	}
	if v.isMonitorHold() {
		return eroute.Eroute{Selector: sel, SAID: eroute.Hold}, true, true
	}
	e = eroute.Eroute{Selector: sel, SAID: v.foreignSAID()}
	if k, ok := kindIn(v.Priority, sel); ok {
		mine := e
		switch {
		case k != kindSA:
			mine.SAID = kindSAIDs[k]
		case v.isGroup:
			mine.SAID = v.group
		}
		if v.wrote(mine, k) {
			return mine, true, true
		}
	}
	return e, false, true
}

// deletable tells whether Delete by the policy's eroute selector finds it:
// the kernel matches the whole selector (ifindex, user, port masks), the
// mark, the if_id and the security context.
func (v *policyView) deletable(sel eroute.Selector) bool {
	return v.Mark == 0 && v.Mask == 0 && v.IfID == 0 && !v.SecCtx &&
		v.Dir == DirOut && v.Type == TypeMain && selectorOf(sel) == v.Sel
}

// wrote tells whether the policy is exactly the one PolicyOf writes for own
// as kind k. Monitor holds are recognised by their shape (isMonitorHold),
// never by their priority's kind alone.
func (v *policyView) wrote(own eroute.Eroute, k kind) bool {
	if k == kindMonitorHold || k == kindSA && kindOf(own.SAID) != kindSA {
		return false // a SAID of another kind's shape: PolicyOf writes that kind
	}
	want, t, hasT := shapeOfKind(own, k)
	if v.Dir == DirIn {
		want.Dir = DirIn // an --addin policy: the eroute's, inbound
	}
	got := &v.Policy
	sameTmpls := v.nTmpls == 0 && !hasT || v.nTmpls == 1 && hasT && v.first == t ||
		k == kindSA && v.isGroup && v.group == own.SAID
	return sameTmpls && want.Sel == got.Sel && want.Dir == got.Dir && want.Type == got.Type &&
		want.Action == got.Action && want.Priority == got.Priority &&
		want.Mark == got.Mark && want.Mask == got.Mask && want.IfID == got.IfID &&
		got.HardAddExpires == 0 && !got.SecCtx
}

// wrote tells whether p is exactly the policy eroute writes for own as
// kind k (see policyView.wrote).
func wrote(own eroute.Eroute, k kind, p Policy) bool {
	v := viewOf(p)
	return v.wrote(own, k)
}

func erouteSelector(s Selector) (eroute.Selector, bool) {
	if (s.Family != AFInet && s.Family != AFInet6) || !s.Src.IsValid() || !s.Dst.IsValid() {
		return eroute.Selector{}, false
	}
	return eroute.Selector{
		Src:     s.Src,
		Dst:     s.Dst,
		Proto:   s.Proto,
		SrcPort: s.SrcPort & s.SrcPortMask,
		DstPort: s.DstPort & s.DstPortMask,
	}, true
}

// kindIn gives the kind a priority names for this selector, if it is one
// of the eroute priorities of the selector's specificity.
func kindIn(prio uint32, sel eroute.Selector) (kind, bool) {
	base := priority(sel, kindSA)
	if prio < base || prio-base >= uint32(numKinds) {
		return 0, false
	}
	return kind(prio - base), true
}

// foreignSAID reads a policy someone else wrote as closely as a SAID can.
func (v *policyView) foreignSAID() eroute.SAID {
	switch {
	case v.Action == ActionBlock:
		return eroute.Drop
	case v.nTmpls == 0:
		return eroute.Pass
	}
	t := v.first
	if v.hasTunnel {
		t = v.tunnel
	}
	if t.Mode == ModeTunnel && t.Proto == protoESP {
		return eroute.SAID{Proto: eroute.ProtoTun, SPI: t.SPI, Dst: t.Dst}
	}
	// eroute's esp, ah and comp are the IP protocol numbers 50, 51 and 108.
	return eroute.SAID{Proto: eroute.Proto(t.Proto), SPI: t.SPI, Dst: t.Dst}
}

// saKey names one SA: what the kernel looks states up by.
type saKey struct {
	dst   netip.Addr
	spi   uint32
	proto uint8
}

// saKeyOf gives the SA an eroute's SAID names; magic SAIDs name none.
func saKeyOf(s eroute.SAID) (saKey, bool) {
	// The magic SAIDs are those of protocol int and the passthroughs.
	if s.Proto == eroute.ProtoInt || s.IsPassthrough() || s.IsZero() {
		return saKey{}, false
	}
	proto := uint8(s.Proto)
	if s.Proto == eroute.ProtoTun {
		proto = protoESP
	}
	return saKey{dst: s.Dst, spi: s.SPI, proto: proto}, true
}
