package spi

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// The save side, for tools that write the SA table down and load it again
// (as eroute's --save does for eroutes): each SA as the `ipsec spi` command
// line that makes it again, and each group as its `ipsec spigrp` line.
// These lines hold the keys (0x form): whatever stores them must keep them
// as secret as the keys themselves.

// Args gives the arguments of `ipsec spi` that add sa as it is, ungrouped
// (Args of its group, run after, groups it again). An SA whose algorithms
// have no --esp or --ah name gives an error.
func Args(sa *SA) ([]string, error) {
	args := []string{"--said", sa.SAID.AFString()}
	if validSrc(sa.Src) {
		args = append(args, "--src", sa.Src.String())
	}
	switch sa.SAID.Proto {
	case eroute.ProtoESP:
		name, err := espName(sa)
		if err != nil {
			return nil, err
		}
		args = append(args, "--esp", name)
		if sa.Enc.KeyBits() != 0 {
			args = append(args, "--enckey", keyText(sa.Enc))
		}
		if sa.Auth != nil {
			args = append(args, "--authkey", keyText(sa.Auth))
		}
		if e := sa.Encap; e != nil {
			args = append(args, "--natt", encapName(e.Type), "--sport", fmt.Sprint(e.SrcPort), "--dport", fmt.Sprint(e.DstPort))
		}
	case eroute.ProtoAH:
		name, err := integName(sa.Auth)
		if err != nil {
			return nil, err
		}
		args = append(args, "--ah", "hmac-"+name, "--authkey", keyText(sa.Auth))
	case eroute.ProtoComp:
		if sa.Comp == nil || sa.Comp.Name != "deflate" {
			return nil, fmt.Errorf("%s: no --comp name for its algorithm", sa.SAID.AFString())
		}
		return append(args, "--comp", "deflate"), nil
	default:
		return nil, fmt.Errorf("%s: not an ESP, AH or IPCOMP SA", sa.SAID)
	}
	if sa.ReplayWindow != 0 {
		args = append(args, "--replay_window", fmt.Sprint(sa.ReplayWindow))
	}
	if life := lifeText(sa); life != "" {
		args = append(args, "--life", life)
	}
	return args, nil
}

// GroupArgs gives the arguments of `ipsec spigrp --said` that make g again.
func GroupArgs(g *Group) []string {
	args := []string{"--said"}
	if g.Tunnel() {
		args = append(args, g.Head.AFString())
	}
	for _, m := range g.Members {
		args = append(args, m.SAID.AFString())
	}
	return args
}

func keyText(a *Alg) string {
	if a == nil || len(a.Key) == 0 {
		return "0x"
	}
	return "0x" + hex.EncodeToString(a.Key)
}

// espName gives the --esp name of an SA's cipher and integrity.
func espName(sa *SA) (string, error) {
	var c *cipher
	for i := range ciphers {
		if sa.Enc != nil && ciphers[i].xfrm == sa.Enc.Name {
			c = &ciphers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("%s: no --esp name for its cipher", sa.SAID.AFString())
	}
	name := c.klips
	if len(c.sizes) > 1 {
		name += fmt.Sprint(sa.Enc.KeyBits())
	}
	if sa.Auth == nil {
		return name, nil
	}
	integ, err := integName(sa.Auth)
	if err != nil {
		return "", fmt.Errorf("%s: %v", sa.SAID.AFString(), err)
	}
	return name + "-" + integ, nil
}

// integName gives an integrity's name with its ICV length.
func integName(a *Alg) (string, error) {
	for _, i := range integrities {
		if a != nil && i.xfrm == a.Name {
			return fmt.Sprintf("%s-%d", i.klips, a.TruncBits), nil
		}
	}
	return "", fmt.Errorf("no KLIPS name for the integrity algorithm")
}

// lifeText gives the --life value of an SA's limits, "" for none.
func lifeText(sa *SA) string {
	var items []string
	for _, l := range []struct {
		sev string
		l   Limits
	}{{"soft", sa.Soft}, {"hard", sa.Hard}} {
		for _, f := range []struct {
			name string
			v    uint64
		}{{"bytes", l.l.Bytes}, {"addtime", l.l.AddTime}, {"usetime", l.l.UseTime}, {"packets", l.l.Packets}} {
			if f.v != 0 {
				items = append(items, fmt.Sprintf("%s-%s=%d", l.sev, f.name, f.v))
			}
		}
	}
	return strings.Join(items, ",")
}
