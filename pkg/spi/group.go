package spi

import (
	"cmp"
	"errors"
	"fmt"
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
// xfrm.GroupTemplates). A state in tunnel mode with a reqid below 0x100
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

// groupKey identifies a group: destination and handle.
type groupKey struct {
	dst    netip.Addr
	handle uint32
}

// keyOf gives the group an SA belongs to; false for an ungrouped SA.
func keyOf(sa *SA) (groupKey, bool) {
	switch {
	case sa.Reqid >= eroute.MinSPI:
		return groupKey{sa.SAID.Dst, sa.Reqid}, true
	case sa.Tunnel:
		return groupKey{sa.SAID.Dst, sa.SAID.SPI}, true
	}
	return groupKey{}, false
}

// rank orders members inner to outer: comp, esp, ah.
func rank(p eroute.Proto) int {
	switch p {
	case eroute.ProtoComp:
		return 0
	case eroute.ProtoESP:
		return 1
	}
	return 2
}

func byRank(a, b *SA) int { return cmp.Compare(rank(a.SAID.Proto), rank(b.SAID.Proto)) }

// Groups finds the groups among sas, in the order of their heads' text.
// Ungrouped SAs are in none.
func Groups(sas []SA) []Group {
	byKey := map[groupKey]*Group{}
	var groups []*Group
	for i := range sas {
		k, ok := keyOf(&sas[i])
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
		slices.SortStableFunc(g.Members, byRank)
		k, _ := keyOf(g.Members[0])
		g.Head = eroute.SAID{Proto: eroute.ProtoTun, SPI: k.handle, Dst: k.dst}
		if !g.Tunnel() {
			g.Head = g.Members[0].SAID
		}
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int { return compareSAIDs(a.Head, b.Head) })
	return out
}

// compareSAIDs orders SAIDs by destination, protocol, SPI.
func compareSAIDs(a, b eroute.SAID) int {
	return cmp.Or(a.Dst.Compare(b.Dst), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.SPI, b.SPI))
}

// find gives the SA with this SAID (esp, ah or comp), or nil.
func find(sas []SA, id eroute.SAID) *SA {
	for i := range sas {
		if sas[i].SAID == id {
			return &sas[i]
		}
	}
	return nil
}

// groupNamed gives the group id names: a tun SAID names the group whose
// handle it is; an SA names the group it is in. nil when there is none.
func groupNamed(groups []Group, sas []SA, id eroute.SAID) *Group {
	var k groupKey
	if id.Proto == eroute.ProtoTun {
		k = groupKey{id.Dst, id.SPI}
	} else {
		sa := find(sas, id)
		if sa == nil {
			return nil
		}
		var ok bool
		if k, ok = keyOf(sa); !ok {
			return nil
		}
	}
	for i := range groups {
		if gk, _ := keyOf(groups[i].Members[0]); gk == k {
			return &groups[i]
		}
	}
	return nil
}

// Change replaces one SA by another (same SAID, another mode or reqid).
type Change struct {
	Old, New SA
}

// Errors of grouping.
var (
	ErrSAExists   = errors.New("SA already in use.  Delete old one first.")
	ErrSANotFound = errors.New("SA does not exist.  Cannot delete.")
)

// PlanGroup says how to group the SAs ids names (spigrp with two to four
// SAIDs), inner to outer, in the kernel sas describes: the members whose
// mode or reqid changes. A tun SAID may come first only; the others must
// exist, share its destination, be of different protocols and come in the
// order comp, esp, ah. When the first SA is grouped already the group
// grows (KLIPS built tun, comp, esp in two pairwise calls); an SA in
// another group is refused, as KLIPS refused it.
func PlanGroup(sas []SA, ids []eroute.SAID) ([]Change, error) {
	hasTun, named, err := namedSAs(sas, ids)
	if err != nil {
		return nil, err
	}
	handle := ids[0].SPI
	var members []*SA
	if g := groupNamed(Groups(sas), sas, ids[0]); g != nil {
		gk, _ := keyOf(g.Members[0])
		handle, hasTun = gk.handle, hasTun || g.Tunnel()
		members = append(members, g.Members...)
	}
	if members, err = joinGroup(members, named); err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("%s: a group needs an esp, ah or comp SA besides the tun SA", ids[0].AFString())
	}
	slices.SortStableFunc(members, byRank)
	if hasTun && !validSrc(members[0].Src) {
		return nil, fmt.Errorf("%s has no source address: the tunnel's outer source comes from it; add it again with --src", members[0].SAID.AFString())
	}
	return groupChanges(members, handle, hasTun), nil
}

// namedSAs checks the SAIDs of a spigrp and finds their SAs: whether the
// first is a tun SAID (it may only come first, and names no SA of its
// own), and the others' SAs, which must exist, share the first's
// destination and come in the order comp, esp, ah.
func namedSAs(sas []SA, ids []eroute.SAID) (tun bool, named []*SA, err error) {
	for i, id := range ids {
		if id.Proto == eroute.ProtoTun {
			if i != 0 {
				return false, nil, fmt.Errorf("%s must come first: a tun SA is the innermost transform of its group", id.AFString())
			}
			tun = true
			continue
		}
		sa := find(sas, id)
		if sa == nil {
			return false, nil, fmt.Errorf("%s: SA does not exist.  Cannot group.", id.AFString())
		}
		if id.Dst != ids[0].Dst {
			return false, nil, fmt.Errorf("%s: the SAs of a group must have one destination, %s's", id.AFString(), ids[0].AFString())
		}
		if len(named) > 0 && rank(named[len(named)-1].SAID.Proto) >= rank(id.Proto) {
			return false, nil, fmt.Errorf("%s after %s: XFRM applies a group's SAs inner to outer as comp, esp, ah; give them in that order",
				id.AFString(), named[len(named)-1].SAID.AFString())
		}
		named = append(named, sa)
	}
	return tun, named, nil
}

// joinGroup adds the named SAs to the members of the group (none: a new
// group), refusing an SA of another group and a second SA of one
// protocol.
func joinGroup(members, named []*SA) ([]*SA, error) {
	for _, sa := range named {
		if slices.Contains(members, sa) {
			continue
		}
		if _, grouped := keyOf(sa); grouped {
			return nil, fmt.Errorf("%s is in another group: %w", sa.SAID.AFString(), ErrSAExists)
		}
		for _, m := range members {
			if m.SAID.Proto == sa.SAID.Proto {
				return nil, fmt.Errorf("%s: the group has an %s SA already (%s)", sa.SAID.AFString(), sa.SAID.Proto, m.SAID.AFString())
			}
		}
		members = append(members, sa)
	}
	return members, nil
}

// groupChanges gives the members, inner to outer, whose reqid or mode
// changes: every member takes the group's handle as reqid, and the
// innermost is in tunnel mode when the group has a tun SA.
func groupChanges(members []*SA, handle uint32, hasTun bool) []Change {
	var changes []Change
	for i, m := range members {
		n := *m
		n.Reqid, n.Tunnel = handle, hasTun && i == 0
		if n.Reqid != m.Reqid || n.Tunnel != m.Tunnel {
			changes = append(changes, Change{Old: *m, New: n})
		}
	}
	return changes
}

// PlanUngroup says how to ungroup (spigrp with one SAID): every member of
// the group id names goes back to transport mode and reqid 0. An SA that
// is in no group needs nothing; a SAID that names nothing is an error.
func PlanUngroup(sas []SA, id eroute.SAID) ([]Change, error) {
	g := groupNamed(Groups(sas), sas, id)
	if g == nil {
		if id.Proto != eroute.ProtoTun && find(sas, id) != nil {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: SA does not exist.  Cannot ungroup.", id.AFString())
	}
	var changes []Change
	for _, m := range g.Members {
		n := *m
		n.Reqid, n.Tunnel = 0, false
		changes = append(changes, Change{Old: *m, New: n})
	}
	return changes, nil
}

// PlanDelete gives the SAs spi --del deletes: the SA and the rest of its
// group, or the whole group a tun SAID names.
func PlanDelete(sas []SA, id eroute.SAID) ([]SA, error) {
	if g := groupNamed(Groups(sas), sas, id); g != nil {
		out := make([]SA, len(g.Members))
		for i, m := range g.Members {
			out[i] = *m
		}
		return out, nil
	}
	if sa := find(sas, id); sa != nil {
		return []SA{*sa}, nil
	}
	return nil, fmt.Errorf("%s: %w", id.AFString(), ErrSANotFound)
}

func validSrc(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }
