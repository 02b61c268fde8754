package xfrm

import (
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// The order in which a batch sends its requests.
//
// The kernel keeps subnet ("inexact") policies in a tree per family: nodes
// by destination prefix, each with a tree by source prefix, and lists of
// policies in them (a prefix shorter than /16 for IPv4, /48 for IPv6, is
// "any" and goes to a list of its own level). A new prefix shorter than
// nodes it covers makes the kernel merge those nodes, and every merge walks
// every policy of the namespace (xfrm_policy_inexact_list_reinsert): in the
// order of a file of random subnets, 100,000 policies cost the kernel 11.7 s.
// Sent with the shorter prefixes first, nodes are made at their final size
// and never merged: 3.2 s, the rest being the walks of the lists themselves
// (xfrm_policy_insert_list, 80% of the profile), which no order avoids.
//
// So adds and replaces go, run by run, in the order of inexactKey: those
// whose destination is "any" for the kernel first, by source prefix length
// (their tree is by source), then the others by destination prefix length
// (their tree is by destination), then source. Host policies go into a hash
// table, where order does not matter. Only runs of adds and replaces are
// reordered: each names its own selector (a batch refuses a repeated one),
// so they commute; a delete or a clear stays where the file put it, and
// ops of one selector would keep their order anyway (same key, ties by
// place). See docs/PERFORMANCE.md for the orders measured.

// inexactAny is the prefix length below which the kernel's inexact tree
// treats an address as "any" (INEXACT_PREFIXLEN_IPV4 and _IPV6).
func inexactAny(s eroute.Selector) int {
	if s.Src.Addr().Is4() {
		return 16
	}
	return 48
}

// inexactKey ranks a selector for sending: see above. It fits in 17 bits.
func inexactKey(s eroute.Selector) uint64 {
	src, dst := uint64(s.Src.Bits()), uint64(s.Dst.Bits())
	if s.Dst.Bits() < inexactAny(s) {
		return src<<8 | dst
	}
	return 1<<16 | dst<<8 | src
}

// sendOrder gives the order in which to send n ops: a permutation of 0 to
// n-1 in which every run of adds and replaces is sorted by inexactKey,
// ties by place.
func sendOrder(n int, op func(i int) Op) []int32 {
	keys := make([]uint64, n)
	for i := range n {
		o := op(i)
		if o.Kind == eroute.OpAdd || o.Kind == eroute.OpReplace {
			keys[i] = inexactKey(o.Eroute.Selector)<<32 | uint64(i)
		} else {
			keys[i] = 1<<63 | uint64(i) // ends a run
		}
	}
	for start := 0; start < n; {
		end := start
		for end < n && keys[end]>>63 == 0 {
			end++
		}
		slices.Sort(keys[start:end])
		start = end + 1
	}
	order := make([]int32, n)
	for k, key := range keys {
		order[k] = int32(uint32(key))
	}
	return order
}
