package cli

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/google/go-cmp/cmp"
)

// referencePlan is planSync written the plain way, with a map: the merge
// must give the very same plan.
func referencePlan(want []Op, have []Entry, all bool) (Plan, error) {
	current := map[eroute.Selector]Entry{}
	for _, e := range have {
		if e.Deletable {
			current[e.Selector] = e
		}
	}
	var plan Plan
	var deletes []Op
	for _, op := range want {
		cur, ok := current[op.Eroute.Selector]
		delete(current, op.Eroute.Selector)
		switch {
		case !ok:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpAdd, Eroute: op.Eroute, Line: op.Line})
		case !cur.Own && !all:
			return Plan{}, lineError(op.Line, fmt.Errorf("the selector %s belongs to a policy eroute did not make (%s); --all lets --sync change it",
				op.Eroute.Selector, cur.SAID))
		case cur.SAID == op.Eroute.SAID && cur.Own:
			plan.Unchanged++
		default:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpReplace, Eroute: op.Eroute, Line: op.Line, Force: !cur.Own})
		}
	}
	for _, e := range current {
		if e.Own || all {
			deletes = append(deletes, Op{Kind: eroute.OpDelete, Eroute: e.Eroute, Force: !e.Own})
		}
	}
	sort.Slice(deletes, func(i, j int) bool {
		return eroute.Compare(deletes[i].Eroute.Selector, deletes[j].Eroute.Selector) < 0
	})
	plan.Ops = append(plan.Ops, deletes...)
	return plan, nil
}

type entryList []Entry

func (l entryList) Len() int          { return len(l) }
func (l entryList) Entry(i int) Entry { return l[i] }

// TestPlanSyncMerge compares planSync with referencePlan on random files
// and tables: small selector spaces, so that files and tables overlap
// much; foreign and non-deletable policies; with and without --all.
func TestPlanSyncMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	saids := []eroute.SAID{eroute.Drop, eroute.Pass, {Proto: eroute.ProtoTun, SPI: 0x1000, Dst: netip.MustParseAddr("192.0.2.1")}}
	randSel := func() eroute.Selector {
		if r.IntN(2) == 0 {
			return eroute.Selector{Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(8))}), 32),
				Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(4)), 0}), 24)}
		}
		return eroute.Selector{Src: netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(r.IntN(8))}), 128),
			Dst: netip.MustParsePrefix("fd01::/64"), Proto: eroute.TCP, DstPort: uint16(r.IntN(3))}
	}
	for round := 0; round < 2000; round++ {
		var want []Op
		seen := map[eroute.Selector]bool{}
		for n := r.IntN(12); len(want) < n; {
			s := randSel()
			if !seen[s] {
				seen[s] = true
				want = append(want, Op{Kind: eroute.OpAdd, Eroute: eroute.Eroute{Selector: s, SAID: saids[r.IntN(3)]}, Line: 2*len(want) + 1})
			}
		}
		var have []Entry
		inTable := map[eroute.Selector]bool{}
		for n := r.IntN(12); len(have) < n; {
			s := randSel()
			e := Entry{Eroute: eroute.Eroute{Selector: s, SAID: saids[r.IntN(3)]}, Own: r.IntN(5) > 0, Deletable: r.IntN(6) > 0}
			if e.Deletable && inTable[s] {
				continue // the kernel holds one deletable policy per selector
			}
			inTable[s] = inTable[s] || e.Deletable
			have = append(have, e)
		}
		sort.SliceStable(have, func(i, j int) bool { return eroute.Compare(have[i].Selector, have[j].Selector) < 0 })
		all := r.IntN(4) == 0
		wantPlan, wantErr := referencePlan(want, have, all)
		sorted, err := bySelector(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := planSync(want, sorted, entryList(have), all)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("round %d: error %v, want %v", round, err, wantErr)
		}
		if diff := cmp.Diff(wantPlan, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("round %d: plan (-want +got):\n%s", round, diff)
		}
	}
}
