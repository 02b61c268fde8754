package xfrm

import (
	"net/netip"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

func orderOp(kind eroute.OpKind, src, dst string) Op {
	return Op{Kind: kind, Eroute: eroute.Eroute{Selector: eroute.Selector{
		Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst)}}}
}

// TestSendOrder: runs of adds and replaces go shorter prefixes first (any
// destination first, by source; then by destination, then source), ties
// in the file's order; deletes and clears stay where they are and end a
// run.
func TestSendOrder(t *testing.T) {
	ops := []Op{
		orderOp(eroute.OpAdd, "10.0.0.1/32", "10.1.0.0/24"),     // 0: dst run, /24
		orderOp(eroute.OpAdd, "10.0.0.0/8", "10.2.0.0/16"),      // 1: dst run, /16 (src /8)
		orderOp(eroute.OpReplace, "10.0.0.0/20", "10.0.0.0/12"), // 2: any dst, src /20
		orderOp(eroute.OpAdd, "10.0.0.0/24", "10.0.0.0/8"),      // 3: any dst, src /24
		orderOp(eroute.OpAdd, "10.3.0.0/16", "10.2.0.0/16"),     // 4: dst /16, src /16
		orderOp(eroute.OpAdd, "10.4.0.0/16", "10.0.0.0/9"),      // 5: any dst, src /16
		orderOp(eroute.OpDelete, "10.9.0.0/16", "10.9.0.0/16"),  // 6: stays
		orderOp(eroute.OpAdd, "10.0.0.1/32", "10.0.0.2/32"),     // 7
		orderOp(eroute.OpAdd, "fd00::/64", "fd01::/40"),         // 8: IPv6 any below /48
		orderOp(eroute.OpAdd, "fd00::/56", "fd01::/48"),         // 9: IPv6 /48 is not any
		orderOp(eroute.OpClear, "0.0.0.0/0", "0.0.0.0/0"),       // 10: stays
		orderOp(eroute.OpAdd, "10.0.0.1/32", "10.0.0.2/32"),     // 11
		orderOp(eroute.OpAdd, "10.0.0.0/8", "10.0.0.0/8"),       // 12
	}
	want := []int32{5, 2, 3, 1, 4, 0, 6, 8, 7, 9, 10, 12, 11}
	got := sendOrder(len(ops), func(i int) Op { return ops[i] })
	if len(got) != len(want) {
		t.Fatalf("sendOrder: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sendOrder: %v, want %v", got, want)
		}
	}
}

// TestSendOrderSameSelector: ops of one selector keep the file's order.
func TestSendOrderSameSelector(t *testing.T) {
	ops := []Op{
		orderOp(eroute.OpAdd, "10.0.0.0/24", "10.1.0.0/24"),
		orderOp(eroute.OpAdd, "10.0.0.0/8", "10.1.0.0/8"),
		orderOp(eroute.OpReplace, "10.0.0.0/24", "10.1.0.0/24"),
	}
	got := sendOrder(len(ops), func(i int) Op { return ops[i] })
	if got[0] != 1 || got[1] != 0 || got[2] != 2 {
		t.Fatalf("sendOrder: %v, want [1 0 2]", got)
	}
}
