package xfrm

import (
	"strings"
	"testing"
)

// The shared Op (eroute.Op) can say Inbound, which a batch cannot carry:
// such a batch is refused whole before anything is sent, rather than
// written as outbound eroutes.
func TestFakeInboundOpRefused(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	ops := addOps(0, 3)
	ops[1].Inbound = true
	err := tab.Apply(ops)
	if err == nil || !strings.Contains(err.Error(), "op 1: an inbound op") {
		t.Fatalf("Apply with an inbound op: %v", err)
	}
	if len(k.requests) != 0 || len(k.policies) != 0 {
		t.Errorf("%d requests sent, %d policies made; want none", len(k.requests), len(k.policies))
	}
}
