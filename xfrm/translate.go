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
type kind uint32

const (
	kindSA kind = iota // ah, esp, comp or tun SAID: one template
	kindPass
	kindPassthrough4
	kindPassthrough6
	kindDrop
	kindReject
	kindHold
	kindTrap
	kindTrapSubnet
	kindMonitorHold // a %hold a monitor put on a trapped flow: see AddHold
	numKinds
)

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
	for k := kindPass; k < numKinds; k++ {
		if kindSAIDs[k] == s {
			return k
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
	k := kindOf(e.SAID)
	p := Policy{
		Sel:      selectorOf(e.Selector),
		Dir:      DirOut,
		Type:     TypeMain,
		Priority: priority(e.Selector, k),
	}
	switch k {
	case kindDrop, kindReject, kindHold:
		p.Action = ActionBlock
	case kindTrap, kindTrapSubnet:
		p.Tmpls = []Template{trapTemplate(p.Sel.Family)}
	case kindSA:
		p.Tmpls = []Template{saTemplate(e.SAID, p.Sel.Family)}
	}
	return p
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
	e, _ := erouteOf(p)
	return e
}

// erouteOf is ErouteOf that also tells whether the policy could be read.
func erouteOf(p Policy) (eroute.Eroute, bool) {
	sel, ok := erouteSelector(p.Sel)
	if !ok {
		return eroute.Eroute{}, false
	}
	e := eroute.Eroute{Selector: sel, SAID: foreignSAID(p)}
	if k, ok := kindIn(p.Priority, sel); ok {
		own := e
		if k != kindSA {
			own.SAID = kindSAIDs[k]
		}
		if wrote(own, k, p) {
			e = own
		}
	}
	return e, true
}

// wrote tells whether p is exactly the policy eroute writes for own as kind
// k: PolicyOf's, or for a monitor hold AddHold's with the hold's own expiry,
// which is never 0 (a hold without one would never go away).
func wrote(own eroute.Eroute, k kind, p Policy) bool {
	if k == kindMonitorHold {
		return p.HardAddExpires != 0 && samePolicy(holdPolicy(own.Selector, p.HardAddExpires), p)
	}
	return samePolicy(PolicyOf(own), p)
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

// samePolicy compares what PolicyOf writes with what the kernel holds; the
// index, flags, add time and security context are the kernel's or someone
// else's.
func samePolicy(want, got Policy) bool {
	return want.Sel == got.Sel && want.Dir == got.Dir && want.Type == got.Type &&
		want.Action == got.Action && want.Priority == got.Priority &&
		want.Mark == got.Mark && want.Mask == got.Mask && want.IfID == got.IfID &&
		want.HardAddExpires == got.HardAddExpires &&
		!got.SecCtx && slices.Equal(want.Tmpls, got.Tmpls)
}

// foreignSAID reads a policy someone else wrote as closely as a SAID can.
func foreignSAID(p Policy) eroute.SAID {
	switch {
	case p.Action == ActionBlock:
		return eroute.Drop
	case len(p.Tmpls) == 0:
		return eroute.Pass
	}
	t := p.Tmpls[0]
	if i := slices.IndexFunc(p.Tmpls, func(t Template) bool { return t.Mode == ModeTunnel }); i >= 0 {
		t = p.Tmpls[i]
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
	if s.IsMagic() || s.Proto == eroute.ProtoInt || s.IsZero() {
		return saKey{}, false
	}
	proto := uint8(s.Proto)
	if s.Proto == eroute.ProtoTun {
		proto = protoESP
	}
	return saKey{dst: s.Dst, spi: s.SPI, proto: proto}, true
}
