package spi

import (
	"fmt"
	"io"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// SpigrpProg is the name `ipsec spigrp` messages start with.
const SpigrpProg = "spigrp"

var spigrpOptions = []opt{
	{"said", false}, {"label", true}, {"debug", false}, {"help", false}, {"version", false}, {"netns", true},
}

// GroupRequest is a checked spigrp command line: the SAs to group, inner
// to outer (one: ungroup); none lists.
type GroupRequest struct {
	SAIDs []eroute.SAID
	Netns string
	Label string
	Debug bool
	Help  bool
	Vers  bool
}

// ParseSpigrp checks a spigrp command line:
//
//	spigrp [--debug] [--label L] [--netns N] af1 dst1 spi1 proto1 [... up to 4]
//	spigrp [--debug] [--label L] [--netns N] --said SA1 [SA2 [SA3 [SA4]]]
//
// The options may come in any order before the SAs (KLIPS wanted --debug
// first and --label second). SPIs are C-style numbers (0x113 hexadecimal,
// 113 decimal) from 0x100: the handle of a group becomes its members'
// reqid, and reqids below 0x100 are the IKE daemons'.
func ParseSpigrp(args []string, r eroute.Resolver) (GroupRequest, error) {
	opts, words, err := getopt(spigrpOptions, args)
	var req GroupRequest
	bySaid := false
	for _, o := range opts {
		switch o.name {
		case "label":
			req.Label = o.value
		case "netns":
			req.Netns = o.value
		case "debug":
			req.Debug = true
		case "help":
			req.Help = true
		case "version":
			req.Vers = true
		case "said":
			bySaid = true
		}
	}
	if err != nil || req.Help || req.Vers {
		return req, err
	}
	if bySaid {
		if len(words) < 1 || len(words) > 4 {
			return req, fmt.Errorf("expecting 1 to 4 SAs with --said, got %d.", len(words))
		}
		for _, w := range words {
			id, err := eroute.ParseSAID(w, r)
			if err != nil {
				return req, fmt.Errorf("Error, %v converting --said argument:%s", err, w)
			}
			if id.IsMagic() || id.Proto == eroute.ProtoInt {
				return req, fmt.Errorf("Error, %s names no SA converting --said argument:%s", w, w)
			}
			req.SAIDs = append(req.SAIDs, id)
		}
		return req, nil
	}
	if len(words) == 0 {
		return req, nil
	}
	if len(words)%4 != 0 || len(words) > 16 {
		return req, fmt.Errorf("expecting 4, 8, 12 or 16 args without --said (af dst spi proto for each SA), got %d.", len(words))
	}
	for i := 0; i < len(words); i += 4 {
		id, err := positionalSAID(words[i:i+4], i/4+1, r)
		if err != nil {
			return req, err
		}
		req.SAIDs = append(req.SAIDs, id)
	}
	return req, nil
}

func positionalSAID(w []string, nth int, r eroute.Resolver) (eroute.SAID, error) {
	af, err := eroute.ParseFamily(w[0])
	if err != nil {
		return eroute.SAID{}, fmt.Errorf("Address family %s not supported", w[0])
	}
	dst, err := eroute.ParseAddr(w[1], af, r)
	if err != nil {
		return eroute.SAID{}, fmt.Errorf("Error, %v converting %s address argument:%s", err, ordinal(nth), w[1])
	}
	n, err := eroute.ParseNumber(w[2], 0xffffffff)
	switch {
	case err != nil:
		return eroute.SAID{}, fmt.Errorf("Badly formed spi: %v \"%s\"", err, w[2])
	case n < eroute.MinSPI:
		return eroute.SAID{}, fmt.Errorf("Badly formed spi: %v \"%s\"", eroute.ErrReservedSPI, w[2])
	}
	proto, err := eroute.ParseProto(w[3])
	if err != nil {
		return eroute.SAID{}, fmt.Errorf("Badly formed proto: %s", w[3])
	}
	return eroute.SAID{Proto: proto, SPI: uint32(n), Dst: dst}, nil
}

func ordinal(n int) string {
	return [...]string{"", "1st", "2nd", "3rd", "4th"}[n]
}

// RunSpigrp carries out one `ipsec spigrp` command line.
func RunSpigrp(args []string, env Env) int {
	req, err := ParseSpigrp(args, env.Resolver)
	prog := progName(SpigrpProg, req.Label)
	switch {
	case err != nil:
		report(env.Stderr, prog, err)
		return 1
	case req.Help:
		io.WriteString(env.Stdout, spigrpUsage)
		return 0
	case req.Vers:
		fmt.Fprintf(env.Stdout, "%s, %s (eroute: KLIPS ipsec spigrp on Linux XFRM)\n", SpigrpProg, VersionString)
		return 0
	}
	if req.Debug {
		fmt.Fprintf(env.Stdout, "%s: debug: %s\n", prog, describeGroup(req))
	}
	if err := executeSpigrp(req, env); err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	return 0
}

func describeGroup(req GroupRequest) string {
	if len(req.SAIDs) == 0 {
		return "list"
	}
	words := make([]string, len(req.SAIDs))
	for i, id := range req.SAIDs {
		words[i] = id.AFString()
	}
	if len(words) == 1 {
		return "ungroup " + words[0]
	}
	return "group " + strings.Join(words, " ")
}

func executeSpigrp(req GroupRequest, env Env) error {
	k, err := env.Open(req.Netns)
	if err != nil {
		return err
	}
	defer k.Close()
	if len(req.SAIDs) > 0 {
		release, err := env.lock(req.Netns)
		if err != nil {
			return err
		}
		defer release()
	}
	return withSAs(k, func(sas []SA) error {
		var changes []Change
		var err error
		switch len(req.SAIDs) {
		case 0:
			return writeLines(env.Stdout, GroupListing(sas))
		case 1:
			changes, err = PlanUngroup(sas, req.SAIDs[0])
		default:
			changes, err = PlanGroup(sas, req.SAIDs)
		}
		if err != nil {
			return err
		}
		return apply(k, changes)
	})
}

const spigrpUsage = `usage: spigrp [ --debug ] [ --label <label> ] [ --netns <name> ] af1 dst1 spi1 proto1 [ af2 dst2 spi2 proto2 [ af3 dst3 spi3 proto3 [ af4 dst4 spi4 proto4 ] ] ]
       spigrp [ --debug ] [ --label <label> ] [ --netns <name> ] --said SA1 [ SA2 [ SA3 [ SA4 ] ] ]
       spigrp [ --netns <name> ]          list the groups (as /proc/net/ipsec_spigrp)
       spigrp --help
       spigrp --version
The SAs go inner to outer: tun first, then comp, esp, ah. One SA ungroups its group.
`
