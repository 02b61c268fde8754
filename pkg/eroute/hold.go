package eroute

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// The monitor's model (eroute --monitor), shared by the driver, which
// listens and writes the holds (package xfrm, as xfrm.Hold), and the
// command line, which decides and reports (pkg/cli).

// Scope is what narrows a policy besides its eroute selector: the packet
// mark (mark & Mask == Mark), the XFRM interface id and the output device
// of the selector (ifindex). The zero Scope is an eroute's: every packet.
type Scope struct {
	Mark, Mask uint32
	IfID       uint32
	Ifindex    int32
}

// String gives the scope as ip xfrm names its parts, "" for none.
func (s Scope) String() string {
	var parts []string
	if s.Mark != 0 || s.Mask != 0 {
		parts = append(parts, fmt.Sprintf("mark 0x%x/0x%x", s.Mark, s.Mask))
	}
	if s.IfID != 0 {
		parts = append(parts, fmt.Sprintf("if_id 0x%x", s.IfID))
	}
	if s.Ifindex != 0 {
		parts = append(parts, fmt.Sprintf("ifindex %d", s.Ifindex))
	}
	return strings.Join(parts, ", ")
}

// MonitorHold is a monitor's %hold (Hold is the %hold SAID): a block policy on a flow a %trap caught,
// within the trapping policy's scope, that the kernel deletes once its
// time is up. A hold to be made needs its Selector and Scope (and, for
// the driver, its Priority); the others are what the kernel reports.
type MonitorHold struct {
	Selector Selector
	Scope    Scope
	Priority uint32        // the kernel's; see xfrm.HoldPriority
	Added    time.Time     // when the kernel added it (curlft.add_time)
	Timeout  time.Duration // how long after Added the kernel deletes it
	Index    uint32        // the kernel's index of the policy
}

// Place is the hold's selector and scope alone: what names it in the
// table, whatever the kernel reports besides.
func (h MonitorHold) Place() MonitorHold { return MonitorHold{Selector: h.Selector, Scope: h.Scope} }

// String gives the hold's selector, and its scope in brackets if any.
func (h MonitorHold) String() string {
	if sc := h.Scope.String(); sc != "" {
		return h.Selector.String() + " (" + sc + ")"
	}
	return h.Selector.String()
}

// ErrOverrun: the listening socket's receive buffer overflowed (ENOBUFS),
// and the kernel dropped messages, ACQUIREs among them. Listening goes on.
var ErrOverrun = errors.New("messages lost: the socket's receive buffer overflowed")
