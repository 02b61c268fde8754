package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Batches and syncs of policies of any shape, against the fake kernel
// (TestFake*: refusals at request k, capped replies, what changed during
// the undo) and the real one (TestKernel*, read back with ip xfrm).

// genPolicy gives policy i of a family of shapes: out, in and fwd in turn,
// with a reqid, and for some a mark and an if_id.
func genPolicy(i int, priority uint32) Policy {
	dirs := []uint8{DirOut, DirIn, DirFwd}
	sel := Selector{Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 32),
		Dst: netip.MustParsePrefix("10.2.0.0/16")}
	p := Policy{Sel: sel, Dir: dirs[i%3], Priority: priority, Tmpls: []Template{{
		Proto: protoESP, Mode: ModeTunnel, Reqid: uint32(100 + i),
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
		Aalgos: AnyAlgorithms, Ealgos: AnyAlgorithms, Calgos: AnyAlgorithms}}}
	if i%2 == 1 {
		p.Mark, p.Mask, p.IfID = uint32(i), 0xffff, uint32(i%5+1)
	}
	return p
}

// policyTable is what the fake kernel holds, whole, in index order.
func (k *fakeKernel) policyTable() string { return byIndex(k.policies) }

// fakePolicies gives a fake kernel holding policies 0 to n-1.
func fakePolicies(t *testing.T, n int, priority uint32) (*fakeKernel, *Table) {
	t.Helper()
	k := newFakeKernel()
	tab, _ := k.table()
	var ops []PolicyOp
	for i := 0; i < n; i++ {
		ops = append(ops, PolicyOp{Kind: PolicyAdd, Policy: genPolicy(i, priority)})
	}
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	if len(k.policies) != n {
		t.Fatalf("%d policies in the fake kernel, want %d", len(k.policies), n)
	}
	return k, tab
}

// mixedPolicyOps updates, deletes (by index and by selector), adds, and
// deletes then adds again a place: every path of the undo.
func mixedPolicyOps(k *fakeKernel) []PolicyOp {
	up := genPolicy(0, 77)
	up.Action = ActionBlock
	byIdx := genPolicy(1, 0)
	byIdx.Index = k.policies[1].Index
	again := genPolicy(4, 5)
	readBack := k.policies[3] // as GetPolicy gave it, index and all,
	readBack.Priority = 66
	readBack.Index = 9999 // but stale: the kernel keeps the replaced policy's
	return []PolicyOp{
		{Kind: PolicyUpdate, Policy: readBack},
		{Kind: PolicyUpdate, Policy: up},
		{Kind: PolicyDelete, Policy: Policy{Index: byIdx.Index, Dir: byIdx.Dir, Mark: byIdx.Mark, Mask: byIdx.Mask, IfID: byIdx.IfID}},
		{Kind: PolicyDelete, Policy: genPolicy(2, 0)},
		{Kind: PolicyAdd, Policy: genPolicy(20, 9)},
		{Kind: PolicyUpdate, Policy: genPolicy(21, 9)},
		{Kind: PolicyDelete, Policy: genPolicy(4, 0)},
		{Kind: PolicyAdd, Policy: again},
		{Kind: PolicyAdd, Policy: genPolicy(22, 9)},
	}
}

// The kernel refuses request k of a mixed batch: the batch names op k with
// the kernel's words, and the table is exactly as it was, indexes
// included; with capped and uncapped error replies.
func TestFakePolicyBatchRefusalUndone(t *testing.T) {
	for _, uncapped := range []bool{false, true} {
		for k := range 9 { // the ops of mixedPolicyOps
			t.Run(fmt.Sprintf("uncapped %v, at %d", uncapped, k), func(t *testing.T) {
				kern, tab := fakePolicies(t, 6, 50)
				kern.uncapped = uncapped
				before := kern.policyTable()
				base := kern.changes
				kern.refuse = func(n int, m message) (unix.Errno, string) {
					if n == base+k {
						return unix.EINVAL, "Invalid policy template"
					}
					return 0, ""
				}
				err := tab.ApplyPolicies(mixedPolicyOps(kern))
				var be *BatchError
				if !errors.As(err, &be) || be.Index != k || !errors.Is(err, unix.EINVAL) ||
					!strings.Contains(err.Error(), "Invalid policy template") {
					t.Fatalf("ApplyPolicies: %v, want op %d refused with the kernel's words", err, k)
				}
				if after := kern.policyTable(); after != before {
					t.Errorf("after the undo:\n%s\nwant:\n%s", after, before)
				}
			})
		}
	}
}

// The same batch, not refused, leaves what the ops say; an add of a taken
// place is ErrExists (os.ErrExist), a delete of nothing ErrNotFound, each
// naming its op, and a bad op is refused before anything is sent.
func TestFakePolicyBatch(t *testing.T) {
	k, tab := fakePolicies(t, 6, 50)
	sends := k.sends
	if err := tab.ApplyPolicies(mixedPolicyOps(k)); err != nil {
		t.Fatal(err)
	}
	if k.sends-sends > 3 { // the dump, the batch with its barrier
		t.Errorf("a batch of 9 took %d datagrams", k.sends-sends)
	}
	// Left: 0 and 3 updated, 4 made again, 5, and the three new ones.
	got := map[uint32]Policy{}
	for _, p := range k.policies {
		got[p.Tmpls[0].Reqid-100] = p
	}
	if len(got) != 7 || got[0].Priority != 77 || got[0].Action != ActionBlock || got[4].Priority != 5 || got[3].Priority != 66 {
		t.Errorf("after the batch: %+v", k.policies)
	}
	for _, i := range []uint32{3, 5, 20, 21, 22} {
		if _, ok := got[i]; !ok {
			t.Errorf("policy %d missing", i)
		}
	}

	before := k.policyTable()
	err := tab.ApplyPolicies([]PolicyOp{{Kind: PolicyAdd, Policy: genPolicy(30, 1)}, {Kind: PolicyAdd, Policy: genPolicy(3, 1)}})
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrExists) || !errors.Is(err, os.ErrExist) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("add of a taken place: %v", err)
	}
	err = tab.ApplyPolicies([]PolicyOp{{Kind: PolicyDelete, Policy: genPolicy(3, 0)}, {Kind: PolicyDelete, Policy: genPolicy(31, 0)}})
	if !errors.As(err, &be) || be.Index != 1 || !errors.Is(err, ErrNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete of nothing: %v", err)
	}
	sends = k.sends
	bad := genPolicy(32, 1)
	bad.Tmpls[0].Dst = netip.MustParseAddr("2001:db8::1")
	err = tab.ApplyPolicies([]PolicyOp{{Kind: PolicyAdd, Policy: genPolicy(33, 1)}, {Kind: PolicyAdd, Policy: bad}})
	if !errors.As(err, &be) || be.Index != 1 || k.sends != sends {
		t.Errorf("a template of two families: %v, %d datagrams sent", err, k.sends-sends)
	}
	if err := tab.ApplyPolicies([]PolicyOp{{Kind: 9}}); !errors.As(err, &be) || be.Index != 0 {
		t.Errorf("unknown kind: %v", err)
	}
	if after := k.policyTable(); after != before {
		t.Errorf("refused batches changed the table:\n%s\nwant:\n%s", after, before)
	}
}

func completed(p Policy) Policy {
	p, _ = completePolicy(p)
	return p
}

// The undo leaves alone what changed since the batch changed it: a policy
// the batch added that another process then replaced stays, and the place
// of a policy the batch deleted that another filled is not taken back.
func TestFakePolicyUndoLeavesOthersChanges(t *testing.T) {
	k, tab := fakePolicies(t, 3, 50)
	other, _ := k.table()
	theirs := genPolicy(10, 1) // replaces the batch's add of 10
	theirs.Action = ActionBlock
	filled := genPolicy(2, 2) // takes the place the batch's delete of 2 left
	undoHook = func() {
		if err := other.UpdatePolicy(theirs); err != nil {
			t.Error(err)
		}
		if err := other.AddPolicy(filled); err != nil {
			t.Error(err)
		}
	}
	defer func() { undoHook = nil }()
	err := tab.ApplyPolicies([]PolicyOp{
		{Kind: PolicyAdd, Policy: genPolicy(10, 9)},
		{Kind: PolicyDelete, Policy: genPolicy(2, 0)},
		{Kind: PolicyAdd, Policy: genPolicy(11, 9)},
		{Kind: PolicyAdd, Policy: genPolicy(0, 9)}, // taken
	})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("ApplyPolicies: %v", err)
	}
	got := map[uint32]Policy{}
	for _, p := range k.policies {
		got[p.Tmpls[0].Reqid] = p
	}
	if p, ok := got[110]; !ok || p.Action != ActionBlock {
		t.Errorf("the other process's policy at 10: %+v, %v", p, ok)
	}
	if p, ok := got[102]; !ok || p.Priority != 2 {
		t.Errorf("the other process's policy at 2: %+v, %v", p, ok)
	}
	if _, ok := got[111]; ok || len(k.policies) != 4 {
		t.Errorf("after the undo: %+v", k.policies)
	}
}

// A sync makes the owned policies (a priority band) what is wanted:
// updates, adds, deletes; it leaves the others byte for byte; a dry run
// changes nothing; a refusal leaves everything as it was.
func TestFakeSyncPolicies(t *testing.T) {
	k, tab := fakePolicies(t, 6, 150)
	foreign := []Policy{genPolicy(40, 50), genPolicy(41, 500)}
	for _, p := range foreign {
		if err := tab.AddPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	changed := genPolicy(1, 160)
	want := []Policy{genPolicy(0, 150), changed, genPolicy(2, 150), genPolicy(50, 150), genPolicy(51, 199)}
	band := SyncOptions{Owns: PriorityBand(100, 199)}

	before := k.policyTable()
	dry := band
	dry.DryRun = true
	plan, err := tab.SyncPolicies(want, dry)
	if err != nil {
		t.Fatal(err)
	}
	if after := k.policyTable(); after != before {
		t.Errorf("a dry run changed the table")
	}
	var kinds []string
	for _, op := range plan.Ops {
		kinds = append(kinds, fmt.Sprint(op.Kind, " ", op.Policy.Tmpls, op.Policy.Index != 0))
	}
	if len(plan.Ops) != 6 || plan.Unchanged != 2 || plan.Ops[0].Kind != PolicyUpdate || plan.Ops[1].Kind != PolicyAdd ||
		plan.Ops[2].Kind != PolicyAdd || plan.Ops[3].Kind != PolicyDelete {
		t.Errorf("plan: %d unchanged, ops %v", plan.Unchanged, kinds)
	}

	// Refused at each op: nothing changes, and the error's index is the plan's.
	for n := range plan.Ops {
		base := k.changes
		k.refuse = func(i int, m message) (unix.Errno, string) {
			if i == base+n {
				return unix.ENOSPC, ""
			}
			return 0, ""
		}
		res, err := tab.SyncPolicies(want, band)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != n || !errors.Is(err, unix.ENOSPC) || len(res.Ops) != len(plan.Ops) {
			t.Errorf("refused at %d: %v", n, err)
		}
		if after := k.policyTable(); after != before {
			t.Errorf("refused at %d: table\n%s\nwant\n%s", n, after, before)
		}
	}
	k.refuse = nil

	res, err := tab.SyncPolicies(want, band)
	if err != nil || len(res.Ops) != 6 {
		t.Fatalf("SyncPolicies: %+v, %v", res, err)
	}
	again, err := tab.SyncPolicies(want, band)
	if err != nil || len(again.Ops) != 0 || again.Unchanged != len(want) {
		t.Errorf("second sync: %+v, %v", again, err)
	}
	ours, others := 0, 0
	for _, p := range k.policies {
		if PriorityBand(100, 199)(p) {
			ours++
		} else {
			others++
		}
	}
	if ours != len(want) || others != len(foreign) {
		t.Errorf("%d owned and %d other policies, want %d and %d", ours, others, len(want), len(foreign))
	}
	for _, f := range foreign {
		got, ok, err := tab.GetPolicy(f)
		if err != nil || !ok || !samePolicy(got, asWritten(completed(f))) {
			t.Errorf("foreign policy now %+v, %v, %v", got, ok, err)
		}
	}
}

// A sync refuses, before reading or writing, wanted policies it could not
// manage; and a wanted place held by a policy outside the band is a
// *ConflictError, with nothing changed.
func TestFakeSyncPoliciesRefusals(t *testing.T) {
	k, tab := fakePolicies(t, 3, 150)
	if err := tab.AddPolicy(genPolicy(40, 50)); err != nil {
		t.Fatal(err)
	}
	band := SyncOptions{Owns: PriorityBand(100, 199)}
	before, sends := k.policyTable(), k.sends
	for _, c := range []struct {
		name string
		want []Policy
		o    SyncOptions
	}{
		{"SyncOptions.Owns is nil: the sync must be told which policies are its own", nil, SyncOptions{}},
		{"wanted policy 0 (10.1.0.2/32 -> 10.2.0.0/16, dir fwd, priority 10) is not one SyncOptions.Owns takes: a later sync would not see it",
			[]Policy{genPolicy(2, 10)}, band},
		{"wanted policies 0 and 1 have the same selector, direction, type, mark and if_id: the kernel holds one",
			[]Policy{genPolicy(1, 150), genPolicy(1, 160)}, band},
		{"wanted policy 0: policy template 0: 192.0.2.1 is not of the template's family 10",
			[]Policy{func() Policy { p := genPolicy(1, 150); p.Tmpls[0].Dst = netip.MustParseAddr("2001:db8::1"); return p }()}, band},
	} {
		if _, err := tab.SyncPolicies(c.want, c.o); err == nil || err.Error() != c.name {
			t.Errorf("%v, want %s", err, c.name)
		}
	}
	if k.sends != sends {
		t.Errorf("refused syncs sent %d datagrams", k.sends-sends)
	}
	_, err := tab.SyncPolicies([]Policy{genPolicy(0, 150), genPolicy(40, 150)}, band)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Index != 1 || ce.Holder.Priority != 50 || !errors.Is(err, os.ErrExist) ||
		!strings.HasPrefix(err.Error(), "wanted policy 1 (10.1.0.40/32 -> 10.2.0.0/16, dir in): its place is held by a policy the sync does not own (index 32, priority 50)") {
		t.Errorf("a wanted place held by a foreign policy: %v", err)
	}
	if after := k.policyTable(); after != before {
		t.Errorf("refused syncs changed the table")
	}
}

// A sync's delete of an owned policy that went meanwhile (ENOENT) is what
// the sync wanted: no failure, no undo.
func TestFakeSyncPoliciesGoneMeanwhile(t *testing.T) {
	k, tab := fakePolicies(t, 4, 150)
	k.refuse = func(_ int, m message) (unix.Errno, string) {
		if m.typ == msgDelPolicy {
			return unix.ENOENT, ""
		}
		return 0, ""
	}
	res, err := tab.SyncPolicies([]Policy{genPolicy(0, 150), genPolicy(9, 150)}, SyncOptions{Owns: PriorityBand(100, 199)})
	if err != nil || len(res.Ops) != 4 {
		t.Fatalf("SyncPolicies: %+v, %v", res, err)
	}
	if len(k.policies) != 5 {
		t.Errorf("%d policies, want the 4 and the one added", len(k.policies))
	}
}

// policyBlock gives the one policy of `ip -s xfrm policy list` whose text
// holds every part, add time and all; it fails unless exactly one does.
func policyBlock(t *testing.T, ns string, parts ...string) string {
	t.Helper()
	var blocks []string
	for _, l := range strings.SplitAfter(ipn(t, ns, "-s", "xfrm", "policy", "list"), "\n") {
		if strings.HasPrefix(l, "src ") || len(blocks) == 0 {
			blocks = append(blocks, "")
		}
		blocks[len(blocks)-1] += l
	}
	var found []string
	for _, b := range blocks {
		if containsAll(b, parts...) {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d policies with %q:\n%s", len(found), parts, strings.Join(blocks, ""))
	}
	return found[0]
}

// ipForeignPolicies has ip xfrm make, in ns, an out and an in policy that
// no batch names, and gives their indexes.
func ipForeignPolicies(t *testing.T, ns string) map[uint32]bool {
	t.Helper()
	ipn(t, ns, "xfrm", "policy", "add", "src", "10.9.0.0/16", "dst", "10.8.0.0/16", "dir", "out", "priority", "500",
		"tmpl", "src", "192.0.2.9", "dst", "192.0.2.8", "proto", "esp", "reqid", "9", "mode", "tunnel")
	ipn(t, ns, "xfrm", "policy", "add", "src", "10.8.0.0/16", "dst", "10.9.0.0/16", "dir", "in", "priority", "50", "action", "block")
	idx := map[uint32]bool{}
	for _, m := range indexRE.FindAllStringSubmatch(ipn(t, ns, "-s", "xfrm", "policy", "list"), -1) {
		var n uint32
		fmt.Sscan(m[1], &n)
		idx[n] = true
	}
	if len(idx) != 2 {
		t.Fatalf("foreign policies: %v", idx)
	}
	return idx
}

// In, fwd and out policies with marks, if_ids, reqids and explicit
// priorities, as one batch, read back with ip xfrm; then batches refused
// at their end (an add of a taken place, a template the kernel refuses;
// in the first datagram and past it) leave `ip xfrm policy` exactly as it
// was, and never write the policies no op names.
func TestKernelApplyPolicies(t *testing.T) {
	tab, ns := openTable(t)
	foreign := ipForeignPolicies(t, ns)
	var ops []PolicyOp
	for i := 0; i < 12; i++ {
		ops = append(ops, PolicyOp{Kind: PolicyAdd, Policy: genPolicy(i, uint32(150+i))})
	}
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	wantContains(t, policyBlock(t, ns, "src 10.1.0.0/32 "), "dir out action allow", "priority 150 ", "reqid 100(")
	wantContains(t, policyBlock(t, ns, "src 10.1.0.1/32 "), "dir in action allow", "priority 151 ", "mark 0x1/0xffff", "if_id 0x2", "reqid 101(", "mode tunnel")
	wantContains(t, policyBlock(t, ns, "src 10.1.0.2/32 "), "dir fwd action allow", "priority 152 ", "reqid 102(")

	badTmpl := genPolicy(60, 1)
	badTmpl.Tmpls[0].Mode = 9 // no such mode: EINVAL
	for _, c := range []struct {
		name  string
		bad   PolicyOp
		errno unix.Errno
	}{
		{"add of a taken place", PolicyOp{Kind: PolicyAdd, Policy: genPolicy(3, 1)}, unix.EEXIST},
		{"a template the kernel refuses", PolicyOp{Kind: PolicyUpdate, Policy: badTmpl}, unix.EINVAL},
		{"delete of nothing", PolicyOp{Kind: PolicyDelete, Policy: genPolicy(61, 1)}, unix.ENOENT},
	} {
		for _, late := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, late %v", c.name, late), func(t *testing.T) {
				before := tableText(t, ns)
				ops := mixedKernelOps(t, tab)
				if late {
					for i := 0; i < 2*runMaxMsgs; i++ {
						ops = append(ops, PolicyOp{Kind: PolicyAdd, Policy: genPolicy(1000+i, 7)})
					}
				}
				w := watchPolicies(t, ns)
				n := len(ops)
				err := tab.ApplyPolicies(append(ops, c.bad, PolicyOp{Kind: PolicyAdd, Policy: genPolicy(62, 1)}))
				var be *BatchError
				if !errors.As(err, &be) || be.Index != n || !errors.Is(err, c.errno) {
					t.Fatalf("ApplyPolicies: %v, want op %d refused with %v", err, n, c.errno)
				}
				if after := tableText(t, ns); after != before {
					t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				wantUntouched(t, w, foreign)
			})
		}
	}
}

// mixedKernelOps updates policy 0 (action and priority) and 3 (as read
// back, with a stale index), deletes 1 by
// index and 2 by selector, deletes 4 and makes it again, adds new ones.
func mixedKernelOps(t *testing.T, tab *Table) []PolicyOp {
	t.Helper()
	one, ok, err := tab.GetPolicy(genPolicy(1, 0))
	if err != nil || !ok {
		t.Fatalf("GetPolicy: %v, %v", ok, err)
	}
	up := genPolicy(0, 99)
	up.Action = ActionBlock
	stale, ok, err := tab.GetPolicy(genPolicy(3, 0))
	if err != nil || !ok {
		t.Fatalf("GetPolicy: %v, %v", ok, err)
	}
	stale.Priority, stale.Index = 98, stale.Index+800 // the kernel keeps the replaced policy's index
	return []PolicyOp{
		{Kind: PolicyUpdate, Policy: up},
		{Kind: PolicyUpdate, Policy: stale},
		{Kind: PolicyDelete, Policy: idOf(&one)},
		{Kind: PolicyDelete, Policy: genPolicy(2, 0)},
		{Kind: PolicyAdd, Policy: genPolicy(20, 9)},
		{Kind: PolicyUpdate, Policy: genPolicy(21, 9)},
		{Kind: PolicyDelete, Policy: genPolicy(4, 0)},
		{Kind: PolicyAdd, Policy: genPolicy(4, 5)},
	}
}

// A sync in a priority band: the band's policies become what is wanted
// (ip xfrm shows them), the foreign ones, in and out of the band's
// selectors' way, stay byte for byte, add time included, and are never
// written; a second sync changes nothing; a refused sync leaves the
// table as it was.
func TestKernelSyncPolicies(t *testing.T) {
	tab, ns := openTable(t)
	foreign := ipForeignPolicies(t, ns)
	outBlock, inBlock := policyBlock(t, ns, "priority 500 "), policyBlock(t, ns, "priority 50 ")
	var ops []PolicyOp
	for i := 0; i < 6; i++ {
		ops = append(ops, PolicyOp{Kind: PolicyAdd, Policy: genPolicy(i, 150)})
	}
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	band := SyncOptions{Owns: PriorityBand(100, 199)}
	want := []Policy{genPolicy(0, 150), genPolicy(1, 160), genPolicy(7, 150), genPolicy(8, 199)}
	w := watchPolicies(t, ns)

	dry := band
	dry.DryRun = true
	before := tableText(t, ns)
	plan, err := tab.SyncPolicies(want, dry)
	if err != nil || len(plan.Ops) != 7 || plan.Unchanged != 1 {
		t.Fatalf("dry run: %+v, %v", plan, err)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("a dry run changed the table")
	}

	bad := slices.Clone(want)
	bad = append(bad, genPolicy(9, 150))
	bad[len(bad)-1].Tmpls[0].Mode = 9
	if _, err := tab.SyncPolicies(bad, band); !errors.Is(err, unix.EINVAL) {
		t.Errorf("sync with a template the kernel refuses: %v", err)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("a refused sync changed the table:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	res, err := tab.SyncPolicies(want, band)
	if err != nil || len(res.Ops) != len(plan.Ops) {
		t.Fatalf("SyncPolicies: %+v, %v", res, err)
	}
	wantContains(t, policyBlock(t, ns, "src 10.1.0.1/32 "), "dir in action allow", "priority 160 ", "mark 0x1/0xffff", "if_id 0x2")
	wantContains(t, policyBlock(t, ns, "src 10.1.0.7/32 "), "dir in action allow", "priority 150 ", "mark 0x7/0xffff", "if_id 0x3", "reqid 107(")
	wantContains(t, policyBlock(t, ns, "src 10.1.0.8/32 "), "dir fwd action allow", "priority 199 ", "reqid 108(")
	for _, gone := range []string{"10.1.0.2/32", "10.1.0.3/32", "10.1.0.4/32", "10.1.0.5/32"} {
		if strings.Contains(policies(t, ns), "src "+gone+" ") {
			t.Errorf("%s is still there", gone)
		}
	}
	again, err := tab.SyncPolicies(want, band)
	if err != nil || len(again.Ops) != 0 || again.Unchanged != len(want) {
		t.Errorf("second sync: %+v, %v", again, err)
	}
	if b := policyBlock(t, ns, "priority 500 "); b != outBlock {
		t.Errorf("the foreign out policy changed:\n%s\nwas:\n%s", b, outBlock)
	}
	if b := policyBlock(t, ns, "priority 50 "); b != inBlock {
		t.Errorf("the foreign in policy changed:\n%s\nwas:\n%s", b, inBlock)
	}
	wantUntouched(t, w, foreign)
}

// FuzzPolicyBatch applies batches of adds, updates and deletes (by
// selector and by index) on eight places, half of them taken, against the
// fake kernel, which refuses the request the input names: a batch that
// succeeds leaves what a model of the ops says, one that fails leaves the
// table exactly as it was, indexes included.
func FuzzPolicyBatch(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 5, 1, 2, 2, 0, 0, 0, 9}, byte(2))
	f.Add([]byte{2, 0, 0, 0, 0, 3, 1, 1, 7, 2, 1, 1}, byte(255))
	f.Add([]byte{2, 1, 1, 0, 1, 4, 1, 6, 2}, byte(1))
	f.Fuzz(func(t *testing.T, in []byte, refuseAt byte) {
		k, tab := fakePolicies(t, 4, 50)
		model := map[policyKey]Policy{}
		for _, p := range k.policies {
			model[keyOf(&p)] = p
		}
		before := k.policyTable()
		var ops []PolicyOp
		fails := false
		for ; len(in) >= 3 && len(ops) < 40; in = in[3:] {
			kind, place, variant := PolicyOpKind(in[0]%3+1), int(in[1]%8), in[2]
			p := completed(genPolicy(place, 50+uint32(variant%4)))
			if variant%2 == 1 {
				p.Action = ActionBlock
			}
			key := keyOf(&p)
			_, there := model[key]
			if kind == PolicyDelete && variant%3 == 0 && place < 4 {
				p = idOf(&k.policies[place]) // by index, as it was before the batch
				_, there = model[key]
				there = there && model[key].Index == p.Index
			}
			switch {
			case kind == PolicyAdd && there, kind == PolicyDelete && !there:
				fails = true
			case kind == PolicyDelete:
				delete(model, key)
			default:
				p.Index = model[key].Index // a replace keeps it; a new one is 0 here
				model[key] = p
			}
			ops = append(ops, PolicyOp{Kind: kind, Policy: p})
		}
		base := k.changes
		refused := int(refuseAt) < len(ops)
		k.refuse = func(n int, m message) (unix.Errno, string) {
			// The batch's requests (one datagram: all of them), not the undo's.
			if n == base+int(refuseAt) && n < base+len(ops) {
				return unix.EINVAL, ""
			}
			return 0, ""
		}
		err := tab.ApplyPolicies(ops)
		var be *BatchError
		switch {
		case fails || refused:
			if !errors.As(err, &be) {
				t.Fatalf("ApplyPolicies: %v, want a *BatchError", err)
			}
			if after := k.policyTable(); after != before {
				t.Fatalf("after a refused batch:\n%s\nwant:\n%s", after, before)
			}
		case err != nil:
			t.Fatalf("ApplyPolicies: %v", err)
		default:
			if len(k.policies) != len(model) {
				t.Fatalf("%d policies, the model has %d", len(k.policies), len(model))
			}
			for _, p := range k.policies {
				if w, ok := model[keyOf(&p)]; !ok || !samePolicy(p, asWritten(w)) {
					t.Fatalf("kernel has %+v, model %+v", p, w)
				}
			}
		}
	})
}

// BenchmarkKernelApplyPolicies: EROUTE_BENCH_N policies of every direction
// in one ApplyPolicies, into an empty table; BenchmarkKernelSyncPolicies:
// a sync of that table that changes a tenth of them (one update in ten).
func BenchmarkKernelApplyPolicies(b *testing.B) {
	tb, ns := openTable(b)
	ops := benchPolicyOps(benchN(b), 150)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tb.ApplyPolicies(ops); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ipn(b, ns, "xfrm", "policy", "flush") // Clear takes eroutes' policies only
		b.StartTimer()
	}
}

func BenchmarkKernelSyncPolicies(b *testing.B) {
	tb, _ := openTable(b)
	n := benchN(b)
	if err := tb.ApplyPolicies(benchPolicyOps(n, 150)); err != nil {
		b.Fatal(err)
	}
	want := make([][]Policy, 2)
	for v := range want {
		for _, op := range benchPolicyOps(n, 150) {
			want[v] = append(want[v], op.Policy)
		}
		for i := v; i < n; i += 10 {
			want[v][i].Priority = 160
		}
	}
	o := SyncOptions{Owns: PriorityBand(100, 199)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tb.SyncPolicies(want[i%2], o); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPolicyOps(n int, priority uint32) []PolicyOp {
	ops := make([]PolicyOp, n)
	for i := range ops {
		ops[i] = PolicyOp{Kind: PolicyAdd, Policy: genPolicy(i, priority)}
	}
	return ops
}
