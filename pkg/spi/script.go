package spi

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// Script gives the shell script `ipsec spi --save` writes: one `ipsec spi`
// line per SA, ordered by SAID, then one `ipsec spigrp` line per group,
// which, run with sh on an empty SA table, make the same SAs and groups
// again. self is the ipsec front end the lines run ($IPSEC overrides it).
// Each SA alone, or each group whole, is first made again in memory from
// its lines; one that would not come back the same (an IKE daemon's reqid,
// a cipher with no --esp name, a replay window beyond 64) is a comment
// saying why instead, never a line that makes something else. The lines
// hold the keys; the comments never do.
func Script(sas []SA, self string) []string {
	lines := []string{
		"#!/bin/sh",
		"# The SAs and groups of `ipsec spi`, written by `ipsec spi --save`.",
		"# Run with sh on an empty SA table (ipsec spi --clear) to make them again.",
		"# This file holds the keys: keep it mode 0600, readable by root only.",
		"set -e",
		"IPSEC=${IPSEC:-" + shellQuote(cmp.Or(self, "ipsec")) + "}",
	}
	sas = slices.Clone(sas)
	slices.SortFunc(sas, func(a, b SA) int { return sadb.CompareSAIDs(a.SAID, b.SAID) })
	var spigrps []string
	spiLine, refused := map[eroute.SAID]string{}, map[eroute.SAID]string{}
	grouped := map[eroute.SAID]bool{}
	for _, g := range sadb.Groups(sas) {
		members := make([]SA, len(g.Members))
		for i, m := range g.Members {
			members[i] = *m
			grouped[m.SAID] = true
		}
		saLines, why := unitLines(members, &g)
		if why != "" {
			for _, m := range members {
				refused[m.SAID] = fmt.Sprintf("# %s (in group %s) not saved: %s", m.SAID.AFString(), g.Head.AFString(), why)
			}
			continue
		}
		for i, m := range members {
			spiLine[m.SAID] = saLines[i]
		}
		spigrps = append(spigrps, saLines[len(members)])
	}
	for _, sa := range sas {
		if grouped[sa.SAID] {
			continue
		}
		saLines, why := unitLines([]SA{sa}, nil)
		if why != "" {
			refused[sa.SAID] = fmt.Sprintf("# %s not saved: %s", sa.SAID.AFString(), why)
			continue
		}
		spiLine[sa.SAID] = saLines[0]
	}
	for _, sa := range sas {
		if l, ok := spiLine[sa.SAID]; ok {
			lines = append(lines, l)
		}
	}
	lines = append(lines, spigrps...)
	for _, sa := range sas {
		if l, ok := refused[sa.SAID]; ok {
			lines = append(lines, l)
		}
	}
	return lines
}

// unitLines gives the lines that make an ungrouped SA, or a group's
// members and then its spigrp line; or why they cannot be written.
func unitLines(members []SA, g *Group) ([]string, string) {
	if g != nil {
		for _, m := range members {
			if m.Reqid != g.Head.SPI {
				return nil, reqidReason(m.Reqid)
			}
		}
	}
	for _, m := range members {
		if m.Unsaid != "" {
			return nil, "it has " + m.Unsaid + ", which no ipsec spi option sets"
		}
	}
	mem := &memTable{}
	var lines []string
	for i := range members {
		args, err := Args(&members[i])
		if err != nil {
			return nil, err.Error()
		}
		if w := members[i].ReplayWindow; w > 64 {
			return nil, fmt.Sprintf("its replay window %d is beyond --replay_window's 64", w)
		}
		if RunSpi(args, mem.env()) != 0 {
			return nil, "ipsec spi refuses the line that would make it"
		}
		lines = append(lines, `"$IPSEC" spi `+strings.Join(args, " "))
	}
	if g != nil {
		args := GroupArgs(g)
		if RunSpigrp(args, mem.env()) != 0 {
			return nil, "ipsec spigrp refuses the line that would group it"
		}
		lines = append(lines, `"$IPSEC" spigrp `+strings.Join(args, " "))
	}
	for i := range members {
		if why := differs(&members[i], find(mem.sas, members[i].SAID)); why != "" {
			return nil, why
		}
	}
	return lines, ""
}

// differs names what an SA made again from its lines lacks of the one
// the kernel holds; "" when nothing (the counters aside).
func differs(want, got *SA) string {
	if got == nil {
		return "its lines do not make it again"
	}
	for _, f := range []struct {
		what      string
		want, got any
	}{
		{"source address", want.Src, got.Src},
		{"cipher", want.Enc, got.Enc},
		{"integrity", want.Auth, got.Auth},
		{"compression", want.Comp, got.Comp},
		{"replay window", want.ReplayWindow, got.ReplayWindow},
		{"lifetimes", [2]Limits{want.Soft, want.Hard}, [2]Limits{got.Soft, got.Hard}},
		{"NAT encapsulation", want.Encap, got.Encap},
		{"mode", want.Tunnel, got.Tunnel},
		{"reqid", want.Reqid, got.Reqid},
	} {
		if !reflect.DeepEqual(f.want, f.got) {
			if f.what == "reqid" {
				return reqidReason(want.Reqid)
			}
			return fmt.Sprintf("ipsec spi would make it with another %s", f.what)
		}
	}
	return ""
}

func reqidReason(reqid uint32) string {
	return fmt.Sprintf("its reqid %d is not one ipsec spigrp gives (what an IKE daemon or ip xfrm made is theirs to make again)", reqid)
}

// shellQuote quotes s for sh when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// memTable is an SA table in memory with XFRM's one rule the commands
// meet (SAIDs unique): Script makes each SA again in one to check it.
type memTable struct{ sas []SA }

func (m *memTable) env() Env {
	return Env{Stdout: io.Discard, Stderr: io.Discard, Now: time.Now,
		Open: func(string) (Kernel, error) { return m, nil }}
}

func (m *memTable) SAs() ([]SA, error) { return slices.Clone(m.sas), nil }

func (m *memTable) AddSA(sa SA) error {
	if find(m.sas, sa.SAID) != nil {
		return ErrSAExists
	}
	m.sas = append(m.sas, sa)
	return nil
}

func (m *memTable) DeleteSA(id eroute.SAID) error {
	n := len(m.sas)
	m.sas = slices.DeleteFunc(m.sas, func(sa SA) bool { return sa.SAID == id })
	if len(m.sas) == n {
		return ErrSANotFound
	}
	return nil
}

func (m *memTable) FlushSAs() error                           { m.sas = nil; return nil }
func (m *memTable) LocalAddrs() ([]netip.Addr, error)         { return nil, nil }
func (m *memTable) InboundPolicies() ([]eroute.Eroute, error) { return nil, nil }
func (m *memTable) Close() error                              { return nil }

var errStdoutSave = errors.New("the file holds keys, so --save never writes to standard output")
