package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// These tests drive the Table against fakeKernel: no root, no namespace.

func fakeEroute(i int, said eroute.SAID) eroute.Eroute {
	return eroute.Eroute{Selector: eroute.Selector{
		Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24),
		Dst: netip.MustParsePrefix("172.16.0.0/12")}, SAID: said}
}

func addOps(from, n int) []Op {
	ops := make([]Op, n)
	for i := range ops {
		ops[i] = Op{Kind: eroute.OpAdd, Eroute: fakeEroute(from+i, eroute.Drop)}
	}
	return ops
}

// A batch goes pipelined: many requests to a datagram (512), none
// acknowledged but the barrier, and the listing reads the multipart dump
// back whole.
func TestFakePipelinedBatch(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	const n = 4000
	if err := tab.Apply(addOps(0, n)); err != nil {
		t.Fatal(err)
	}
	if len(k.policies) != n {
		t.Fatalf("%d policies in the kernel, want %d", len(k.policies), n)
	}
	if k.sends > n/runMaxMsgs+1 {
		t.Errorf("%d adds took %d datagrams, want at most %d", n, k.sends, n/runMaxMsgs+1)
	}
	acked := 0
	for _, m := range k.requests {
		if m.flags&unix.NLM_F_ACK != 0 {
			acked++
			if m.typ != unix.NLMSG_NOOP {
				t.Errorf("request of type %d asked for an acknowledgement", m.typ)
			}
		}
	}
	if acked != 1 {
		t.Errorf("%d acknowledged requests, want the barrier alone", acked)
	}
	list, err := tab.List()
	if err != nil || len(list) != n {
		t.Fatalf("List: %d eroutes, %v", len(list), err)
	}
	for _, e := range list {
		if e.SAID != eroute.Drop {
			t.Fatalf("listed %v", e)
		}
	}
}

// The kernel refuses request k: the batch names op k, with the kernel's
// words, and the table is exactly as it was, indexes included.
func TestFakeRefusalUndone(t *testing.T) {
	for _, k := range []int{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprint("at ", k), func(t *testing.T) {
			kern := newFakeKernel()
			tab, _ := kern.table()
			if err := tab.Apply(addOps(0, 4)); err != nil {
				t.Fatal(err)
			}
			before := byIndex(kern.policies)
			ops := []Op{
				{Kind: eroute.OpReplace, Eroute: fakeEroute(0, eroute.Trap)},
				{Kind: eroute.OpDelete, Eroute: fakeEroute(1, eroute.Drop)},
				{Kind: eroute.OpAdd, Eroute: fakeEroute(10, eroute.Pass)},
				{Kind: eroute.OpReplace, Eroute: fakeEroute(2, eroute.Reject)},
				{Kind: eroute.OpAdd, Eroute: fakeEroute(11, eroute.Drop)},
			}
			base := kern.changes
			kern.refuse = func(n int, m message) (unix.Errno, string) {
				if n == base+k {
					return unix.EINVAL, "Invalid policy template"
				}
				return 0, ""
			}
			err := tab.Apply(ops)
			var be *BatchError
			if !errors.As(err, &be) || be.Index != k || !errors.Is(err, unix.EINVAL) ||
				!strings.Contains(err.Error(), "Invalid policy template") {
				t.Fatalf("Apply: %v, want op %d refused with the kernel's words", err, k)
			}
			if after := byIndex(kern.policies); after != before {
				t.Errorf("after the undo:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

// byIndex shows the policies in the order of their indexes: an undo puts
// a deleted policy back with its index, but at the end of the kernel's list.
func byIndex(ps []Policy) string {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Policy) int { return cmp.Compare(a.Index, b.Index) })
	return fmt.Sprintf("%+v", ps)
}

// An add that meets a policy is ErrExists; a delete of nothing is ErrNotFound.
func TestFakeSingleRefusals(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	e := fakeEroute(1, eroute.Drop)
	if err := tab.Add(e); err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(e); !errors.Is(err, ErrExists) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("second Add: %v", err)
	}
	if err := tab.Delete(e.Selector); err != nil {
		t.Fatal(err)
	}
	if err := tab.Delete(e.Selector); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}
}

// An error reply is read whether the kernel capped it (NETLINK_CAP_ACK:
// the request's header only) or carried the whole request back: the
// extended ack's text comes after either.
func TestFakeCappedErrorReplies(t *testing.T) {
	for _, uncapped := range []bool{false, true} {
		k := newFakeKernel()
		k.uncapped = uncapped
		k.refuse = func(int, message) (unix.Errno, string) { return unix.EINVAL, "Invalid selector family" }
		tab, _ := k.table()
		err := tab.Replace(fakeEroute(1, eroute.Drop))
		if !errors.Is(err, unix.EINVAL) || err.Error() != "kernel refused the request: invalid argument (Invalid selector family)" {
			t.Errorf("uncapped %v: %v", uncapped, err)
		}
	}
}

// A dump the kernel marked interrupted is ErrDumpInterrupted.
func TestFakeDumpInterrupted(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	if err := tab.Apply(addOps(0, 10)); err != nil {
		t.Fatal(err)
	}
	k.interrupt = true
	if _, err := tab.List(); !errors.Is(err, ErrDumpInterrupted) {
		t.Errorf("List of an interrupted dump: %v", err)
	}
	if _, err := tab.Policies(); !errors.Is(err, ErrDumpInterrupted) {
		t.Errorf("Policies of an interrupted dump: %v", err)
	}
}

// When the refusals overflow the receive buffer (ENOBUFS), which requests
// failed is unknown: the batch says so rather than claim an undo.
func TestFakeOverrun(t *testing.T) {
	k := newFakeKernel()
	tab, sock := k.table()
	sock.capacity = 3 * 64 // three refusals
	k.refuse = func(int, message) (unix.Errno, string) { return unix.EINVAL, "" }
	err := tab.Apply(addOps(0, 20))
	var ue *UndoError
	if !errors.As(err, &ue) || ue.Index != -1 || !strings.Contains(err.Error(), "receive buffer overrun") {
		t.Errorf("Apply with its answers lost: %v", err)
	}
}

// A kernel that never answers: the wait ends, as a timeout.
func TestFakeNoAnswer(t *testing.T) {
	k := newFakeKernel()
	k.silent = true
	tab, _ := k.table()
	err := tab.Add(fakeEroute(1, eroute.Drop))
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, unix.EAGAIN) {
		t.Errorf("Add without an answer: %v", err)
	}
}

// Answers to earlier requests (that timed out) and datagrams not from the
// kernel are passed over.
func TestFakeStrayAnswers(t *testing.T) {
	k := newFakeKernel()
	tab, sock := k.table()
	old := sock.errorReply(message{typ: msgNewPolicy, seq: 999}, unix.EEXIST, "")
	sock.deliver(old)
	if err := tab.Add(fakeEroute(1, eroute.Drop)); err != nil {
		t.Errorf("Add after a stray answer: %v", err)
	}
}

// Clear streams: the dump comes over a second socket while the deletes go
// over the first; foreign policies stay unless all.
func TestFakeClear(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	if err := tab.Apply(addOps(0, 50)); err != nil {
		t.Fatal(err)
	}
	foreign := Policy{Sel: selectorOf(fakeEroute(99, eroute.Drop).Selector), Dir: DirOut, Priority: 7, Action: ActionBlock}
	if err := tab.AddPolicy(foreign); err != nil {
		t.Fatal(err)
	}
	if err := tab.Clear(false); err != nil {
		t.Fatal(err)
	}
	if len(k.policies) != 1 || k.policies[0].Priority != 7 {
		t.Fatalf("after Clear: %+v", k.policies)
	}
	if err := tab.Clear(true); err != nil || len(k.policies) != 0 {
		t.Fatalf("Clear(all): %v, %d left", err, len(k.policies))
	}
}

// The rest of the Table's reading and writing against the fake kernel:
// snapshots and their batches, entries, lookups, inbound policies, holds,
// policies of any shape.
func TestFakeTour(t *testing.T) {
	k := newFakeKernel()
	tab, _ := k.table()
	if err := tab.Apply(addOps(0, 6)); err != nil {
		t.Fatal(err)
	}
	snap, err := tab.Snapshot()
	if err != nil || snap.Len() != 6 {
		t.Fatalf("Snapshot: %v, %v", snap, err)
	}
	e0 := snap.Entry(0)
	if !e0.Own || !e0.Deletable {
		t.Errorf("snapshot entry %+v", e0)
	}
	err = snap.Apply([]Op{
		{Kind: eroute.OpReplace, Eroute: fakeEroute(0, eroute.Trap)},
		{Kind: eroute.OpDelete, Eroute: fakeEroute(1, eroute.Drop)},
		{Kind: eroute.OpDelete, Eroute: fakeEroute(77, eroute.Drop), Idempotent: true},
		{Kind: eroute.OpAdd, Eroute: fakeEroute(2, eroute.Drop), Idempotent: true},
	})
	if err != nil || len(k.policies) != 5 {
		t.Fatalf("Snapshot.Apply: %v, %d policies", err, len(k.policies))
	}
	var entries []Entry
	if err := tab.WalkEntries(func(e Entry) error { entries = append(entries, e); return nil }); err != nil || len(entries) != 5 {
		t.Fatalf("WalkEntries: %d, %v", len(entries), err)
	}
	if e, ok, err := tab.Lookup(fakeEroute(0, eroute.Drop).Selector, false); err != nil || !ok || e.SAID != eroute.Trap {
		t.Errorf("Lookup: %+v, %v, %v", e, ok, err)
	}
	found, err := tab.Find(fakeEroute(2, eroute.Drop).Selector, false)
	if err != nil || len(found) != 1 {
		t.Fatalf("Find: %+v, %v", found, err)
	}
	if err := tab.DeleteEntries(found); err != nil || len(k.policies) != 4 {
		t.Errorf("DeleteEntries: %v, %d policies", err, len(k.policies))
	}
	if sh, err := tab.Shadow(fakeEroute(3, eroute.Drop)); err != nil || sh != nil {
		t.Errorf("Shadow: %+v, %v", sh, err)
	}

	in := fakeEroute(50, eroute.Pass)
	if err := tab.AddInbound(in, false); err != nil {
		t.Fatal(err)
	}
	if err := tab.AddInbound(in, false); !errors.Is(err, ErrExists) {
		t.Errorf("second AddInbound: %v", err)
	}
	ins, err := tab.Inbound()
	if err != nil || len(ins) != 1 || !ins[0].Own || ins[0].Selector != in.Selector {
		t.Errorf("Inbound: %+v, %v", ins, err)
	}
	if err := tab.DeleteInbound(in.Selector); err != nil {
		t.Errorf("DeleteInbound: %v", err)
	}

	h := Hold{Selector: fakeEroute(60, eroute.Hold).Selector, Priority: 25}
	if err := tab.AddHold(h, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	holds, err := tab.Holds()
	if err != nil || len(holds) != 1 || holds[0].Selector != h.Selector {
		t.Errorf("Holds: %+v, %v", holds, err)
	}
	if ok, err := tab.DeleteHold(h); !ok || err != nil {
		t.Errorf("DeleteHold: %v, %v", ok, err)
	}
	if ok, err := tab.DeleteHold(h); ok || err != nil {
		t.Errorf("second DeleteHold: %v, %v", ok, err)
	}

	p := Policy{Sel: Selector{Src: netip.MustParsePrefix("2001:db8::/32"), Dst: netip.MustParsePrefix("2001:db9::/32")}, Dir: DirFwd, Priority: 5}
	if err := tab.AddPolicy(p); err != nil {
		t.Fatal(err)
	}
	p.Priority = 6
	if err := tab.UpdatePolicy(p); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := tab.GetPolicy(p); err != nil || !ok || got.Priority != 6 {
		t.Errorf("GetPolicy: %+v, %v, %v", got, ok, err)
	}
	if err := tab.DeletePolicy(p); err != nil {
		t.Errorf("DeletePolicy: %v", err)
	}
	if err := tab.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := tab.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := tab.List(); err == nil {
		t.Error("List on a closed table worked")
	}
}
