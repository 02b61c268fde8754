package xfrm

import (
	"hash/maphash"
	"runtime"
	"sync"

	"github.com/eroute/eroute/internal/slotindex"
	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// Snapshot is the table as one dump saw it, for a caller that reads the
// table, decides what to change and changes it (eroute --sync): its
// entries, sorted as List sorts them (Entry) or as the dump gave them
// (Each, Match), and what Apply needs to undo a batch, so that a large table is
// dumped once rather than twice.
//
// It holds 64 bytes a listed policy and 4 bytes a policy (6.8 MB for
// 100,000), and a socket that hears of every change to the policies after
// the dump: Apply trusts the snapshot only while none came (see
// ApplyFunc). Close releases the socket. A Snapshot is for one goroutine
// at a time.
type Snapshot struct {
	t    *Table
	recs []record // the listed policies: the dump's order until inListOrder sorts them
	// mu guards the records' order and the index, which the first
	// Entry (sorting) and the first Match or IndexSelectors make.
	mu      sync.Mutex
	sorted  bool
	index   *recordIndex       // by selector, of the records as they are ordered now
	order   []uint32           // every policy's index, in the kernel's order
	details map[uint32]*detail // the listed policies eroute did not make, monitor holds
	watch   *nlConn            // subscribed to policy changes; nil when refused
}

// Snapshot dumps the table. It listens for changes to the policies before
// it dumps, so that none can fall between the dump and the listening.
func (t *Table) Snapshot() (*Snapshot, error) {
	s := &Snapshot{t: t}
	if t.dial != nil { // the tests' fake kernel
		s.watch, _ = t.dial()
	} else {
		s.watch, _ = dialIn(t.netns, watchConfig)
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	d, err := c.records(true, false)
	if err != nil {
		s.Close()
		return nil, forReading(err)
	}
	s.recs, s.order, s.details = d.recs, d.order, d.details
	return s, nil
}

// watchConfig is a socket subscribed to the policy notifications: made,
// changed, deleted, flushed (XFRMNLGRP_POLICY) and expired
// (XFRMNLGRP_EXPIRE).
var watchConfig = dialConfig{proto: unix.NETLINK_XFRM, groups: 1<<(grpPolicy-1) | 1<<(grpExpire-1)}

// Close releases the snapshot's socket; the snapshot can still be read,
// and Apply then dumps the table as Table.Apply does.
// Only the first call does; later ones give what it gave.
func (s *Snapshot) Close() error {
	if s.watch == nil {
		return nil
	}
	return s.watch.close()
}

// current tells whether no policy changed since the dump: the socket has
// no notification of a policy queued, and lost none (ENOBUFS). SA
// notifications (SA expiries) are passed over. The reads go to buf.
func (s *Snapshot) current(buf []byte) bool {
	if s.watch == nil || s.watch.closed.Load() {
		return false
	}
	for {
		b, err := s.watch.recv(buf, unix.MSG_DONTWAIT)
		switch {
		case err != nil:
			return false
		case b == nil:
			return true
		}
		for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
			switch m.typ {
			case msgNewPolicy, msgDelPolicy, msgUpdPolicy, msgPolExpire, msgFlushPol:
				return false
			}
		}
	}
}

// Len is the number of listed policies.
func (s *Snapshot) Len() int { return len(s.recs) }

// Entry gives the listed policy i, in List's order (Count 0; for eroute's
// own, no Priority nor Tmpls: the listing's entries have them). The first
// call sorts the snapshot.
func (s *Snapshot) Entry(i int) Entry {
	r := &s.inListOrder()[i]
	return entryOfRecord(r, r.eroute(), s.details, false)
}

// Each calls fn with every listed policy, as Entry gives them but in no
// particular order (the dump's, unless Entry sorted them already): a
// caller that looks the policies up by selector needs no order, and for
// 100,000 policies the sort costs about 20 ms.
func (s *Snapshot) Each(fn func(Entry)) {
	for i := range s.recs {
		r := &s.recs[i]
		fn(entryOfRecord(r, r.eroute(), s.details, false))
	}
}

// inListOrder gives the records in List's order, sorting them the first
// time (an index of them is then made again when needed).
func (s *Snapshot) inListOrder() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.sorted {
		sortRecords(s.recs)
		s.sorted, s.index = true, nil
	}
	return s.recs
}

// Apply is ApplyFunc for a slice of ops.
func (s *Snapshot) Apply(ops []Op) error {
	return s.ApplyFunc(len(ops), func(i int) Op { return ops[i] })
}

// ApplyFunc is Table.ApplyFunc without the dump it takes first, when no
// policy changed since the snapshot: the snapshot gives the kernel's order
// of the policies, and the policies that Replace and Delete ops name are
// read again by their index (one pipelined run) so that an undo puts back
// what was there when the batch began. When a policy changed meanwhile (or
// the snapshot cannot tell), when a policy named is not where the snapshot
// saw it, and for a batch with a Clear, it dumps as Table.ApplyFunc does.
// The batch's own changes make the snapshot stale: it is closed.
func (s *Snapshot) ApplyFunc(n int, op func(i int) Op) error {
	return s.ApplyFuncUntil(nil, n, op)
}

// ApplyFuncUntil is ApplyFunc that stops early, and undoes, once stop is
// closed: see Table.ApplyFuncUntil.
func (s *Snapshot) ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error {
	defer s.Close()
	return s.t.apply(s, stop, n, op)
}

// deletablePlaces gives the place in the kernel's order of the deletable
// policy of each of keys (selectors' record keys) that the snapshot has:
// at most one a selector, since the kernel holds one policy per selector,
// direction, type, mark and if_id. It looks them up in the snapshot's
// index (made by --sync's IndexSelectors, or here): a pass over 100,000
// records with a map of the few keys a batch targets took 7 ms of a
// --sync's apply.
func (s *Snapshot) deletablePlaces(keys [][5]uint64) map[[5]uint64]uint32 {
	x := s.indexed()
	places := make(map[[5]uint64]uint32, len(keys))
	for i := range keys {
		if k := x.find(s.recs, &keys[i], x.hash(&keys[i])); k >= 0 {
			places[keys[i]] = s.recs[k].pos
		}
	}
	return places
}

// selectorKey is the record key of a selector (see record.key).
func selectorKey(sel eroute.Selector) [5]uint64 {
	k := sel.Key()
	var w [5]uint64
	for i := range w {
		w[i] = be.Uint64(k[8*i:])
	}
	return w
}

// replyRoom is what one answer to a GETPOLICY may take of the receive
// buffer: the kernel builds it in an skb of NLMSG_DEFAULT_SIZE (a page),
// whose truesize is under 8 KiB; 16 KiB leaves room to spare.
const replyRoom = 16 << 10

// fromSnapshot prepares the undo of a batch from a snapshot (see
// batch.snapshot for the dump it stands for): the order is the snapshot's,
// and each policy a Replace or Delete targets is read again by its index.
// Anything unexpected (a change since the snapshot, a target gone or not
// the same, answers lost) and it dumps instead.
func (b *batch) fromSnapshot(s *Snapshot) error {
	if !s.current(b.c.buffer()) {
		return b.snapshot()
	}
	b.snap = true
	b.order = s.order
	b.targets = map[eroute.Selector]int32{}
	b.raw = map[int32]span{}
	b.foreign = map[int32]bool{}
	fetch := b.targetsIn(s)
	if len(fetch) == 0 {
		return nil
	}
	got, err := b.fetchTargets(s, fetch)
	if err != nil {
		return err
	}
	if got != len(fetch) || !s.current(b.c.buffer()) {
		*b = batch{c: b.c, n: b.n, op: b.op}
		return b.snapshot()
	}
	return nil
}

// snapshotTarget is a policy of the snapshot a Replace or Delete targets,
// by its selector and its place in the snapshot.
type snapshotTarget struct {
	sel eroute.Selector
	pos int32
}

// targetsIn gives the policies of the snapshot the batch's Replaces and
// Deletes target, each once, in the order of the ops. Every selector they
// name starts in targets as -1, none; fetchTargets sets the place of
// those it finds.
func (b *batch) targetsIn(s *Snapshot) []snapshotTarget {
	var sels []eroute.Selector
	var keys [][5]uint64
	for i := 0; i < b.n; i++ {
		op := b.op(i)
		if op.Kind != eroute.OpReplace && op.Kind != eroute.OpDelete {
			continue
		}
		sel := op.Eroute.Selector
		if _, seen := b.targets[sel]; seen {
			continue
		}
		b.targets[sel] = -1
		sels, keys = append(sels, sel), append(keys, selectorKey(sel))
	}
	if len(sels) == 0 {
		return nil
	}
	places := s.deletablePlaces(keys)
	var fetch []snapshotTarget
	for i, sel := range sels {
		if pos, ok := places[keys[i]]; ok {
			fetch = append(fetch, snapshotTarget{sel, int32(pos)})
		}
	}
	return fetch
}

// fetchTargets reads each target again by its index, in one pipelined
// run, and keeps what the undo needs of it (its message, whether it is
// someone else's). It gives how many were found as the snapshot has them:
// fewer, and the snapshot is no longer the table.
func (b *batch) fetchTargets(s *Snapshot, fetch []snapshotTarget) (got int, err error) {
	r := b.c.newRun(replyRoom)
	var v policyView
	r.reply = func(tag int32, typ uint16, m []byte) {
		t := fetch[tag]
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil || v.Index != s.order[t.pos] || !v.deletable(t.sel) {
			return
		}
		b.targets[t.sel] = t.pos
		b.raw[t.pos] = keep(&b.arena, m)
		if _, own, _ := v.eroute(); !own {
			b.foreign[t.pos] = true
		}
		got++
	}
	for k, t := range fetch {
		p := Policy{Index: s.order[t.pos], Dir: DirOut, Type: TypeMain}
		r.buf = r.begin(msgGetPolicy, 0, int32(k))
		r.buf = appendPolicyID(r.buf, &p)
		if err := r.end(); err != nil {
			return got, kernelError(err, 0, nil)
		}
	}
	if err := r.finish(); err != nil {
		return got, kernelError(err, 0, nil)
	}
	return got, nil
}

// Match looks each of n selectors up among the snapshot's deletable
// policies (what a Delete by that selector removes: at most one a
// selector) and calls found(i, e) for each selector sel(i) that has one,
// in the selectors' order; then it calls rest(e) for every deletable
// policy that no selector named, in no particular order. It reports
// whether a policy was named by more than one selector (found is called
// for each of them). This is the comparison eroute --sync makes of a file
// with the table, without a sort: the first call (or IndexSelectors)
// indexes the policies by selector, 8 to 16 bytes a policy, and later
// calls reuse the index. sel may be called from several goroutines at
// once: from matchParallel selectors on, the look-ups are shared out.
func (s *Snapshot) Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) (repeats bool) {
	x := s.indexed()
	hits := x.lookUp(s.recs, n, sel)
	named := make([]uint64, (len(s.recs)+63)/64)
	clear(named) // written before it is read (see newRecordIndex)
	for i, k := range hits {
		if k < 0 {
			continue
		}
		if named[k/64]&(1<<(k%64)) != 0 {
			repeats = true
		}
		named[k/64] |= 1 << (k % 64)
		found(i, s.entryFound(int(k), sel(i)))
	}
	for k := range s.recs {
		if s.recs[k].flags&recDeletable != 0 && named[k/64]&(1<<(k%64)) == 0 {
			rest(s.entryAt(k))
		}
	}
	return repeats
}

// matchParallel is the number of selectors from which Match looks them up
// on two goroutines: below it, starting one costs more than it gains.
// A variable for the tests.
var matchParallel = 8192

// lookUp gives, for each of n selectors, the place of its deletable
// record, or -1: two halves at once from matchParallel selectors on, with
// more than one core.
func (x *recordIndex) lookUp(recs []record, n int, sel func(i int) eroute.Selector) []int32 {
	hits := make([]int32, n)
	if n < matchParallel || runtime.GOMAXPROCS(0) < 2 {
		x.lookUpRange(recs, sel, hits, 0, n)
		return hits
	}
	half := n / 2
	done := make(chan struct{})
	go func() {
		x.lookUpRange(recs, sel, hits, half, n)
		close(done)
	}()
	x.lookUpRange(recs, sel, hits, 0, half)
	<-done
	return hits
}

// lookUpRange looks selectors lo to hi up, a group at a time, whose
// slots are read ahead (see slotindex).
func (x *recordIndex) lookUpRange(recs []record, sel func(i int) eroute.Selector, hits []int32, lo, hi int) {
	var keys [lookUpGroup][5]uint64
	var hashes [lookUpGroup]uint64
	for base := lo; base < hi; base += lookUpGroup {
		m := min(lookUpGroup, hi-base)
		for t := 0; t < m; t++ {
			keys[t] = selectorKey(sel(base + t))
			hashes[t] = x.hash(&keys[t])
		}
		x.slots.ReadAhead(hashes[:m])
		for t := 0; t < m; t++ {
			hits[base+t] = int32(x.find(recs, &keys[t], hashes[t]))
		}
	}
}

// lookUpGroup is how many keys go into the index, or are looked up in it,
// together.
const lookUpGroup = 16

// IndexSelectors indexes the snapshot's deletable policies by selector
// for Match, unless that is done: a caller that takes a snapshot on one
// goroutine and will Match on another calls it first, so that the
// indexing (about 5 ms for 100,000 policies) is done while the other
// goroutine works.
func (s *Snapshot) IndexSelectors() { s.indexed() }

func (s *Snapshot) indexed() *recordIndex {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index == nil {
		s.index = newRecordIndex(s.recs)
	}
	return s.index
}

// entryFound is entryAt for a record looked up by the selector sel: the
// keys are equal, so the selector is the record's and is not decoded from
// the key again (a third of entryAt's time), unless it has a zone, which
// no key holds.
func (s *Snapshot) entryFound(k int, sel eroute.Selector) Entry {
	if sel.Src.Addr().Zone() != "" || sel.Dst.Addr().Zone() != "" {
		return s.entryAt(k)
	}
	r := &s.recs[k]
	return entryOfRecord(r, eroute.Eroute{Selector: sel, SAID: r.said()}, s.details, false)
}

// entryAt is the Entry of record k as it is now in s.recs.
func (s *Snapshot) entryAt(k int) Entry {
	r := &s.recs[k]
	return entryOfRecord(r, r.eroute(), s.details, false)
}

// recordIndex finds the deletable record of a selector's key: its place
// in the records, by a hash of the key.
type recordIndex struct {
	seed  maphash.Seed
	slots *slotindex.Index
}

// newRecordIndex indexes the deletable records, a group at a time.
func newRecordIndex(recs []record) *recordIndex {
	x := &recordIndex{seed: maphash.MakeSeed(), slots: slotindex.New(len(recs))}
	var hashes [lookUpGroup]uint64
	for base := 0; base < len(recs); base += lookUpGroup {
		m := min(lookUpGroup, len(recs)-base)
		for t := 0; t < m; t++ {
			hashes[t] = x.hash(&recs[base+t].key)
		}
		x.slots.ReadAhead(hashes[:m])
		for t := 0; t < m; t++ {
			if recs[base+t].flags&recDeletable != 0 {
				x.slots.Insert(hashes[t], base+t)
			}
		}
	}
	return x
}

// find gives the place of the deletable record of key, whose hash is h,
// or -1. (Were there two, which the kernel does not allow, it gives one
// of them.)
func (x *recordIndex) find(recs []record, key *[5]uint64, h uint64) int {
	return x.slots.Find(h, func(k int) bool { return recs[k].key == *key })
}

func (x *recordIndex) hash(key *[5]uint64) uint64 { return hashRecordKey(x.seed, *key) }

// hashRecordKey hashes a record's key. A variable: the tests put a hash in
// its place that collides, to see the probing and the comparison of keys
// behind equal hashes work.
var hashRecordKey = func(seed maphash.Seed, key [5]uint64) uint64 {
	var b [40]byte
	for i, w := range key {
		ne.PutUint64(b[8*i:], w)
	}
	return maphash.Bytes(seed, b[:])
}
