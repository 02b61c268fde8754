package slotindex

import (
	"math/rand/v2"
	"testing"
)

// TestIndex: with hashes that collide on nearly every key (all 64 bits,
// or the top 32 a slot keeps), Find still gives exactly a place of the
// key asked for, and -1 for a key no place has.
func TestIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, hash := range []func(k int) uint64{
		func(k int) uint64 { return uint64(k % 3) },                  // equal tags, few slots
		func(k int) uint64 { return uint64(k%2)<<32 | 5 },            // equal first slot
		func(k int) uint64 { return uint64(k) * 0x9e3779b97f4a7c15 }, // spread
	} {
		keys := make([]int, 500)
		x := New(len(keys))
		for p := range keys {
			keys[p] = r.IntN(300)
			hs := []uint64{hash(keys[p])}
			x.ReadAhead(hs)
			x.Insert(hs[0], p)
		}
		for k := 0; k < 320; k++ {
			has := false
			for _, kk := range keys {
				has = has || kk == k
			}
			p := x.Find(hash(k), func(p int) bool { return keys[p] == k })
			switch {
			case !has && p != -1:
				t.Fatalf("Find(%d) = %d, no place has it", k, p)
			case has && (p < 0 || keys[p] != k):
				t.Fatalf("Find(%d) = %d, want a place of it", k, p)
			}
		}
	}
}
