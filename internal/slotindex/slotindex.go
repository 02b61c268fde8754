// Package slotindex is a hash index of places in a slice (0 to 2^32-2),
// for the large tables eroute compares (--sync's file and snapshot, a
// batch's repeated selectors): open addressing over 64-bit hashes, at
// most half full, 8 to 16 bytes a place. The caller keeps the keys and
// hashes them; a slot holds the top 32 bits of the hash and the place
// (+1: 0 is an empty slot), so one read of memory tells a slot that cannot
// match, and the caller's key is compared only behind equal bits.
//
// The slots are read at random, and a read that misses the caches waits
// for memory (about 60 ns on the development VM: most of the time of an
// insert or a look-up). ReadAhead reads the first slots of a group of
// hashes in a loop of nothing else, where the processor overlaps the
// reads, so that the inserts and look-ups after it find them in the cache.
package slotindex

// Index is the table of places by hash. ReadAhead and Find may be called
// from several goroutines at once; Insert may not.
type Index struct {
	slots []uint64
	mask  uint64
}

// New makes an index for up to n places.
func New(n int) *Index {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	// The slots are written before anything reads them: a page of fresh
	// memory read first is mapped to the kernel's zero page, and the
	// first write to it then copies it and flushes the other cores'
	// TLBs, an interrupt to each (on the development VM those interrupts
	// were a third of a --sync's system time).
	slots := make([]uint64, size)
	clear(slots)
	return &Index{slots: slots, mask: uint64(size - 1)}
}

// ReadAhead reads the first slot of each of hashes. It is never inlined,
// and gives what it read, so that the reads cannot be left out as unused;
// it writes nothing, so goroutines that share the index may call it.
//
//go:noinline
func (x *Index) ReadAhead(hashes []uint64) uint64 {
	var sum uint64
	for _, h := range hashes {
		sum += x.slots[h&x.mask]
	}
	return sum
}

// Insert adds place p under hash h; it does not look for an equal key.
func (x *Index) Insert(h uint64, p int) {
	j := h & x.mask
	for x.slots[j] != 0 {
		j = (j + 1) & x.mask
	}
	x.slots[j] = h&^0xffffffff | uint64(p+1)
}

// Find gives the first place under a hash equal to h in its top 32 bits
// for which same (the caller's comparison of keys) is true, or -1.
func (x *Index) Find(h uint64, same func(p int) bool) int {
	tag := h &^ 0xffffffff
	for j := h & x.mask; ; j = (j + 1) & x.mask {
		s := x.slots[j]
		switch {
		case s == 0:
			return -1
		case s&^0xffffffff == tag:
			if p := int(s&0xffffffff) - 1; same(p) {
				return p
			}
		}
	}
}
