package spi

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// How groups live in the kernel, and how they are found among the SAs, is
// the model's (sadb.Group, sadb.Groups); what spigrp may make of them, and
// its messages, are here.

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
	var k sadb.GroupKey
	if id.Proto == eroute.ProtoTun {
		k = sadb.GroupKey{Dst: id.Dst, Handle: id.SPI}
	} else {
		sa := find(sas, id)
		if sa == nil {
			return nil
		}
		var ok bool
		if k, ok = sadb.KeyOf(sa); !ok {
			return nil
		}
	}
	for i := range groups {
		if gk, _ := sadb.KeyOf(groups[i].Members[0]); gk == k {
			return &groups[i]
		}
	}
	return nil
}

// Change replaces one SA by another (same SAID, another mode or reqid).
type Change struct {
	Old, New SA
}

// The kernel's refusals of an SA in KLIPS's words (cmd/internal/app gives
// these for the driver's), and the errors of grouping.
var (
	ErrSAExists   = errors.New("SA already in use.  Delete old one first.")
	ErrSANotFound = errors.New("SA does not exist.  Cannot delete.")
	// ErrNoAlgorithm: the kernel lacks an algorithm of the SA (ENOSYS).
	ErrNoAlgorithm = errors.New("Algorithm support not available in the kernel.  Please compile in support.")
	// ErrInvalid: the kernel refused the SA as invalid (EINVAL).
	ErrInvalid = errors.New("Invalid argument, check kernel log messages for specifics")
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
	if g := groupNamed(sadb.Groups(sas), sas, ids[0]); g != nil {
		gk, _ := sadb.KeyOf(g.Members[0])
		handle, hasTun = gk.Handle, hasTun || g.Tunnel()
		members = append(members, g.Members...)
	}
	if members, err = joinGroup(members, named); err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("%s: a group needs an esp, ah or comp SA besides the tun SA", ids[0].AFString())
	}
	slices.SortStableFunc(members, sadb.ByRank)
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
		if len(named) > 0 && sadb.Rank(named[len(named)-1].SAID.Proto) >= sadb.Rank(id.Proto) {
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
		if _, grouped := sadb.KeyOf(sa); grouped {
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
	g := groupNamed(sadb.Groups(sas), sas, id)
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
	if g := groupNamed(sadb.Groups(sas), sas, id); g != nil {
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
