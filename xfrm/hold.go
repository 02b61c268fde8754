package xfrm

import (
	"fmt"
	"math"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// A monitor hold is the %hold that eroute --monitor puts on a flow a %trap
// caught, as KLIPS did, so that the flow's later packets wait instead of
// asking again. It is a block policy of kind kindMonitorHold that the kernel
// itself deletes when its time is up (lft.hard_add_expires_seconds): a
// monitor that dies, even by SIGKILL, leaves nothing behind for long. It is
// listed as %hold.

// Hold is a monitor hold in the table.
type Hold struct {
	Selector eroute.Selector
	Added    time.Time     // when the kernel added it (curlft.add_time)
	Timeout  time.Duration // how long after Added the kernel deletes it
	Index    uint32        // the kernel's index of the policy
}

// HoldOf reads a policy as a monitor hold: exactly what AddHold writes,
// with an expiry.
func HoldOf(p Policy) (Hold, bool) {
	sel, ok := erouteSelector(p.Sel)
	if !ok || !wrote(eroute.Eroute{Selector: sel, SAID: eroute.Hold}, kindMonitorHold, p) {
		return Hold{}, false
	}
	return Hold{Selector: sel, Added: p.AddTime, Timeout: seconds(p.HardAddExpires), Index: p.Index}, true
}

// monitorHold tells whether a policy that reads as eroute's own (see
// policyView.eroute) is a monitor's hold. With HoldOf, it is what tells a
// hold from a %hold an administrator gave: --sync and the listing ask it.
func (v *policyView) monitorHold(sel eroute.Selector) bool {
	k, ok := kindIn(v.Priority, sel)
	return ok && k == kindMonitorHold
}

// holdPolicy gives the policy of a monitor hold that the kernel deletes
// secs seconds after adding it: a %hold with its own kind.
func holdPolicy(sel eroute.Selector, secs uint64) Policy {
	p := PolicyOf(eroute.Eroute{Selector: sel, SAID: eroute.Hold})
	p.Priority = priority(sel, kindMonitorHold)
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
