package eroute

import (
	"net/netip"
	"testing"
	"time"
)

// A hold is named by its selector and scope, as ip xfrm names a scope's
// parts; what the kernel reports besides (priority, index, times) names
// nothing, so Place drops it.
func TestMonitorHold(t *testing.T) {
	sel := Selector{Src: netip.MustParsePrefix("10.0.0.1/32"), Dst: netip.MustParsePrefix("10.1.0.9/32")}
	for _, c := range []struct {
		scope Scope
		want  string
	}{
		{Scope{}, "10.0.0.1/32 -> 10.1.0.9/32"},
		{Scope{Mark: 1, Mask: 0xff}, "10.0.0.1/32 -> 10.1.0.9/32 (mark 0x1/0xff)"},
		{Scope{IfID: 7, Ifindex: 3}, "10.0.0.1/32 -> 10.1.0.9/32 (if_id 0x7, ifindex 3)"},
	} {
		h := MonitorHold{Selector: sel, Scope: c.scope, Priority: 9, Added: time.Now(), Timeout: time.Second, Index: 8}
		if got := h.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.scope, got, c.want)
		}
		if p := h.Place(); p != (MonitorHold{Selector: sel, Scope: c.scope}) {
			t.Errorf("Place: %+v", p)
		}
	}
}
