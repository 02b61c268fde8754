package xfrm

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// TestMergeChunks: sorted chunks of every layout (empty ones, one record,
// odd sizes) merge into what one sort gives.
func TestMergeChunks(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	for _, n := range []int{0, 1, 2, 3, 10, 1000, 5001} {
		src := shuffledRecords(n)
		want := slices.Clone(src)
		sortRecords(want)
		for layout := range 20 {
			rs := slices.Clone(src)
			var ends []int
			for end := 0; end < n; {
				end = min(n, end+rnd.Intn(n/(layout+1)+2))
				if layout%3 == 0 && rnd.Intn(4) == 0 {
					ends = append(ends, end) // an empty chunk
				}
				ends = append(ends, end)
			}
			start := 0
			for _, end := range ends {
				sortRecords(rs[start:end])
				start = end
			}
			if got := inOrder(rs, mergeOrder(rs, ends)); !slices.Equal(got, want) {
				t.Fatalf("%d records in chunks ending at %v: merged out of order", n, ends)
			}
		}
	}
}

// TestSortChunkOf: chunks of runs (ascending, descending, one record
// long, up to and past maxRuns) and of none sort as sortRecords sorts.
func TestSortChunkOf(t *testing.T) {
	rnd := rand.New(rand.NewSource(11))
	var scratch []record
	for _, n := range []int{0, 1, 2, 3, 17, 1000, 4099} {
		sorted := shuffledRecords(n)
		sortRecords(sorted)
		for runs := 1; runs <= maxRuns+2; runs++ {
			for trial := range 4 {
				// Deal the sorted records into runs, each ascending or
				// descending, then lay the runs end to end.
				deal := make([][]record, runs)
				for _, r := range sorted {
					k := rnd.Intn(runs)
					deal[k] = append(deal[k], r)
				}
				var rs []record
				for k, run := range deal {
					if (k+trial)%2 == 1 {
						slices.Reverse(run)
					}
					rs = append(rs, run...)
				}
				scratch = sortChunkOf(rs, scratch)
				if !slices.Equal(rs, sorted) {
					t.Fatalf("%d records in %d runs (trial %d): not sorted", n, runs, trial)
				}
			}
		}
		rs := shuffledRecords(n)
		scratch = sortChunkOf(rs, scratch)
		if !slices.Equal(rs, sorted) {
			t.Fatalf("%d records shuffled: not sorted", n)
		}
	}
}

// TestChunkSortedScan: a scan that sorts its chunks as the records come
// (also one whose table grew past the kernel's count, which stops doing
// so) gives the records and order of one that sorts them at the end.
func TestChunkSortedScan(t *testing.T) {
	msgs := benchMessages(3*sortChunk + 5)
	rand.New(rand.NewSource(3)).Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	for _, room := range []int{len(msgs), 2 * sortChunk} { // the kernel's count: right, too low
		for _, keepOrder := range []bool{false, true} {
			scan := func(chunked bool) recordDump {
				s := &recordScan{keepOrder: keepOrder}
				s.d.recs = make([]record, 0, room)
				if chunked {
					s.sorter = newChunkSorter()
				}
				for i, m := range msgs {
					ne.PutUint32(m[offPolicyIndex:], uint32(i+1))
					s.add(msgNewPolicy, m)
				}
				if ends := s.sorted(); ends != nil {
					if room < len(msgs) {
						t.Errorf("room for %d: the chunks were sorted in a slice that moved", room)
					}
					s.d.recs = inOrder(s.d.recs, mergeOrder(s.d.recs, ends))
				} else {
					sortRecords(s.d.recs)
				}
				return s.d
			}
			got, want := scan(true), scan(false)
			if !slices.Equal(got.recs, want.recs) || !slices.Equal(got.order, want.order) {
				t.Errorf("room %d, keepOrder %v: chunk sorted records differ", room, keepOrder)
			}
		}
	}
}

// inOrder gives the records of rs in the order mergeOrder gave.
func inOrder(rs []record, order []uint32) []record {
	out := make([]record, len(order))
	for i, j := range order {
		out[i] = rs[j]
	}
	return out
}

// TestFakeKernelChunkSorted: the listing of a table large enough to sort
// chunk by chunk is the one it gives sorting at the end: eroutes with
// foreign policies of the same selectors (ties broken by the SAID and the
// dump's order), and with foreign policies only the SAs can read, which
// are sorted again once read.
func TestFakeKernelChunkSorted(t *testing.T) {
	defer func(old int) { chunkSortFrom = old }(chunkSortFrom)
	for _, unnamed := range []bool{false, true} {
		tb, _ := chunkSortTable(unnamed).table()
		sorted := func() ([]record, bool) {
			l, err := tb.listing()
			if err != nil {
				t.Fatal(err)
			}
			rs := make([]record, len(l.recs))
			for i := range rs {
				rs[i] = *l.at(i)
			}
			return rs, l.order != nil
		}
		text := func() string {
			var b strings.Builder
			if err := tb.WriteListing(&b); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
		chunked, merged := sorted()
		chunkedText := text()
		chunkSortFrom = 1 << 30
		whole, _ := sorted()
		wholeText := text()
		chunkSortFrom = 2 * sortChunk
		if merged == unnamed {
			t.Errorf("unnamed %v: merged %v", unnamed, merged)
		}
		if !slices.Equal(chunked, whole) {
			t.Errorf("unnamed %v: chunk sorted records differ", unnamed)
		}
		if chunkedText != wholeText {
			t.Errorf("unnamed %v: the listing's text differs when chunk sorted", unnamed)
		}
		if len(whole) < 2*sortChunk {
			t.Errorf("%d records: too few to be sorted chunk by chunk", len(whole))
		}
	}
}

// chunkSortTable gives a fake kernel's table of eroutes, shuffled, with
// eroutes' selectors under a mark; with unnamed also foreign policies
// whose templates name no SPI, one of which turns the SAIDs' order (see
// below).
func chunkSortTable(unnamed bool) *fakeKernel {
	k := newFakeKernel()
	k.perDatagram = 250
	for i := range chunkSortFrom + 1000 {
		if i == 12 {
			continue // the eroute of the trap below
		}
		k.policies = append(k.policies, PolicyOf(genEroute(i)))
	}
	for i := range 50 { // eroutes of esp0x... SAIDs, under a mark
		p := PolicyOf(genEroute(11*i + 6))
		p.Mark, p.Mask = uint32(i+1), 0xff
		k.policies = append(k.policies, p)
	}
	if unnamed {
		k.policies = append(k.policies, foreignTestPolicies()...)
	}
	rand.New(rand.NewSource(5)).Shuffle(len(k.policies), func(i, j int) { k.policies[i], k.policies[j] = k.policies[j], k.policies[i] })
	// A foreign policy listed as esp0x0@0.0.0.0 until the SAs make it a
	// %trap, beside an eroute of the same selector listed as ah...: the
	// SAIDs' order turns once the SAs are read, within one chunk.
	own := genEroute(12)
	own.SAID = eroute.SAID{Proto: eroute.ProtoAH, SPI: 0x200, Dst: own.Dst.Addr()}
	k.policies = append(k.policies, PolicyOf(own))
	if unnamed {
		trap := PolicyOf(eroute.Eroute{Selector: own.Selector, SAID: eroute.Trap})
		trap.Mark, trap.Mask, trap.Priority = 3, 0xff, 100
		k.policies = append(k.policies, trap)
	}
	for i := range k.policies {
		k.policies[i].Index = uint32(8 * (i + 1))
	}
	return k
}
