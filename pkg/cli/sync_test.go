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
// must give the very same plan. A monitor hold is never deleted nor the
// file's eroute; adds and deletes are idempotent.
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
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpAdd, Eroute: op.Eroute, Line: op.Line, Idempotent: true})
		case !cur.Own && !all:
			return Plan{}, lineError(op.Line, fmt.Errorf("the selector %s belongs to a policy eroute did not make (%s); --all lets --sync change it",
				op.Eroute.Selector, cur.SAID))
		case cur.SAID == op.Eroute.SAID && cur.Own && !cur.MonitorHold:
			plan.Unchanged++
		default:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpReplace, Eroute: op.Eroute, Line: op.Line, Force: !cur.Own})
		}
	}
	for _, e := range current {
		if (e.Own || all) && !e.MonitorHold {
			deletes = append(deletes, Op{Kind: eroute.OpDelete, Eroute: e.Eroute, Force: !e.Own, Idempotent: true})
		}
	}
	sort.Slice(deletes, func(i, j int) bool {
		return eroute.Compare(deletes[i].Eroute.Selector, deletes[j].Eroute.Selector) < 0
	})
	plan.Ops = append(plan.Ops, deletes...)
	return plan, nil
}

// TestPlanSyncMerge compares planSync with referencePlan on random files
// and tables: small selector spaces, so that files and tables overlap
// much; foreign and non-deletable policies; with and without --all.
func TestPlanSyncMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	saids := []eroute.SAID{eroute.Drop, eroute.Pass, {Proto: eroute.ProtoTun, SPI: 0x1000, Dst: netip.MustParseAddr("192.0.2.1")}, eroute.Hold}
	randSel := func() eroute.Selector {
		if r.IntN(2) == 0 {
			return eroute.Selector{Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(8))}), 32),
				Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(4)), 0}), 24)}
		}
		return eroute.Selector{Src: netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(r.IntN(8))}), 128),
			Dst: netip.MustParsePrefix("fd01::/64"), Proto: eroute.TCP, DstPort: uint16(r.IntN(3))}
	}
	for round := 0; round < 2000; round++ {
		// Some rounds hold more policies than a group of look-ups
		// (probeGroup) takes: the selector space has 56.
		most := 12
		if round%4 == 0 {
			most = 50
		}
		var want []Op
		seen := map[eroute.Selector]bool{}
		for n := r.IntN(most); len(want) < n; {
			s := randSel()
			if !seen[s] {
				seen[s] = true
				want = append(want, Op{Kind: eroute.OpAdd, Eroute: eroute.Eroute{Selector: s, SAID: saids[r.IntN(4)]}, Line: 2*len(want) + 1})
			}
		}
		var have []Entry
		inTable := map[eroute.Selector]bool{}
		for n := r.IntN(most); len(have) < n; {
			s := randSel()
			e := Entry{Eroute: eroute.Eroute{Selector: s, SAID: saids[r.IntN(4)]}, Own: r.IntN(5) > 0, Deletable: r.IntN(6) > 0}
			if e.Own && e.SAID == eroute.Hold && r.IntN(2) == 0 {
				e.MonitorHold = true // the monitor's, for a while
			}
			if e.Deletable && inTable[s] {
				continue // the kernel holds one deletable policy per selector
			}
			inTable[s] = inTable[s] || e.Deletable
			have = append(have, e)
		}
		sort.SliceStable(have, func(i, j int) bool { return eroute.Compare(have[i].Selector, have[j].Selector) < 0 })
		all := r.IntN(4) == 0
		wantPlan, wantErr := referencePlan(want, have, all)
		if round%5 == 0 && len(want) > 0 { // a line repeats an earlier selector
			again := want[r.IntN(len(want))]
			again.Line, again.Eroute.SAID = 2*len(want)+1, saids[r.IntN(4)]
			want = append(want, again)
			_, wantErr = bySelector(want)
			wantPlan = Plan{}
		}
		got, err := planSync(want, shuffled{entrySlice(have), r}, all)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("round %d: error %v, want %v", round, err, wantErr)
		}
		if diff := cmp.Diff(wantPlan, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
			cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("round %d: plan (-want +got):\n%s", round, diff)
		}
	}
}

// shuffled gives the entries no selector named to Match's rest in a
// random order, as a snapshot in the kernel's order would.
type shuffled struct {
	entrySlice
	r *rand.Rand
}

func (s shuffled) Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) bool {
	var others []Entry
	repeats := s.entrySlice.Match(n, sel, found, func(e Entry) { others = append(others, e) })
	for _, i := range s.r.Perm(len(others)) {
		rest(others[i])
	}
	return repeats
}

// A monitor's holds are not the file's eroutes: one the file lacks stays
// (the kernel removes it in its time), and a %hold the file wants on the
// selector of one replaces it with a permanent %hold.
func TestSyncAndMonitorHolds(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%pass")
	w.mustRun(t, "--add", "--src", "10.0.0.1/32", "--dst", "10.2.0.1/32", "--said", "%hold")
	w.mustRun(t, "--add", "--src", "10.0.0.1/32", "--dst", "10.2.0.2/32", "--said", "%hold")
	w.table.holds = map[eroute.Selector]bool{}
	for _, dst := range []string{"10.2.0.1/32", "10.2.0.2/32"} {
		w.table.holds[eroute.Selector{Src: netip.MustParsePrefix("10.0.0.1/32"), Dst: netip.MustParsePrefix(dst)}] = true
	}
	file := writeFile(t, "--add --src 10.0.0.1/32 --dst 10.2.0.2/32 --said %hold\n--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %drop\n")
	w.mustRun(t, "--sync", file, "--dry-run")
	want := "--replace --src 10.0.0.1/32 --dst 10.2.0.2/32 --said %hold\n" +
		"--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %drop\n" +
		"--del --src 10.0.0.0/8 --dst 10.1.0.0/16\n" +
		"# 1 to add, 1 to replace, 1 to delete, 0 unchanged\n"
	if diff := cmp.Diff(want, w.stdout.String()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// --sync wants a state: what another process did meanwhile that the plan
// would do too (delete what is gone, add what is there) is no failure.
func TestSyncGoalReached(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%pass")
	gone := eroute.Selector{Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("10.1.0.0/16")}
	there := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("10.3.0.0/16")}, SAID: eroute.Drop}
	w.table.duringApply = func(i int, _ <-chan struct{}) {
		if i == 0 { // another process, after the plan was made
			delete(w.table.out, gone)
			w.table.out[there.Selector] = there
		}
	}
	w.mustRun(t, "--sync", writeFile(t, "--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %drop\n"))
	w.table.duringApply = nil
	w.mustRun(t)
	if got := w.stdout.String(); got != "0          10.0.0.0/8         -> 10.3.0.0/16        => %drop\n" {
		t.Errorf("listing %q", got)
	}
}

// The same for the inbound policies of a --sync file's --addin lines.
func TestSyncInboundGoalReached(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9")
	there := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.7.0.0/16"), Dst: netip.MustParsePrefix("10.8.0.0/16")},
		SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x201, Dst: netip.MustParseAddr("10.7.7.7")}}
	w.table.beforeInbound = func() { // another process, after the plan was made
		w.table.in[there.Selector] = there
		w.table.beforeInbound = nil
	}
	w.mustRun(t, "--sync", writeFile(t, "--addin --src 10.7.0.0/16 --dst 10.8.0.0/16 --said tun.201@10.7.7.7\n"))
	if got := sorted(w.table.in); len(got) != 1 || got[0] != there {
		t.Errorf("inbound policies %v, want %v", got, there)
	}
}
