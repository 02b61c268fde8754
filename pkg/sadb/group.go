package sadb

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// A group (KLIPS spigrp) lives in the kernel as its members' reqid and
// mode, nowhere else:
//
//   - every member has the group's handle as reqid: the tun SA's SPI when
//     the group has one, else the first member's SPI; handles are SPIs, so
//     never below 0x100, and reqids below that (IKE daemons count from 1)
//     are never taken for a group;
//   - the members are applied inner to outer as comp, esp, ah (XFRM's
//     order); with a tun SA the innermost is in tunnel mode with the tun
//     SA's addresses, the others in transport mode;
//   - all members have the destination of the group.
//
// An eroute naming the group's head (tun0xHANDLE@DST) gets a policy whose
// templates name the members by reqid, whatever their SPIs (see
// package xfrm). A state in tunnel mode with a reqid below 0x100
// (made by ip xfrm, say) is a group of its own whose handle is its SPI:
// that is the SA an eroute to tun0xSPI@DST has always used.

// Group is one group of SAs: its head's SAID, its members inner to outer.
type Group struct {
	Head    eroute.SAID // tun0xHANDLE@DST, or the first member's SAID
	Members []*SA       // comp, esp, ah
}

// Tunnel reports whether the group has a tun SA (its innermost member is
// in tunnel mode).
func (g *Group) Tunnel() bool { return len(g.Members) > 0 && g.Members[0].Tunnel }

// Inbound reports whether the group's destination is this host's.
func (g *Group) Inbound() bool { return len(g.Members) > 0 && g.Members[0].Inbound }

// Outer is the outermost member: the SA whose packets go on the wire.
func (g *Group) Outer() *SA { return g.Members[len(g.Members)-1] }

// GroupKey identifies a group: destination and handle.
type GroupKey struct {
	Dst    netip.Addr
	Handle uint32
}

// KeyOf gives the group an SA belongs to; false for an ungrouped SA.
func KeyOf(sa *SA) (GroupKey, bool) {
	switch {
	case sa.Reqid >= eroute.MinSPI:
		return GroupKey{sa.SAID.Dst, sa.Reqid}, true
	case sa.Tunnel:
		return GroupKey{sa.SAID.Dst, sa.SAID.SPI}, true
	}
	return GroupKey{}, false
}

// Rank orders members inner to outer: comp 0, esp 1, ah 2.
func Rank(p eroute.Proto) int {
	switch p {
	case eroute.ProtoComp:
		return 0
	case eroute.ProtoESP:
		return 1
	}
	return 2
}

// ByRank orders SAs inner to outer, for slices.SortStableFunc.
func ByRank(a, b *SA) int { return cmp.Compare(Rank(a.SAID.Proto), Rank(b.SAID.Proto)) }

// Groups finds the groups among sas, in the order of their heads' text.
// Ungrouped SAs are in none.
func Groups(sas []SA) []Group {
	byKey := map[GroupKey]*Group{}
	var groups []*Group
	for i := range sas {
		k, ok := KeyOf(&sas[i])
		if !ok {
			continue
		}
		g := byKey[k]
		if g == nil {
			g = &Group{}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.Members = append(g.Members, &sas[i])
	}
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		slices.SortStableFunc(g.Members, ByRank)
		k, _ := KeyOf(g.Members[0])
		g.Head = eroute.SAID{Proto: eroute.ProtoTun, SPI: k.Handle, Dst: k.Dst}
		if !g.Tunnel() {
			g.Head = g.Members[0].SAID
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int { return CompareSAIDs(a.Head, b.Head) })
	return out
}

// CompareSAIDs orders SAIDs by destination, protocol, SPI: the order of
// the listings.
func CompareSAIDs(a, b eroute.SAID) int {
	return cmp.Or(a.Dst.Compare(b.Dst), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.SPI, b.SPI))
}
