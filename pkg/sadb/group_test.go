package sadb

import (
	"net/netip"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

func said(proto eroute.Proto, spi uint32, dst string) eroute.SAID {
	return eroute.SAID{Proto: proto, SPI: spi, Dst: netip.MustParseAddr(dst)}
}

// Groups finds the groups in reqids and modes alone: members inner to
// outer whatever the SAs' order, a tun head when the innermost is in
// tunnel mode, a tunnel state of a small reqid as a group of its own
// (its SPI the handle), ungrouped SAs and small reqids in none, the
// groups in the order of their heads.
func TestGroups(t *testing.T) {
	sas := []SA{
		{SAID: said(eroute.ProtoAH, 0x303, "10.0.0.2"), Reqid: 0x300},
		{SAID: said(eroute.ProtoESP, 0x302, "10.0.0.2"), Reqid: 0x300},
		{SAID: said(eroute.ProtoComp, 0x301, "10.0.0.2"), Reqid: 0x300, Tunnel: true},
		{SAID: said(eroute.ProtoESP, 0x500, "10.0.0.1"), Reqid: 7, Tunnel: true}, // ip xfrm's tunnel
		{SAID: said(eroute.ProtoESP, 0x600, "10.0.0.1"), Reqid: 7},               // an IKE daemon's reqid
		{SAID: said(eroute.ProtoESP, 0x402, "10.0.0.3"), Reqid: 0x401},
		{SAID: said(eroute.ProtoAH, 0x401, "10.0.0.3"), Reqid: 0x401},
		{SAID: said(eroute.ProtoESP, 0x700, "10.0.0.3")}, // ungrouped
	}
	groups := Groups(sas)
	want := []struct {
		head    eroute.SAID
		members []eroute.SAID
	}{
		{said(eroute.ProtoTun, 0x500, "10.0.0.1"), []eroute.SAID{sas[3].SAID}},
		{said(eroute.ProtoTun, 0x300, "10.0.0.2"), []eroute.SAID{sas[2].SAID, sas[1].SAID, sas[0].SAID}},
		{said(eroute.ProtoESP, 0x402, "10.0.0.3"), []eroute.SAID{sas[5].SAID, sas[6].SAID}},
	}
	if len(groups) != len(want) {
		t.Fatalf("%d groups, want %d: %+v", len(groups), len(want), groups)
	}
	for i, g := range groups {
		if g.Head != want[i].head || len(g.Members) != len(want[i].members) {
			t.Errorf("group %d: head %v, %d members; want %v, %d", i, g.Head, len(g.Members), want[i].head, len(want[i].members))
			continue
		}
		for j, m := range g.Members {
			if m.SAID != want[i].members[j] {
				t.Errorf("group %v member %d: %v, want %v", g.Head, j, m.SAID, want[i].members[j])
			}
		}
		if g.Outer() != g.Members[len(g.Members)-1] || g.Tunnel() != (g.Head.Proto == eroute.ProtoTun) {
			t.Errorf("group %v: Outer %v, Tunnel %v", g.Head, g.Outer().SAID, g.Tunnel())
		}
	}
	if g := groups[1]; g.Members[0] != &sas[2] {
		t.Error("members are copies, not the SAs given")
	}
}

func TestLimitsAndKeyBits(t *testing.T) {
	if !(Limits{}).IsZero() || (Limits{UseTime: 1}).IsZero() {
		t.Error("Limits.IsZero")
	}
	var none *Alg
	if none.KeyBits() != 0 || (&Alg{Key: make([]byte, 16)}).KeyBits() != 128 {
		t.Error("Alg.KeyBits")
	}
}
