package spi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// The listing of `ipsec spi` is /proc/net/ipsec_spi's, one line an SA,
// rebuilt from what XFRM keeps:
//
//	SAID XFORM: dir=in |out src=ADDR [iv_bits=Nbits] [ooowin=N] [ooo_errs=N]
//	[seq=N] [bit=0xN] [alen=N] [aklen=N] [auth_errs=N] [eklen=N]
//	life(c,s,h)=... [idle=N] natencap=none|nonike|nonesp natsport=N natdport=N
//
// Synthesised: dir (the destination is an address of this host, as KLIPS
// decided at add time; here it is decided when listing), a tun line for
// each group with a tun SA (handle, the tunnel's source, the counts of the
// member that carries the tunnel). Omitted, because XFRM has no such thing:
// iv= (XFRM never shows the IV; iv_bits stays), max_seq_diff, flags,
// encr_size_errs, encr_pad_errs, ratio, jiffies, refcount, ref, refhim,
// and the alloc life type. Times are seconds elapsed, as in KLIPS.

// Line gives the listing line of an SA (without the newline).
func Line(sa *SA, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s", sa.SAID, XformName(sa), dirAndSrc(sa))
	if n := ivBits(sa.Enc); n != 0 {
		fmt.Fprintf(&b, " iv_bits=%dbits", n)
	}
	if sa.Enc != nil || sa.Auth != nil {
		seq := sa.Replay.OSeq
		if sa.Inbound {
			seq = sa.Replay.Seq
		}
		nonZero(&b, "ooowin", uint64(sa.ReplayWindow))
		nonZero(&b, "ooo_errs", uint64(sa.Stats.Replay))
		nonZero(&b, "seq", uint64(seq))
		if sa.Replay.Bitmap != 0 {
			fmt.Fprintf(&b, " bit=0x%x", sa.Replay.Bitmap)
		}
	}
	nonZero(&b, "alen", uint64(digestBits(sa.Auth)))
	nonZero(&b, "aklen", uint64(sa.Auth.KeyBits()))
	nonZero(&b, "auth_errs", uint64(sa.Stats.IntegrityFailed))
	nonZero(&b, "eklen", uint64(sa.Enc.KeyBits()))
	b.WriteString(lifeAndNAT(sa, now))
	return b.String()
}

// TunLine gives the line of a group's tun SA; policy, when valid, is the
// inbound policy (eroute --addin) that names it, which KLIPS kept on the
// tun SA and listed as policy=SRC->DST flags=0x8<>.
func TunLine(g *Group, policy eroute.Selector, now time.Time) string {
	m := g.Members[0]
	t := SA{SAID: g.Head, Src: m.Src, Inbound: m.Inbound, Current: m.Current, Soft: m.Soft, Hard: m.Hard}
	var pol string
	if policy.Src.IsValid() {
		pol = fmt.Sprintf(" policy=%s->%s flags=0x8<>", policy.Src, policy.Dst)
	}
	return fmt.Sprintf("%s IPIP: %s%s%s", g.Head, dirAndSrc(&t), pol, lifeAndNAT(&t, now))
}

func dirAndSrc(sa *SA) string {
	s := "dir=out"
	if sa.Inbound {
		s = "dir=in "
	}
	if validSrc(sa.Src) {
		s += " src=" + sa.Src.String()
	}
	return s
}

func nonZero(b *strings.Builder, name string, v uint64) {
	if v != 0 {
		fmt.Fprintf(b, " %s=%d", name, v)
	}
}

// lifeAndNAT gives " life(c,s,h)=... [idle=N] natencap=... natsport=N natdport=N".
func lifeAndNAT(sa *SA, now time.Time) string {
	var b strings.Builder
	b.WriteString(" life(c,s,h)=")
	c := sa.Current
	life := func(name string, cur, soft, hard uint64, counted bool) {
		if counted || soft != 0 || hard != 0 {
			fmt.Fprintf(&b, "%s(%d,%d,%d)", name, cur, soft, hard)
		}
	}
	life("bytes", c.Bytes, sa.Soft.Bytes, sa.Hard.Bytes, c.Bytes > 1)
	life("addtime", elapsed(c.AddTime, now), sa.Soft.AddTime, sa.Hard.AddTime, !c.AddTime.IsZero())
	life("usetime", elapsed(c.UseTime, now), sa.Soft.UseTime, sa.Hard.UseTime, !c.UseTime.IsZero())
	life("packets", c.Packets, sa.Soft.Packets, sa.Hard.Packets, c.Packets > 1)
	if !c.LastUsed.IsZero() {
		fmt.Fprintf(&b, " idle=%d", elapsed(c.LastUsed, now))
	}
	encap, sport, dport := "none", uint16(0), uint16(0)
	if e := sa.Encap; e != nil {
		encap, sport, dport = encapName(e.Type), e.SrcPort, e.DstPort
	}
	fmt.Fprintf(&b, " natencap=%s natsport=%d natdport=%d", encap, sport, dport)
	return b.String()
}

func encapName(t uint16) string {
	switch t {
	case sadb.EncapNonIKE:
		return "nonike"
	case sadb.EncapNonESP:
		return "nonesp"
	}
	return "unknown"
}

func elapsed(t, now time.Time) uint64 {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return uint64(now.Sub(t) / time.Second)
}

// Listing gives the lines of `ipsec spi`: every SA and every group's tun
// SA, sorted by destination, protocol and SPI (KLIPS listed in hash order;
// ipsec look sorted). inbound are the in policies, shown on the tun SAs
// they name.
func Listing(sas []SA, inbound []eroute.Eroute, now time.Time) []string {
	policies := map[eroute.SAID]eroute.Selector{}
	for _, e := range inbound {
		if _, seen := policies[e.SAID]; !seen {
			policies[e.SAID] = e.Selector
		}
	}
	type line struct {
		id   eroute.SAID
		text string
	}
	var lines []line
	for i := range sas {
		lines = append(lines, line{sas[i].SAID, Line(&sas[i], now)})
	}
	for _, g := range sadb.Groups(sas) {
		if g.Tunnel() {
			pol := eroute.Selector{}
			if g.Inbound() {
				pol = policies[g.Head]
			}
			lines = append(lines, line{g.Head, TunLine(&g, pol, now)})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return sadb.CompareSAIDs(a.id, b.id) })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// GroupListing gives the lines of `ipsec spigrp` as /proc/net/ipsec_spigrp
// had them since Openswan 2.5: one line for every SA, its SAID followed by
// those it leads to, each followed by one space. An outbound group runs
// tun, comp, esp, ah; an inbound one the other way, as packets are
// processed. Ungrouped SAs have lines of their own SAID.
func GroupListing(sas []SA) []string {
	type line struct {
		id   eroute.SAID
		text string
	}
	var lines []line
	inGroup := map[eroute.SAID]bool{}
	for _, g := range sadb.Groups(sas) {
		chain := []eroute.SAID{}
		if g.Tunnel() {
			chain = append(chain, g.Head)
		}
		for _, m := range g.Members {
			chain = append(chain, m.SAID)
			inGroup[m.SAID] = true
		}
		if g.Inbound() {
			slices.Reverse(chain)
		}
		for i := range chain {
			var b strings.Builder
			for _, id := range chain[i:] {
				b.WriteString(id.String() + " ")
			}
			lines = append(lines, line{chain[i], b.String()})
		}
	}
	for i := range sas {
		if !inGroup[sas[i].SAID] {
			lines = append(lines, line{sas[i].SAID, sas[i].SAID.String() + " "})
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return sadb.CompareSAIDs(a.id, b.id) })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// jsonSA is the JSON form of an SA: the listing's fields, each on its
// own, and the XFRM facts behind them. No key ever appears.
type jsonSA struct {
	SAID         string    `json:"said"`
	Xform        string    `json:"xform"`
	Dir          string    `json:"dir"`
	Src          string    `json:"src,omitempty"`
	Mode         string    `json:"mode"`
	Reqid        uint32    `json:"reqid"`
	Group        string    `json:"group,omitempty"`
	Enc          *jsonAlg  `json:"enc,omitempty"`
	Auth         *jsonAlg  `json:"auth,omitempty"`
	Comp         *jsonAlg  `json:"comp,omitempty"`
	ReplayWindow uint32    `json:"replay_window"`
	Bytes        uint64    `json:"bytes"`
	Packets      uint64    `json:"packets"`
	AddTime      int64     `json:"add_time,omitempty"`
	UseTime      int64     `json:"use_time,omitempty"`
	Soft         Limits    `json:"soft"`
	Hard         Limits    `json:"hard"`
	Encap        *Encap    `json:"natt,omitempty"`
	Errors       jsonStats `json:"errors"`
}

type jsonAlg struct {
	Name    string `json:"name"`
	KeyBits int    `json:"key_bits"`
	ICVBits int    `json:"icv_bits,omitempty"`
}

type jsonStats struct {
	Replay          uint32 `json:"replay"`
	IntegrityFailed uint32 `json:"integrity_failed"`
}

func algJSON(a *Alg) *jsonAlg {
	if a == nil {
		return nil
	}
	return &jsonAlg{Name: a.Name, KeyBits: a.KeyBits(), ICVBits: a.TruncBits}
}

// JSON gives the JSON object of an SA; group is its group's head, the zero
// SAID when it is in none.
func JSON(sa *SA, group eroute.SAID) ([]byte, error) {
	j := jsonSA{
		SAID: sa.SAID.String(), Xform: XformName(sa), Dir: "out", Mode: "transport", Reqid: sa.Reqid,
		Enc: algJSON(sa.Enc), Auth: algJSON(sa.Auth), Comp: algJSON(sa.Comp),
		ReplayWindow: sa.ReplayWindow, Bytes: sa.Current.Bytes, Packets: sa.Current.Packets,
		Soft: sa.Soft, Hard: sa.Hard, Encap: sa.Encap,
		Errors: jsonStats{Replay: sa.Stats.Replay, IntegrityFailed: sa.Stats.IntegrityFailed},
	}
	if sa.Inbound {
		j.Dir = "in"
	}
	if sa.Tunnel {
		j.Mode = "tunnel"
	}
	if validSrc(sa.Src) {
		j.Src = sa.Src.String()
	}
	if !group.IsZero() {
		j.Group = group.String()
	}
	if !sa.Current.AddTime.IsZero() {
		j.AddTime = sa.Current.AddTime.Unix()
	}
	if !sa.Current.UseTime.IsZero() {
		j.UseTime = sa.Current.UseTime.Unix()
	}
	return json.Marshal(j)
}
