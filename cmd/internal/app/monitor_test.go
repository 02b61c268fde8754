package app

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/xfrm"
	"golang.org/x/sys/unix"
)

func appSel(src, dst string) eroute.Selector {
	return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst)}
}

// The events the monitor's adapter hands on: the listener's ACQUIRE with
// the trapping policy's scope and priority, a monitor hold the kernel
// reaped (and nothing for a soft expiry or another policy's), the guard's
// events with their errors in the command's words.
func TestMonitorEvents(t *testing.T) {
	trap := xfrm.PolicyOf(eroute.Eroute{Selector: appSel("10.0.0.0/8", "10.1.0.0/16"), SAID: eroute.Trap})
	trap.Mark, trap.Mask, trap.IfID, trap.Sel.Ifindex = 1, 0xff, 7, 3
	flow := appSel("10.0.0.1/32", "10.1.0.9/32")
	got := listenerEvent(&xfrm.Acquire{Flow: flow, Policy: trap, Eroute: xfrm.ErouteOf(trap), Own: false})
	want := &cli.Acquired{Flow: flow, Eroute: xfrm.ErouteOf(trap), Foreign: true,
		Scope: cli.Scope{Mark: 1, Mask: 0xff, IfID: 7, Ifindex: 3}, Priority: trap.Priority}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ACQUIRE: %#v, want %#v", got, want)
	}

	hold := xfrm.PolicyOf(eroute.Eroute{Selector: flow, SAID: eroute.Hold})
	hold.Priority, _ = xfrm.HoldPriority(trap.Priority)
	hold.HardAddExpires, hold.Index = 30, 42
	h, ok := xfrm.HoldOf(hold)
	if !ok {
		t.Fatal("the hold policy is not read as a monitor hold")
	}
	if got := listenerEvent(&xfrm.PolicyExpire{Policy: hold, Hard: true}); !reflect.DeepEqual(got, &cli.HoldReaped{Hold: h}) {
		t.Errorf("hold reaped: %#v", got)
	}
	for i, ev := range []xfrm.Event{
		&xfrm.PolicyExpire{Policy: hold}, // soft: the hold is still there
		&xfrm.PolicyExpire{Policy: trap, Hard: true},
		&xfrm.PolicyChange{Policy: trap},
	} {
		if got := listenerEvent(ev); got != nil {
			t.Errorf("event %d (%T) handed on as %T", i, ev, got)
		}
	}

	e := xfrm.ErouteOf(trap)
	by := eroute.Eroute{Selector: e.Selector, SAID: eroute.Pass}
	if got := guardEvent(&xfrm.TakenOver{Eroute: e, By: by}); !reflect.DeepEqual(got, &cli.TakenOver{Eroute: e, By: by}) {
		t.Errorf("taken over: %#v", got)
	}
	r, ok := guardEvent(&xfrm.Restored{Eroute: e, Err: refusal{xfrm.ErrExists, unix.EEXIST}}).(*cli.Restored)
	if !ok || r.Eroute != e || r.Err == nil || r.Err.Error() != cli.ErrInUse.Error() {
		t.Errorf("restored: %#v", r)
	}
	if got := guardEvent(&xfrm.GuardNote{Text: "x"}); !reflect.DeepEqual(got, &cli.Note{Text: "x"}) {
		t.Errorf("note: %#v", got)
	}
}
