package xfrm

import (
	"fmt"
	"math"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// A monitor hold is the %hold that eroute --monitor puts on a flow a %trap
// caught, as KLIPS did, so that the flow's later packets wait instead of
// asking again. It is a block policy that the kernel itself deletes when
// its time is up (lft.hard_add_expires_seconds): a monitor that dies, even
// by SIGKILL, leaves nothing behind for long. It is listed as %hold.
//
// Its priority is the largest value below the trapping policy's whose low
// four bits are kindMonitorHold (9): for an eroute's %trap of specificity s
// that is kind 9 of specificity s+1, so the hold wins over the %trap that
// caused it and loses to every eroute more specific than that %trap (their
// values are at most kind 8 of specificity s+1). A hold never outranks what
// the table says about a narrower selector: a %pass for one port under the
// %trap keeps working while the rest of the flow is held. The hold carries
// the trapping policy's mark, if_id and output device, so it is never
// broader than the policy that trapped.
//
// A monitor hold is recognised by its shape alone: direction out, type
// main, action block, no template, no security context, an add expiry
// (hard_add_expires_seconds > 0), and priority%16 == 9. eroute writes no
// other policy with an expiry, and every eroute kind but 9 is below 9.

// Hold is a monitor hold in the table, and Scope what narrows a policy
// besides its eroute selector (mark, if_id, output device): package
// eroute's model, shared with the command line.
type (
	Hold  = eroute.MonitorHold
	Scope = eroute.Scope
)

// ScopeOf gives the scope of a policy.
func ScopeOf(p Policy) Scope {
	return Scope{Mark: p.Mark, Mask: p.Mask, IfID: p.IfID, Ifindex: p.Sel.Ifindex}
}

// HoldPriority gives the priority of a hold for a flow the policy of
// priority trap caught: the largest value below it whose low four bits
// are kind 9 (see above). False when there is none (trap < 10): nothing
// can outrank such a policy but a policy of priority 0 to 8.
func HoldPriority(trap uint32) (uint32, bool) {
	if trap <= uint32(kindMonitorHold) {
		return 0, false
	}
	p := trap - 1
	return p - (p-uint32(kindMonitorHold))%prioStep, true
}

// IsMonitorHold tells whether a policy is a monitor hold (see above).
func IsMonitorHold(p Policy) bool {
	v := viewOf(p)
	return v.isMonitorHold()
}

func (v *policyView) isMonitorHold() bool {
	return v.Dir == DirOut && v.Type == TypeMain && v.Action == ActionBlock && v.nTmpls == 0 && !v.SecCtx &&
		v.HardAddExpires != 0 && v.Priority%prioStep == uint32(kindMonitorHold)
}

// HoldOf reads a policy as a monitor hold.
func HoldOf(p Policy) (Hold, bool) {
	sel, ok := erouteSelector(p.Sel)
	if !ok || !IsMonitorHold(p) {
		return Hold{}, false
	}
	return Hold{Selector: sel, Scope: ScopeOf(p), Priority: p.Priority, Added: p.AddTime,
		Timeout: seconds(p.HardAddExpires), Index: p.Index}, true
}

// holdPolicy gives the policy of a monitor hold that the kernel deletes
// secs seconds after adding it.
func holdPolicy(h Hold, secs uint64) Policy {
	p := PolicyOf(eroute.Eroute{Selector: h.Selector, SAID: eroute.Hold})
	p.Sel.Ifindex = h.Scope.Ifindex
	p.Mark, p.Mask, p.IfID = h.Scope.Mark, h.Scope.Mask, h.Scope.IfID
	p.Priority = h.Priority
	p.HardAddExpires = secs
	return p
}

// holdSeconds gives the expiry of a hold in whole seconds, as the kernel
// counts, rounded up. The kernel measures from the second of its clock in
// which it added the policy and looks once a second, from the add on: a
// hold lasts its timeout or, when a look runs late across the turn of a
// second, about one second less; measured on Linux 6.18: of
// 200 holds of 2s, 196 lived 2.02s to 2.06s and 4 about 1.03s.
func holdSeconds(timeout time.Duration) (uint64, error) {
	if timeout <= 0 {
		return 0, fmt.Errorf("hold timeout %v: must be positive", timeout)
	}
	secs := uint64(timeout / time.Second)
	if timeout%time.Second != 0 {
		secs++
	}
	return secs, nil
}

// seconds converts the kernel's seconds, capped where a Duration ends.
func seconds(secs uint64) time.Duration {
	if secs > math.MaxInt64/uint64(time.Second) {
		return math.MaxInt64
	}
	return time.Duration(secs) * time.Second
}
