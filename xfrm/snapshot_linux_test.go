package xfrm

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math/rand/v2"
	"reflect"
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

// TestKernelSnapshotMatch: Match finds the deletable policy of each
// selector named, and gives the rest of the deletable ones, whether the
// snapshot was indexed before or after Entry sorted it.
func TestKernelSnapshotMatch(t *testing.T) {
	tb, _ := undoTable(t)
	for _, c := range []struct {
		name  string
		setUp func(*Snapshot)
	}{
		{"fresh", func(*Snapshot) {}},
		{"indexed, then sorted", func(s *Snapshot) { s.IndexSelectors(); s.Entry(0) }},
		{"sorted, then indexed", func(s *Snapshot) { s.Entry(0); s.IndexSelectors() }},
		{"looked up in two halves", func(*Snapshot) { matchParallel = 2 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func(n int) { matchParallel = n }(matchParallel)
			s := mustSnapshot(t, tb)
			defer s.Close()
			c.setUp(s)
			entries := make([]Entry, s.Len())
			for i := range entries {
				entries[i] = s.Entry(i)
			}
			// Every other entry's selector, and one no policy has.
			var sels []eroute.Selector
			for i := 0; i < len(entries); i += 2 {
				sels = append(sels, entries[i].Selector)
			}
			sels = append(sels, genEroute(5000).Selector)
			got := map[string]bool{}
			key := func(e Entry) string { return fmt.Sprintf("%v %d", e.Eroute, e.Index) }
			byIndex := map[uint32]Entry{}
			for _, e := range entries {
				byIndex[e.Index] = e
			}
			repeats := s.Match(len(sels), func(i int) eroute.Selector { return sels[i] }, func(i int, e Entry) {
				if e.Selector != sels[i] || !e.Deletable {
					t.Errorf("selector %d (%v) found %v, deletable %v", i, sels[i], e.Selector, e.Deletable)
				}
				if want := byIndex[e.Index]; !reflect.DeepEqual(e, want) {
					t.Errorf("selector %d found %+v, Entry gives %+v", i, e, want)
				}
				got["found "+key(e)] = true
			}, func(e Entry) {
				got["rest "+key(e)] = true
			})
			want := map[string]bool{}
			for i, e := range entries {
				switch {
				case !e.Deletable:
				case i%2 == 0:
					want["found "+key(e)] = true
				default:
					want["rest "+key(e)] = true
				}
			}
			if !maps.Equal(got, want) {
				t.Errorf("Match gave %v, want %v", got, want)
			}
			if repeats {
				t.Error("Match reports a policy named twice; no selector was")
			}
			// The first selector again, at the end: named twice.
			sels = append(sels, sels[0])
			calls := 0
			repeats = s.Match(len(sels), func(i int) eroute.Selector { return sels[i] }, func(i int, e Entry) {
				if i == len(sels)-1 {
					calls++
				}
			}, func(Entry) {})
			if !repeats || calls != 1 {
				t.Errorf("a selector given twice: Match reports %v, found the second %d times", repeats, calls)
			}
		})
	}
}

// TestRecordIndexCollisions: with a hash that collides on nearly every
// key, the index still finds exactly the deletable record of each key.
func TestRecordIndexCollisions(t *testing.T) {
	defer func(h func(maphash.Seed, [5]uint64) uint64) { hashRecordKey = h }(hashRecordKey)
	hashRecordKey = func(_ maphash.Seed, k [5]uint64) uint64 { return k[0]&3<<32 | k[0]>>8&1 }
	r := rand.New(rand.NewPCG(7, 8))
	recs := make([]record, 300)
	for k := range recs {
		recs[k].key = [5]uint64{uint64(r.IntN(40)), uint64(r.IntN(3))}
		if r.IntN(3) > 0 {
			recs[k].flags = recDeletable
		}
	}
	x := newRecordIndex(recs)
	for a := 0; a < 40; a++ {
		for b := 0; b < 3; b++ {
			key := [5]uint64{uint64(a), uint64(b)}
			want := -1
			for k := range recs {
				if recs[k].key == key && recs[k].flags&recDeletable != 0 {
					want = k
				}
			}
			got := x.find(recs, &key, x.hash(&key))
			switch {
			case want < 0 && got != -1:
				t.Errorf("find(%v) = %d, no deletable record has it", key, got)
			case want >= 0 && (got < 0 || recs[got].key != key || recs[got].flags&recDeletable == 0):
				t.Errorf("find(%v) = %d, want a deletable record of it (%d)", key, got, want)
			}
		}
	}
}

// BenchmarkSnapshotMatch is what --sync's plan asks of a snapshot of
// 100,000 eroutes: index them, look up the 100,000 selectors of a file
// that differs in 1% of them, and give the rest. The kernel dumps the
// newest policy first, so a table made from the file comes in the file's
// order backwards ("dump"); "shuffled" is a table made in an order of
// its own, every look-up a miss of the caches.
func BenchmarkSnapshotMatch(b *testing.B) {
	const n = 100000
	var recs []record
	for i := n - 1; i >= 0; i-- {
		if i%400 != 1 {
			recs = append(recs, recordOf(genEroute(i), recOwn|recDeletable, uint32(n-1-i)))
		}
	}
	sels := make([]eroute.Selector, n)
	for i := range sels {
		sels[i] = genEroute(i).Selector
		if i%200 == 0 {
			sels[i] = genEroute(n + i).Selector // not in the table
		}
	}
	match := func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s := &Snapshot{recs: recs}
			found, rest := 0, 0
			s.Match(n, func(i int) eroute.Selector { return sels[i] }, func(int, Entry) { found++ }, func(Entry) { rest++ })
			if found < n*98/100 || rest == 0 {
				b.Fatalf("found %d, rest %d", found, rest)
			}
		}
	}
	b.Run("dump", match)
	for i := range recs {
		j := (i * 7919) % len(recs)
		recs[i], recs[j] = recs[j], recs[i]
	}
	b.Run("shuffled", match)
}
