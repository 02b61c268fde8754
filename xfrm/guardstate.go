package xfrm

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// TakenOver is what a Guard reports when a foreign policy replaced an eroute.
type TakenOver struct{ Eroute, By eroute.Eroute }

// Restored is what a Guard reports when it put an eroute back (Err when it
// could not).
type Restored struct {
	Eroute eroute.Eroute
	Err    error
}

// GuardNote is something else a Guard has to say.
type GuardNote struct{ Text string }

func (*TakenOver) isEvent() {}
func (*Restored) isEvent()  {}
func (*GuardNote) isEvent() {}

// The guard's state file has one line per take-over: the index of the
// foreign policy in place, then the eroute to put back as SRC DST PROTO
// SPORT DPORT SAID. Lines starting with # are comments.

// stateLine writes an eroute as SRC DST PROTO SPORT DPORT SAID.
func stateLine(e eroute.Eroute) string {
	return fmt.Sprintf("%s %s %d %d %d %s", e.Src, e.Dst, e.Proto, e.SrcPort, e.DstPort, e.SAID)
}

// parseStateLine reads what stateLine wrote, after the index.
func parseStateLine(line string) (uint32, eroute.Eroute, error) {
	f := strings.Fields(line)
	var e eroute.Eroute
	if len(f) != 7 {
		return 0, e, fmt.Errorf("want 7 fields, got %d", len(f))
	}
	index, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return 0, e, err
	}
	if e.Src, err = netip.ParsePrefix(f[1]); err != nil {
		return 0, e, err
	}
	if e.Dst, err = netip.ParsePrefix(f[2]); err != nil {
		return 0, e, err
	}
	var n [3]uint64
	for i, bits := range []int{8, 16, 16} {
		if n[i], err = strconv.ParseUint(f[3+i], 10, bits); err != nil {
			return 0, e, err
		}
	}
	e.Proto, e.SrcPort, e.DstPort = uint8(n[0]), uint16(n[1]), uint16(n[2])
	if e.SAID, err = eroute.ParseSAID(f[6], nil); err != nil {
		return 0, e, err
	}
	if err := e.Selector.Validate(); err != nil {
		return 0, e, err
	}
	return uint32(index), e, nil
}
