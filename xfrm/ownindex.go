package xfrm

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
)

// ownIndex remembers, for each of eroute's own outbound policies in the
// table, what it takes to write it again given its selector: its kind,
// and for an SA eroute its SAID. It is keyed by the kernel's policy index,
// which the kernel keeps when a policy is replaced by selector: a
// foreign policy that arrives with the index of an own eroute took that
// eroute's place.
//
// It is small for a large table: a sorted slice of 8-byte entries (index,
// ref) read from one dump, changes since in a map that is merged back when
// it grows, and the SAIDs of SA eroutes packed in one byte slice (10 bytes
// an IPv4 SAID, 22 an IPv6 one; a SAID the previous entry has is not
// stored twice). A 1,000,000-eroute table of IPv4 tun eroutes takes about
// 18 MB; of magic eroutes 8 MB.
type ownIndex struct {
	base    []uint64          // index<<32 | ref, sorted
	overlay map[uint32]uint32 // index -> ref, or refGone; wins over base
	saids   []byte            // packed SAIDs of SA eroutes (see putSAID)
	last    uint32            // the ref of the SAID put last, refNone if none
	live    int               // entries, as len would give
}

// A ref is either a kind (refKind set) or the offset of a packed SAID.
const (
	refKind uint32 = 1 << 31
	refGone uint32 = 1<<32 - 1 // in overlay: deleted since base
	refNone uint32 = 1<<32 - 2
)

func newOwnIndex(capacity int) *ownIndex {
	return &ownIndex{base: make([]uint64, 0, capacity), overlay: map[uint32]uint32{}, last: refNone}
}

// refOf packs what an own eroute of kind k with SAID s needs.
func (x *ownIndex) refOf(s eroute.SAID, k kind) uint32 {
	if k != kindSA {
		return refKind | uint32(k)
	}
	var buf [22]byte
	b := append(buf[:0], uint8(s.Proto))
	b = binary.BigEndian.AppendUint32(b, s.SPI)
	a := s.Dst.AsSlice()
	b = append(b, uint8(len(a)))
	b = append(b, a...)
	if x.last != refNone && int(x.last)+len(b) <= len(x.saids) && string(x.saids[x.last:int(x.last)+len(b)]) == string(b) {
		return x.last
	}
	x.last = uint32(len(x.saids))
	x.saids = append(x.saids, b...)
	return x.last
}

// saidOf unpacks a ref.
func (x *ownIndex) saidOf(ref uint32) eroute.SAID {
	if ref&refKind != 0 {
		return kindSAIDs[ref&^refKind]
	}
	b := x.saids[ref:]
	s := eroute.SAID{Proto: eroute.Proto(b[0]), SPI: binary.BigEndian.Uint32(b[1:])}
	s.Dst, _ = netip.AddrFromSlice(b[6 : 6+int(b[5])])
	return s
}

// appendBase adds an entry while the index is built from a dump; sortBase
// ends the building.
func (x *ownIndex) appendBase(index, ref uint32) {
	x.base = append(x.base, uint64(index)<<32|uint64(ref))
}

func (x *ownIndex) sortBase() {
	slices.Sort(x.base)
	x.base = slices.CompactFunc(x.base, func(a, b uint64) bool { return a>>32 == b>>32 })
	x.live = len(x.base)
}

func (x *ownIndex) baseRef(index uint32) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(x.base, index, func(e uint64, t uint32) int {
		return cmpUint32(uint32(e>>32), t)
	})
	if !ok {
		return 0, false
	}
	return uint32(x.base[i]), true
}

func cmpUint32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// get gives the eroute SAID of the own policy index, if it is one.
func (x *ownIndex) get(index uint32) (eroute.SAID, bool) {
	ref, ok := x.overlay[index]
	if !ok {
		ref, ok = x.baseRef(index)
	}
	if !ok || ref == refGone {
		return eroute.SAID{}, false
	}
	return x.saidOf(ref), true
}

func (x *ownIndex) has(index uint32) bool {
	_, ok := x.get(index)
	return ok
}

// set records the own policy index, of SAID s and kind k.
func (x *ownIndex) set(index uint32, s eroute.SAID, k kind) {
	if !x.has(index) {
		x.live++
	}
	x.overlay[index] = x.refOf(s, k)
	x.compactIfBig()
}

// remove forgets the policy index.
func (x *ownIndex) remove(index uint32) {
	if !x.has(index) {
		return
	}
	x.live--
	if _, inBase := x.baseRef(index); inBase {
		x.overlay[index] = refGone
	} else {
		delete(x.overlay, index)
	}
	x.compactIfBig()
}

// len is the number of own policies known.
func (x *ownIndex) len() int { return x.live }

// compactIfBig merges the overlay into the base once it holds more than
// half the base (and at least 1024): each merge is linear, and the base at
// least doubles between two merges driven by additions.
func (x *ownIndex) compactIfBig() {
	if len(x.overlay) < max(1024, len(x.base)/2) {
		return
	}
	merged := newOwnIndex(x.live)
	for _, e := range x.base {
		index := uint32(e >> 32)
		if _, changed := x.overlay[index]; !changed {
			merged.appendBase(index, merged.repack(x, uint32(e)))
		}
	}
	for index, ref := range x.overlay {
		if ref != refGone {
			merged.appendBase(index, merged.repack(x, ref))
		}
	}
	merged.sortBase()
	*x = *merged
}

// repack copies a ref of another index into this one.
func (x *ownIndex) repack(from *ownIndex, ref uint32) uint32 {
	if ref&refKind != 0 {
		return ref
	}
	return x.refOf(from.saidOf(ref), kindSA)
}
