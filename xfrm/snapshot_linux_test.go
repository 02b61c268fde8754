package xfrm

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// TestKernelSnapshotEntries: a snapshot lists what Entries and List give,
// in List's order, and finds each deletable selector.
func TestKernelSnapshotEntries(t *testing.T) {
	tb, ns := undoTable(t)
	s := mustSnapshot(t, tb)
	list := mustList(t, tb)
	if s.Len() != len(list) {
		t.Fatalf("Len %d, List has %d", s.Len(), len(list))
	}
	keys := [][5]uint64{selectorKey(genEroute(5000).Selector)}
	for _, e := range list {
		keys = append(keys, selectorKey(e.Selector))
	}
	places := s.deletablePlaces(keys)
	for i, e := range list {
		got := s.Entry(i)
		if got.Eroute != e {
			t.Errorf("Entry(%d) = %v, List has %v", i, got.Eroute, e)
		}
		if pos, ok := places[keys[i+1]]; got.Deletable && pos != s.recs[i].pos || ok != got.Deletable && !deletableTwin(s, i) {
			t.Errorf("deletablePlaces(%v) = %d, %v; Entry(%d) deletable %v at %d", e.Selector, pos, ok, i, got.Deletable, s.recs[i].pos)
		}
	}
	if pos, ok := places[keys[0]]; ok {
		t.Errorf("deletablePlaces of a missing selector = %d", pos)
	}
	if n := len(s.order); n != countPolicies(t, ns) {
		t.Errorf("order holds %d policies, ip lists %d", n, countPolicies(t, ns))
	}
}

// TestKernelSnapshotStale applies a batch from a snapshot after another
// process changed the table: the policies the batch names are read again,
// so it acts on the table as it is, and its undo puts that table back.
func TestKernelSnapshotStale(t *testing.T) {
	for _, fail := range []bool{false, true} {
		name := "applied"
		if fail {
			name = "undone"
		}
		t.Run(name, func(t *testing.T) {
			tb, ns := undoTable(t)
			s := mustSnapshot(t, tb)
			other, err := Open(ns)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			// Meanwhile: 5 is made again (a new index), 6 goes, 7 gets
			// another SAID in place (its index stays), 8 is new.
			moved := genEroute(5)
			moved.SAID = eroute.Drop
			seven := genEroute(7)
			seven.SAID = eroute.Pass
			if err := other.Apply([]Op{
				{Kind: eroute.OpDelete, Eroute: genEroute(5)},
				{Kind: eroute.OpAdd, Eroute: moved},
				{Kind: eroute.OpDelete, Eroute: genEroute(6)},
				{Kind: eroute.OpReplace, Eroute: seven},
				{Kind: eroute.OpAdd, Eroute: genEroute(8000)},
			}); err != nil {
				t.Fatal(err)
			}
			before := tableText(t, ns)
			replaced := genEroute(7)
			replaced.SAID = genSAID(70, false)
			ops := []Op{
				{Kind: eroute.OpDelete, Eroute: genEroute(5)},
				{Kind: eroute.OpReplace, Eroute: replaced},
				{Kind: eroute.OpDelete, Eroute: genEroute(9)},
			}
			if fail {
				ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: genEroute(6)})
			}
			err = s.Apply(ops)
			if fail {
				var be *BatchError
				if !errors.As(err, &be) || be.Index != 3 || !errors.Is(err, ErrNotFound) {
					t.Fatalf("Apply: %v, want ErrNotFound for op 3", err)
				}
				if after := tableText(t, ns); after != before {
					t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := mustList(t, tb)
			for _, e := range got {
				switch e.Selector {
				case genEroute(5).Selector, genEroute(9).Selector, genEroute(6).Selector:
					t.Errorf("%v left", e)
				case seven.Selector:
					if e != replaced {
						t.Errorf("%v, want %v", e, replaced)
					}
				}
			}
			if !slices.ContainsFunc(got, func(e eroute.Eroute) bool { return e == genEroute(8000) }) {
				t.Error("the policy made meanwhile is gone")
			}
		})
	}
}

// TestKernelBatchDeleteByIndex: a batch that deletes subnet eroutes (which
// the kernel finds by selector only through its inexact tree) deletes
// exactly those, foreign policies with the same selector and a mark kept.
func TestKernelBatchDeleteByIndex(t *testing.T) {
	tb, ns := undoTable(t)
	var ops []Op
	var deleted, left []eroute.Eroute
	for i := 0; i < 40; i++ {
		if i%4 == 1 || i%4 == 3 {
			ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: eroute.Eroute{Selector: genEroute(i).Selector}})
			deleted = append(deleted, genEroute(i))
		} else {
			left = append(left, genEroute(i))
		}
	}
	for _, via := range []string{"table", "snapshot"} {
		apply := tb.Apply
		if via == "snapshot" {
			apply = mustSnapshot(t, tb).Apply
		}
		watch, err := dialIn(ns, watchConfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := apply(ops); err != nil {
			t.Fatalf("Apply via the %s: %v", via, err)
		}
		// The kernel's own word: a delete by index is announced with the
		// index and no selector (km_policy_notify's byid).
		byIndex, bySelector := deletions(t, watch)
		watch.close()
		if byIndex != len(deleted) || bySelector != 0 {
			t.Errorf("via the %s: the kernel announced %d deletes by index and %d by selector, want %d and 0",
				via, byIndex, bySelector, len(deleted))
		}
		var got []eroute.Eroute
		for _, e := range mustEntries(t, tb) {
			if e.Own {
				got = append(got, e.Eroute)
			}
		}
		if !slices.Equal(got, sortedEroutes(left)) {
			t.Errorf("via the %s, left:\n%s\nwant:\n%s", via, lines(got), lines(sortedEroutes(left)))
		}
		wantContains(t, policies(t, ns), "mark 0x5/0xff", "if_id 0x7", "src 10.200.0.0/16 dst 10.201.0.0/16 \n\tdir out priority 0 ptype main")
		mustApply(t, tb, adds(deleted...))
	}
}

// deletions counts the XFRM_MSG_DELPOLICY notifications queued on a
// socket of watchConfig, by how the policy was named.
func deletions(t *testing.T, c *nlConn) (byIndex, bySelector int) {
	t.Helper()
	for {
		b, err := c.read(true)
		if err != nil {
			t.Fatalf("reading the notifications: %v", err)
		}
		if b == nil {
			return byIndex, bySelector
		}
		for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
			if m.typ != msgDelPolicy || len(m.data) < sizePolicyID {
				continue
			}
			var zero [sizeSelector]byte
			index := ne.Uint32(m.data[sizeSelector:])
			switch {
			case index != 0 && string(m.data[:sizeSelector]) == string(zero[:]):
				byIndex++
			default:
				bySelector++
			}
		}
	}
}

func sortedEroutes(es []eroute.Eroute) []eroute.Eroute {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b eroute.Eroute) int { return eroute.Compare(a.Selector, b.Selector) })
	return es
}

// countPolicies counts the policies `ip xfrm policy list` shows, of every
// direction.
func countPolicies(t *testing.T, ns string) int {
	return strings.Count("\n"+policies(t, ns), "\nsrc ")
}

// TestKernelSnapshotDumps: Apply from a snapshot dumps the table again
// only when a policy changed since the snapshot (here through another
// socket, or by an earlier Apply of the snapshot), or when the batch
// clears.
func TestKernelSnapshotDumps(t *testing.T) {
	tb, ns := undoTable(t)
	other, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	replace := func(i int, said eroute.SAID) []Op {
		e := genEroute(i)
		e.SAID = said
		return []Op{{Kind: eroute.OpReplace, Eroute: e}, {Kind: eroute.OpDelete, Eroute: genEroute(i + 1)}}
	}
	for _, c := range []struct {
		name      string
		meanwhile func(s *Snapshot)
		ops       []Op
		dumps     int
	}{
		{"nothing changed", func(*Snapshot) {}, replace(4, eroute.Drop), 0},
		{"only adds", func(*Snapshot) {}, adds(genEroute(900)), 0},
		{"an add through another socket", func(*Snapshot) { mustAdd(t, other, genEroute(901)) }, replace(8, eroute.Drop), 1},
		{"a delete through ip", func(*Snapshot) {
			ipn(t, ns, "xfrm", "policy", "delete", "src", "10.202.0.0/16", "dst", "10.203.0.0/16", "dir", "out", "if_id", "7")
		}, replace(12, eroute.Drop), 1},
		{"a second Apply", func(s *Snapshot) {
			if err := s.Apply(adds(genEroute(902))); err != nil {
				t.Fatal(err)
			}
		}, replace(16, eroute.Drop), 1},
		{"a target not where the snapshot saw it", func(s *Snapshot) {
			// As if the index had been taken by another policy: the
			// read-back finds no such policy there, and Apply dumps.
			key := selectorKey(genEroute(20).Selector)
			s.order[s.deletablePlaces([][5]uint64{key})[key]] += 8 << 20
		}, replace(20, eroute.Drop), 1},
		{"a clear", func(*Snapshot) {}, []Op{{Kind: eroute.OpClear}}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustSnapshot(t, tb)
			defer s.Close()
			c.meanwhile(s)
			before := tb.c.dumps
			if err := s.Apply(c.ops); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := tb.c.dumps - before; got != c.dumps {
				t.Errorf("Apply dumped %d times, want %d", got, c.dumps)
			}
		})
	}
}

// deletableTwin tells whether another record of the selector of record i
// is deletable: a selector the undo table holds twice (a mark, an if_id)
// has one deletable policy at most.
func deletableTwin(s *Snapshot, i int) bool {
	for j := range s.recs {
		if j != i && s.recs[j].key == s.recs[i].key && s.recs[j].flags&recDeletable != 0 {
			return true
		}
	}
	return false
}

func mustAdd(t *testing.T, tb *Table, e eroute.Eroute) {
	t.Helper()
	if err := tb.Add(e); err != nil {
		t.Fatalf("Add(%v): %v", e, err)
	}
}

// TestKernelSnapshotEach: Each gives every entry Entry gives, in the
// dump's order, without sorting the snapshot.
func TestKernelSnapshotEach(t *testing.T) {
	tb, _ := undoTable(t)
	s := mustSnapshot(t, tb)
	defer s.Close()
	var each []Entry
	s.Each(func(e Entry) { each = append(each, e) })
	inversions := 0
	for i := 1; i < len(s.recs); i++ {
		if s.recs[i].pos <= s.recs[i-1].pos {
			t.Fatalf("after Each, record %d is at %d, after %d: Each sorted the snapshot", i, s.recs[i].pos, s.recs[i-1].pos)
		}
		if less(&s.recs[i], &s.recs[i-1]) {
			inversions++
		}
	}
	if inversions == 0 {
		t.Fatal("the dump came in List's order: the test cannot tell Each's order from Entry's")
	}
	if len(each) != s.Len() {
		t.Fatalf("Each gave %d entries, Len is %d", len(each), s.Len())
	}
	sorted := make([]Entry, s.Len())
	for i := range sorted {
		sorted[i] = s.Entry(i)
	}
	key := func(e Entry) string { return fmt.Sprintf("%v %v %d", e.Eroute, e.Deletable, e.Index) }
	a, b := make([]string, len(each)), make([]string, len(sorted))
	for i := range each {
		a[i], b[i] = key(each[i]), key(sorted[i])
	}
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		t.Errorf("Each gave\n%s\nEntry gives\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}
