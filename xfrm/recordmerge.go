package xfrm

import "slices"

// The listing sorts its records while the dump comes in: the kernel's part
// of a dump (building the messages, inside the reading goroutine's
// recvmsg) is most of its time, and the goroutine that decodes the
// messages waits for it four fifths of the time. Each chunk of sortChunk
// records is sorted by a goroutine of its own as soon as it is complete;
// once the dump ends, the sorted chunks are merged, the smaller half from
// the front and the larger half from the back at once (less is a total
// order: the halves cannot overlap).

// sortChunk is the number of records sorted at a time during a dump.
const sortChunk = 16384

// chunkSortFrom is the table size from which a dump's records are sorted
// chunk by chunk (with more than one core). A variable for the tests.
var chunkSortFrom = 2 * sortChunk

// chunkSorter sorts the chunks of a growing slice of records.
type chunkSorter struct {
	todo chan []record
	done chan struct{}
	ends []int // where each chunk handed over ends
}

func newChunkSorter() *chunkSorter {
	cs := &chunkSorter{todo: make(chan []record, 64), done: make(chan struct{})}
	go func() {
		var scratch []record
		for rs := range cs.todo {
			scratch = sortChunkOf(rs, scratch)
		}
		close(cs.done)
	}()
	return cs
}

// maxRuns is the most runs a chunk is merged from rather than sorted.
const maxRuns = 8

// sortChunkOf sorts rs. A table eroute loaded comes back from the kernel
// in long runs (the kernel dumps the newest first, and a batch sends its
// adds in order of prefix length, then in the file's order): a chunk of a
// few runs, ascending or descending, is merged from them in a pass or
// three, through scratch, which it gives back for the next chunk; any
// other is quicksorted.
func sortChunkOf(rs, scratch []record) []record {
	ends, ok := runsOf(rs)
	if !ok {
		quickSort(rs, sortDepth(len(rs)))
		return scratch
	}
	if len(ends) <= 1 {
		return scratch
	}
	if cap(scratch) < len(rs) {
		scratch = make([]record, len(rs))
	}
	src, dst := rs, scratch[:len(rs)]
	for len(ends) > 1 {
		merged := ends[:0]
		start := 0
		for i := 0; i < len(ends); i += 2 {
			if i+1 == len(ends) { // the odd run out
				copy(dst[start:ends[i]], src[start:ends[i]])
				merged = append(merged, ends[i])
				break
			}
			mergeRuns(dst[start:ends[i+1]], src[start:ends[i]], src[ends[i]:ends[i+1]])
			merged = append(merged, ends[i+1])
			start = ends[i+1]
		}
		ends = merged
		src, dst = dst, src
	}
	if &src[0] != &rs[0] {
		copy(rs, src)
	}
	return scratch
}

// runsOf turns the descending runs of rs around and gives where its runs
// end; false, with rs only partly turned, when there are more than
// maxRuns.
func runsOf(rs []record) ([]int, bool) {
	var ends []int
	for i := 0; i < len(rs); {
		j := i + 1
		if j < len(rs) && less(&rs[j], &rs[i]) {
			for j < len(rs) && less(&rs[j], &rs[j-1]) {
				j++
			}
			slices.Reverse(rs[i:j])
		} else {
			for j < len(rs) && !less(&rs[j], &rs[j-1]) {
				j++
			}
		}
		if ends = append(ends, j); len(ends) > maxRuns {
			return nil, false
		}
		i = j
	}
	return ends, true
}

// mergeRuns merges the sorted a and b into out.
func mergeRuns(out, a, b []record) {
	i, j := 0, 0
	for k := range out {
		if j == len(b) || i < len(a) && !less(&b[j], &a[i]) {
			out[k] = a[i]
			i++
		} else {
			out[k] = b[j]
			j++
		}
	}
}

// handOver sorts rs[from:to], a chunk that no one changes any more.
func (cs *chunkSorter) handOver(rs []record, from, to int) {
	cs.todo <- rs[from:to]
	cs.ends = append(cs.ends, to)
}

// wait waits for every chunk handed over to be sorted.
func (cs *chunkSorter) wait() {
	close(cs.todo)
	<-cs.done
}

// sortDepth is the depth past which quickSort turns to heapsort.
func sortDepth(n int) int {
	depth := 0
	for ; n > 0; n >>= 1 {
		depth += 2
	}
	return depth
}

// mergeOrder gives the sorted order of rs, whose chunks ending at ends
// (the last at len(rs)) are each sorted: the index in rs of each record in
// turn.
func mergeOrder(rs []record, ends []int) []uint32 {
	order := make([]uint32, len(rs))
	half := len(rs) / 2
	done := make(chan struct{})
	go func() {
		mergeHalf(rs, ends, order[:half], false)
		close(done)
	}()
	mergeHalf(rs, ends, order[half:], true)
	<-done
	return order
}

// mergeHalf fills out with the indices of the len(out) smallest records of
// the chunks in order, or with back of the len(out) largest, from out's
// end: a binary heap of the chunks' cursors, the next record to take on
// top.
func mergeHalf(rs []record, ends []int, out []uint32, back bool) {
	type cursor struct{ at, stop int } // the next record, and where the chunk is done
	h := make([]cursor, 0, len(ends))
	step, start := 1, 0
	if back {
		step = -1
	}
	for _, end := range ends {
		switch {
		case start == end:
		case back:
			h = append(h, cursor{end - 1, start - 1})
		default:
			h = append(h, cursor{start, end})
		}
		start = end
	}
	// first tells whether cursor a's record goes out before cursor b's.
	first := func(a, b int) bool {
		if back {
			return less(&rs[h[b].at], &rs[h[a].at])
		}
		return less(&rs[h[a].at], &rs[h[b].at])
	}
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && first(c+1, c) {
				c++
			}
			if !first(c, i) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	i, last := 0, len(out)
	if back {
		i, last = len(out)-1, -1
	}
	for ; i != last; i += step {
		out[i] = uint32(h[0].at)
		if h[0].at += step; h[0].at == h[0].stop {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
	}
}
