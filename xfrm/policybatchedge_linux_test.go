package xfrm

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os/exec"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// edgePolicy is policy i of the edge cases: an outbound policy of its own
// place.
func edgePolicy(i int, priority uint32) Policy {
	return Policy{Sel: Selector{Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 8, byte(i >> 8), byte(i)}), 32), Dst: netip.MustParsePrefix("10.9.0.0/16")},
		Dir: DirOut, Priority: priority, Tmpls: []Template{{Proto: protoESP, Mode: ModeTunnel, Reqid: uint32(i + 1),
			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
			Aalgos: AnyAlgorithms, Ealgos: AnyAlgorithms, Calgos: AnyAlgorithms}}}
}

// wantRefusedAt applies ops, which the kernel must refuse at op index
// with errno, and checks the table is as it was.
func wantRefusedAt(t *testing.T, tab *Table, ns string, ops []PolicyOp, index int, errno unix.Errno) {
	t.Helper()
	before := tableText(t, ns)
	err := tab.ApplyPolicies(ops)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != index || !errors.Is(err, errno) {
		t.Fatalf("ApplyPolicies: %v, want op %d refused with %v", err, index, errno)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("the table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// Batches that name one policy several times, refused at their first,
// middle or last op: the table is as it was, indexes included.
func TestKernelPolicyBatchSamePlaceTwice(t *testing.T) {
	tab, ns := openTable(t)
	for i := 0; i < 4; i++ {
		if err := tab.AddPolicy(edgePolicy(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	taken := PolicyOp{Kind: PolicyAdd, Policy: edgePolicy(0, 5)}
	existing, ok, err := tab.GetPolicy(edgePolicy(1, 0))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	fresh := edgePolicy(50, 20)
	changed := edgePolicy(1, 30)
	changed.Action = ActionBlock
	for _, c := range []struct {
		name  string
		ops   []PolicyOp
		index int
		errno unix.Errno
	}{
		{"add twice", []PolicyOp{{PolicyAdd, fresh}, {PolicyAdd, fresh}}, 1, unix.EEXIST},
		{"add then delete", []PolicyOp{{PolicyAdd, fresh}, {PolicyDelete, fresh}, taken}, 2, unix.EEXIST},
		{"delete then add", []PolicyOp{{PolicyDelete, edgePolicy(1, 0)}, {PolicyAdd, changed}, taken}, 2, unix.EEXIST},
		{"update of a missing policy", []PolicyOp{{PolicyUpdate, fresh}, taken}, 1, unix.EEXIST},
		{"update twice", []PolicyOp{{PolicyUpdate, changed}, {PolicyUpdate, edgePolicy(1, 31)}, taken}, 2, unix.EEXIST},
		{"delete by index, then update", []PolicyOp{{PolicyDelete, idOf(&existing)}, {PolicyUpdate, changed}, taken}, 2, unix.EEXIST},
		{"delete by selector, then by index", []PolicyOp{{PolicyDelete, edgePolicy(1, 0)}, {PolicyDelete, idOf(&existing)}, taken}, 1, unix.ENOENT},
		{"delete twice", []PolicyOp{{PolicyDelete, edgePolicy(2, 0)}, {PolicyDelete, edgePolicy(3, 0)}, {PolicyDelete, edgePolicy(2, 0)}}, 2, unix.ENOENT},
		{"refused first", []PolicyOp{taken, {PolicyDelete, edgePolicy(2, 0)}, {PolicyAdd, fresh}}, 0, unix.EEXIST},
		{"refused in the middle", []PolicyOp{{PolicyDelete, edgePolicy(2, 0)}, taken, {PolicyAdd, fresh}}, 1, unix.EEXIST},
		{"delete by a wrong index", []PolicyOp{{PolicyDelete, edgePolicy(2, 0)}, {PolicyDelete, Policy{Index: existing.Index + 8, Dir: DirOut}}}, 1, unix.ENOENT},
	} {
		t.Run(c.name, func(t *testing.T) { wantRefusedAt(t, tab, ns, c.ops, c.index, c.errno) })
	}
	// The errors a caller tells apart.
	err = tab.ApplyPolicies([]PolicyOp{{PolicyDelete, fresh}})
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("delete of nothing: %v", err)
	}
	err = tab.ApplyPolicies([]PolicyOp{taken})
	if !errors.Is(err, ErrExists) || !errors.Is(err, fs.ErrExist) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("add of a taken place: %v", err)
	}
}

// 10,000 adds, updates and deletes refused at their last op: the undo puts
// back every one.
func TestKernelPolicyBatchTenThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 policies")
	}
	tab, ns := openTable(t)
	const n = 10000
	ops := make([]PolicyOp, n)
	for i := range ops {
		ops[i] = PolicyOp{PolicyAdd, edgePolicy(i, 10)}
	}
	taken := PolicyOp{Kind: PolicyAdd, Policy: edgePolicy(n, 5)}
	if err := tab.AddPolicy(taken.Policy); err != nil {
		t.Fatal(err)
	}
	wantRefusedAt(t, tab, ns, append(ops, ops[n-1]), n, unix.EEXIST)
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		ops[i] = PolicyOp{PolicyUpdate, edgePolicy(i, 20)}
	}
	wantRefusedAt(t, tab, ns, append(ops, taken), n, unix.EEXIST)
	for i := range ops {
		ops[i] = PolicyOp{PolicyDelete, edgePolicy(i, 0)}
	}
	wantRefusedAt(t, tab, ns, append(ops, taken), n, unix.EEXIST)
	if err := tab.ApplyPolicies(ops); err != nil {
		t.Fatal(err)
	}
	if got := countPolicies(t, ns); got != 1 {
		t.Errorf("%d policies left, want 1", got)
	}
}

// ipPolicy runs `ip xfrm policy VERB` on edge policy i's place (outbound,
// no template), with args.
func ipPolicy(t *testing.T, ns, verb string, i int, args ...string) {
	t.Helper()
	p := edgePolicy(i, 0)
	ipn(t, ns, append([]string{"xfrm", "policy", verb, "src", p.Sel.Src.String(), "dst", p.Sel.Dst.String(), "dir", "out"}, args...)...)
}

// Another process changes the places a refused batch named, after the
// batch and before its undo (ip xfrm): the undo leaves its changes, and
// puts back only what is still the batch's.
func TestKernelPolicyUndoLeavesOthersChanges(t *testing.T) {
	tab, ns := openTable(t)
	for i := 0; i < 6; i++ {
		if err := tab.AddPolicy(edgePolicy(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	undoHook = func() {
		ipPolicy(t, ns, "delete", 0)                                      // the batch updated it
		ipPolicy(t, ns, "update", 1, "priority", "77")                    // the batch updated it
		ipPolicy(t, ns, "add", 2, "priority", "78")                       // the batch deleted it
		ipPolicy(t, ns, "update", 20, "priority", "79")                   // the batch added it
		ipPolicy(t, ns, "delete", 21)                                     // the batch added it
		ipPolicy(t, ns, "update", 4, "priority", "80", "action", "block") // no op names it
	}
	defer func() { undoHook = nil }()
	w := watchPolicies(t, ns)
	err := tab.ApplyPolicies([]PolicyOp{
		{PolicyUpdate, edgePolicy(0, 11)},
		{PolicyUpdate, edgePolicy(1, 11)},
		{PolicyDelete, edgePolicy(2, 0)},
		{PolicyDelete, edgePolicy(3, 0)},
		{PolicyAdd, edgePolicy(20, 11)},
		{PolicyAdd, edgePolicy(21, 11)},
		{PolicyAdd, edgePolicy(22, 11)},
		{PolicyAdd, edgePolicy(5, 11)}, // taken
	})
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 7 || !errors.Is(err, ErrExists) {
		t.Fatalf("ApplyPolicies: %v", err)
	}
	undoHook = nil
	w.touched()
	got := map[netip.Prefix]Policy{}
	ps, err := tab.Policies()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		got[p.Sel.Src] = p
	}
	want := map[int]uint32{1: 77, 2: 78, 3: 10, 4: 80, 5: 10, 20: 79} // priority by place; 0, 21, 22 gone
	for i := 0; i < 25; i++ {
		p, ok := got[edgePolicy(i, 0).Sel.Src]
		prio, wanted := want[i]
		if ok != wanted || p.Priority != prio {
			t.Errorf("place %d: %v priority %d, want %v priority %d", i, ok, p.Priority, wanted, prio)
		}
	}
	if p := got[edgePolicy(3, 0).Sel.Src]; len(p.Tmpls) != 1 {
		t.Errorf("policy 3 put back without its template: %+v", p)
	}
}

// While another process adds and deletes policies of its own without
// pause, batches refused at their end and syncs run: none of its
// policies is ever written, and its last word stands.
func TestKernelPolicyBatchesBesideAnotherWriter(t *testing.T) {
	tab, ns := openTable(t)
	owns := SyncOptions{Owns: PriorityBand(1000, 1999)}
	stop := make(chan struct{})
	done := make(chan map[int]bool)
	var writes atomic.Int32
	go func() {
		there := map[int]bool{}
		for round := 0; ; round++ {
			select {
			case <-stop:
				done <- there
				return
			default:
			}
			i := 100 + round%7
			p := edgePolicy(i, 0)
			args := []string{"-n", ns, "xfrm", "policy", "add", "src", p.Sel.Src.String(), "dst", p.Sel.Dst.String(), "dir", "out", "priority", fmt.Sprint(1500 + round%3)}
			if there[i] {
				args = []string{"-n", ns, "xfrm", "policy", "delete", "src", p.Sel.Src.String(), "dst", p.Sel.Dst.String(), "dir", "out"}
			}
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Errorf("ip %v: %v\n%s", args, err, out)
				done <- there
				return
			}
			there[i] = !there[i]
			writes.Add(1)
		}
	}()
	// Until the other writer made 40 changes.
	for round := 0; writes.Load() < 40 && round < 2000; round++ {
		var want []Policy
		for i := 0; i < 20; i++ {
			want = append(want, edgePolicy(i, uint32(1000+(round+i)%5)))
		}
		if _, err := tab.SyncPolicies(want, SyncOptions{Owns: func(p Policy) bool { return owns.Owns(p) && p.Sel.Src.Addr().As4()[3] < 100 }}); err != nil {
			t.Fatal(err)
		}
		ops := []PolicyOp{{PolicyUpdate, edgePolicy(round%20, 1001)}, {PolicyDelete, edgePolicy((round+1)%20, 0)}, {PolicyAdd, edgePolicy(50, 1000)}, {PolicyAdd, edgePolicy(round%20, 1)}}
		if err := tab.ApplyPolicies(ops); !errors.Is(err, ErrExists) {
			t.Fatalf("ApplyPolicies: %v", err)
		}
	}
	close(stop)
	there := <-done
	for i := 100; i < 107; i++ {
		_, ok, err := tab.GetPolicy(edgePolicy(i, 0))
		if err != nil || ok != there[i] {
			t.Errorf("the other writer's policy %d: there %v (%v), want %v", i, ok, err, there[i])
		}
	}
}
