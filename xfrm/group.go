package xfrm

import (
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// Groups of SAs (ipsec spigrp) live in the SA table as their members'
// reqid and mode (see pkg/spi). An eroute whose SAID is the head of such a
// group gets one template per member, inner to outer (comp, esp, ah), each
// naming its SA by reqid with SPI 0, so that the SAs' own SPIs do not
// matter, as in KLIPS, where the eroute named the group's first SA:
//
//	tun0x200@gw grouped with esp0x201@gw and ah0x202@gw:
//	  ESP, tunnel, reqid 0x200, SPI 0, saddr = the tunnel's source, daddr gw
//	  AH, transport, reqid 0x200, SPI 0, daddr gw
//
// When no group has that head, the SAID keeps its one template with the
// SAID's SPI and reqid 0 (see saTemplate): an ESP tunnel SA with SPI 0x200
// made by any tool is what tun0x200@gw has always used. The choice is made
// when the eroute is written; an eroute written before its group was made
// must be written again (--replace), as the listing's COUNT shows.

// groupTemplates gives the templates of the group whose head is s, if the
// SAs hold one. Only groups with a handle of 0x100 or more (what spigrp
// makes) count: a tunnel SA of reqid 0 is no group here.
func groupTemplates(sas []sadb.SA, s eroute.SAID) ([]Template, bool) {
	ts, ok := groupHeads(sas)[s]
	return ts, ok
}

// groupHeads gives the templates of every group the SAs hold, by head (for
// each head what groupTemplates gives), nil when they hold none. The SAs
// are grouped once: a batch of 100,000 eroutes looks its SAIDs up in this
// map rather than grouping the SAs for each.
func groupHeads(sas []sadb.SA) map[eroute.SAID][]Template {
	var heads map[eroute.SAID][]Template
	for _, g := range sadb.Groups(sas) {
		if _, seen := heads[g.Head]; seen || g.Members[0].Reqid < eroute.MinSPI {
			continue
		}
		family := familyOf(g.Head.Dst)
		ts := make([]Template, len(g.Members))
		for i, m := range g.Members {
			ts[i] = Template{
				Family: family, Src: unspecified(family), Dst: g.Head.Dst,
				Proto: uint8(m.SAID.Proto), Reqid: m.Reqid, Mode: ModeTransport,
				Aalgos: anyAlgos, Ealgos: anyAlgos, Calgos: anyAlgos,
			}
			if m.Tunnel {
				ts[i].Mode = ModeTunnel
				ts[i].Src = m.Src
			}
		}
		if heads == nil {
			heads = map[eroute.SAID][]Template{}
		}
		heads[g.Head] = ts
	}
	return heads
}

// namesSA tells whether an eroute's SAID may be a group's head.
func namesSA(s eroute.SAID) bool {
	_, ok := saKeyOf(s)
	return ok
}

// withGroup gives p the group templates of its eroute's SAID, if any. In
// and forward policies take an IPCOMP template as optional: the kernel
// sends small packets uncompressed, and they arrive through its own IP-in-IP
// state, which only an optional template lets pass.
func withGroup(p Policy, ts []Template) Policy {
	if ts == nil {
		return p
	}
	p.Tmpls = slices.Clone(ts)
	if p.Dir != DirOut {
		for i := range p.Tmpls {
			p.Tmpls[i].Optional = p.Tmpls[i].Proto == protoComp
		}
	}
	return p
}

// groupSAID reads the templates of a group policy back as the head's SAID:
// true when they are exactly what groupTemplates writes (SPI 0, one reqid
// of 0x100 or more, protocols in the order comp, esp, ah, only the first
// maybe in tunnel mode, one destination).
func groupSAID(ts []Template) (eroute.SAID, bool) {
	if len(ts) == 0 {
		return eroute.SAID{}, false
	}
	first := ts[0]
	if first.Reqid < eroute.MinSPI {
		return eroute.SAID{}, false
	}
	for i, t := range ts {
		ok := t.SPI == 0 && t.Reqid == first.Reqid && t.Dst == first.Dst && t.Family == first.Family &&
			(i == 0 || t.Mode == ModeTransport && protoRank(ts[i-1].Proto) < protoRank(t.Proto)) &&
			(t.Mode == ModeTransport || t.Mode == ModeTunnel) && protoRank(t.Proto) >= 0
		if !ok {
			return eroute.SAID{}, false
		}
	}
	if first.Mode == ModeTunnel {
		return eroute.SAID{Proto: eroute.ProtoTun, SPI: first.Reqid, Dst: first.Dst}, true
	}
	return eroute.SAID{Proto: eroute.Proto(first.Proto), SPI: first.Reqid, Dst: first.Dst}, true
}

// protoRank orders a group's templates: comp, esp, ah; -1 for others.
func protoRank(p uint8) int {
	switch p {
	case protoComp:
		return 0
	case protoESP:
		return 1
	case protoAH:
		return 2
	}
	return -1
}

// outer gives the packets of a group's outermost SA (AH, else ESP, else
// IPCOMP with that destination and reqid): the SA whose packets go on the
// wire, which an eroute to the group counts.
func (x *saIndex) outer(dst netip.Addr, reqid uint32) uint64 {
	for _, p := range [...]uint8{protoAH, protoESP, protoComp} {
		if n, ok := x.byReqid[saKey{dst: dst, spi: reqid, proto: p}]; ok {
			return n
		}
	}
	return 0
}
