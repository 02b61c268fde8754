package xfrm

import (
	"cmp"
	"net/netip"
	"runtime"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// record is one listed policy as the listing keeps it while it sorts: 64
// bytes, no pointers (the garbage collector never scans a table of them),
// against about 112 for an eroute.Eroute and several hundred for a Policy
// with its templates. A listing of 100,000 eroutes holds 6.4 MB of them.
type record struct {
	// key is the selector's eroute.Key as five big-endian words:
	// comparing the words in order compares the selectors as
	// eroute.Compare does.
	key     [5]uint64
	saidDst [16]byte // the SAID's address: 4 or 16 bytes by saidFam
	spi     uint32
	pos     uint32 // place in the kernel's dump: the last tie-break
	proto   eroute.Proto
	saidFam uint8  // 0 no address, 4, 6
	flags   uint8  // recOwn, recDeletable, recMonitorHold, recGroup
	index   uint32 // the kernel's index of the policy (in the padding: still 72 bytes)
}

const (
	recOwn         = 1 << iota // eroute wrote the policy
	recDeletable               // Delete by its selector finds it
	recMonitorHold             // a monitor's hold (isMonitorHold; own)
	recGroup                   // its SAID is an SA group's head (groupTemplates)
)

// recordOf packs an eroute; flags as above.
func recordOf(e eroute.Eroute, flags uint8, pos uint32) record {
	k := e.Selector.Key()
	r := record{spi: e.SAID.SPI, proto: e.SAID.Proto, pos: pos, flags: flags}
	for i := range r.key {
		r.key[i] = be.Uint64(k[8*i:])
	}
	switch a := e.SAID.Dst; {
	case a.Is4():
		r.saidFam = 4
		a4 := a.As4()
		copy(r.saidDst[:], a4[:])
	case a.Is6():
		r.saidFam = 6
		r.saidDst = a.As16()
	}
	return r
}

// eroute unpacks the record (Count 0).
func (r *record) eroute() eroute.Eroute {
	var k [40]byte
	for i, w := range r.key {
		be.PutUint64(k[8*i:], w)
	}
	var e eroute.Eroute
	if k[0] == 0 {
		e.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte(k[1:5])), int(k[17]))
		e.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte(k[18:22])), int(k[34]))
	} else {
		e.Src = netip.PrefixFrom(netip.AddrFrom16([16]byte(k[1:17])), int(k[17]))
		e.Dst = netip.PrefixFrom(netip.AddrFrom16([16]byte(k[18:34])), int(k[34]))
	}
	e.Proto = k[35]
	e.SrcPort = be.Uint16(k[36:])
	e.DstPort = be.Uint16(k[38:])
	e.SAID = r.said()
	return e
}

func (r *record) said() eroute.SAID {
	s := eroute.SAID{Proto: r.proto, SPI: r.spi}
	switch r.saidFam {
	case 4:
		s.Dst = netip.AddrFrom4([4]byte(r.saidDst[:4]))
	case 6:
		s.Dst = netip.AddrFrom16(r.saidDst)
	}
	return s
}

// compareRecords orders as List always has: by selector (eroute.Compare),
// then by the SAID's text; then, so that the order never depends on the
// sort, eroute's own and deletable policies first, then the kernel's order.
func compareRecords(a, b *record) int {
	for i := range a.key {
		if a.key[i] != b.key[i] {
			return cmp.Compare(a.key[i], b.key[i])
		}
	}
	if a.proto != b.proto || a.spi != b.spi || a.saidFam != b.saidFam || a.saidDst != b.saidDst {
		// Rare: one selector, several policies (marks, if_ids).
		if c := strings.Compare(a.said().String(), b.said().String()); c != 0 {
			return c
		}
	}
	return cmp.Or(cmp.Compare(b.flags, a.flags), cmp.Compare(a.pos, b.pos))
}

// less orders records by compareRecords, with the common case, keys that
// differ, inline.
func less(a, b *record) bool {
	for i := range a.key {
		if a.key[i] != b.key[i] {
			return a.key[i] < b.key[i]
		}
	}
	return compareRecords(a, b) < 0
}

// sortRecords sorts by less: an introsort (quicksort with a median of
// three, insertion sort for short ranges, heapsort past a depth limit)
// written for records, because slices.SortFunc passes each 64-byte record
// to the comparison by value and costs twice as much here.
//
// From parallelFrom records on, with more than one core, the two sides of
// the first partition are sorted at once (the order is the same: less is
// a total order).
func sortRecords(rs []record) {
	depth := sortDepth(len(rs))
	if len(rs) < parallelFrom || runtime.GOMAXPROCS(0) < 2 {
		quickSort(rs, depth)
		return
	}
	p := partition(rs)
	done := make(chan struct{})
	go func() {
		quickSort(rs[:p], depth-1)
		close(done)
	}()
	quickSort(rs[p+1:], depth-1)
	<-done
}

// parallelFrom is the number of records from which the listing sorts and
// writes them on two goroutines: below it, the goroutine costs more than
// it gains. A variable for the tests.
var parallelFrom = 16384

func quickSort(rs []record, depth int) {
	for len(rs) > 12 {
		if depth == 0 {
			heapSort(rs)
			return
		}
		depth--
		p := partition(rs)
		// Recurse into the smaller side, loop on the larger.
		if p < len(rs)-p {
			quickSort(rs[:p], depth)
			rs = rs[p+1:]
		} else {
			quickSort(rs[p+1:], depth)
			rs = rs[:p]
		}
	}
	insertionSort(rs)
}

// partition puts a median of three at its place and gives that place.
func partition(rs []record) int {
	n := len(rs)
	m := n / 2
	if less(&rs[m], &rs[0]) {
		rs[m], rs[0] = rs[0], rs[m]
	}
	if less(&rs[n-1], &rs[0]) {
		rs[n-1], rs[0] = rs[0], rs[n-1]
	}
	if less(&rs[n-1], &rs[m]) {
		rs[n-1], rs[m] = rs[m], rs[n-1]
	}
	// rs[0] <= rs[m] <= rs[n-1]: the pivot goes to n-2.
	rs[m], rs[n-2] = rs[n-2], rs[m]
	pivot := &rs[n-2]
	i, j := 0, n-2
	for {
		for i++; less(&rs[i], pivot); i++ {
		}
		for j--; less(pivot, &rs[j]); j-- {
		}
		if i >= j {
			break
		}
		rs[i], rs[j] = rs[j], rs[i]
	}
	rs[i], rs[n-2] = rs[n-2], rs[i]
	return i
}

func insertionSort(rs []record) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && less(&rs[j], &rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func heapSort(rs []record) {
	n := len(rs)
	for i := n/2 - 1; i >= 0; i-- {
		siftDown(rs, i, n)
	}
	for end := n - 1; end > 0; end-- {
		rs[0], rs[end] = rs[end], rs[0]
		siftDown(rs, 0, end)
	}
}

func siftDown(rs []record, root, end int) {
	for {
		child := 2*root + 1
		if child >= end {
			return
		}
		if child+1 < end && less(&rs[child], &rs[child+1]) {
			child++
		}
		if !less(&rs[root], &rs[child]) {
			return
		}
		rs[root], rs[child] = rs[child], rs[root]
		root = child
	}
}
