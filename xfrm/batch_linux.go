package xfrm

import (
	"errors"
	"fmt"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// Apply carries out ops in order, all or nothing.
//
// The requests go pipelined over the table's one socket (see run): no round
// trip per op. When the kernel refuses one, every op it carried out is
// undone, so that the table ends as it began, and Apply returns a
// *BatchError naming the first op refused, with the error the single call
// would have given. When the undo itself fails, the error is an *UndoError.
//
// To undo, Apply takes one dump before sending, when an op may change or
// delete a policy that exists (Replace, Delete, Clear; a batch of adds needs
// none): the kernel's order of every policy (by index), and the exact
// policy, as the kernel gave it, of every selector a Replace or Delete
// names, or of every listed policy when the batch clears. The undo deletes
// what the batch added, then puts back what it replaced or deleted, with
// the policy's own index, and writes nothing else (see undo). Socket
// policies cannot be made again that way, and keep their place.
//
// Clear in a batch deletes, at that point of the batch, what the dump
// showed and what the ops before it made, less what they deleted.
func (t *Table) Apply(ops []Op) error {
	return t.ApplyFunc(len(ops), func(i int) Op { return ops[i] })
}

// ApplyFunc is Apply for n ops that the caller keeps in a form of its own:
// op(i) gives op i, for i from 0 to n-1, as often as Apply needs it, and
// must give the same op each time. A caller with a large batch saves a
// copy of it (12 MB for 100,000 ops).
func (t *Table) ApplyFunc(n int, op func(i int) Op) error {
	return t.apply(nil, nil, n, op)
}

// ApplyFuncUntil is ApplyFunc that stops early once stop is closed (a
// signal, say): it sends no more, reads the kernel's answers to all it
// sent, undoes that, and returns a *BatchError with Index -1 and
// ErrInterrupted (an *UndoError if the undo failed). It looks at stop
// every few dozen ops, a few microseconds apart.
func (t *Table) ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error {
	return t.apply(nil, stop, n, op)
}

// apply is ApplyFuncUntil, with the table as snap read it standing in for
// the dump a batch that changes existing policies takes first (snap nil:
// dump).
func (t *Table) apply(snap *Snapshot, stop <-chan struct{}, n int, op func(i int) Op) error {
	dump, clears := false, false
	for i := 0; i < n; i++ {
		o := op(i)
		switch k := o.Kind; {
		case k < eroute.OpAdd || k > eroute.OpClear:
			return fmt.Errorf("op %d: unknown kind %d", i, k)
		case o.Inbound:
			return fmt.Errorf("op %d: an inbound op; a batch carries outbound eroutes only", i)
		case k == eroute.OpClear:
			clears = true
			fallthrough
		case k != eroute.OpAdd:
			dump = true
		}
	}
	if n == 0 {
		return nil
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batchBuffers()
	b := &batch{c: c, n: n, op: op, stop: stop}
	switch {
	case dump && snap != nil && !clears:
		// A Clear deletes what is there when it runs: it needs every
		// listed policy as dumped, which a snapshot does not keep.
		if err := b.fromSnapshot(snap); err != nil {
			return err
		}
	case dump:
		if err := b.snapshot(); err != nil {
			return err
		}
	}
	if err := b.checkOwners(); err != nil {
		return err
	}
	if err := b.findGroups(); err != nil {
		return err
	}
	b.send()
	return b.outcome()
}

// batch is one Apply.
type batch struct {
	c   *nlConn
	n   int
	op  func(i int) Op
	r   *run
	err error // the run could not be completed (sending or reading)

	stop    <-chan struct{} // closed: send no more, and undo
	stopped bool            // sending stopped because stop was closed

	// The snapshot (when ops may change existing policies).
	snap     bool
	clears   bool                      // an op is a Clear
	order    []uint32                  // index of each policy, in the kernel's order
	targets  map[eroute.Selector]int32 // selector of a Replace or Delete: position of its policy, -1 none
	raw      map[int32]span            // position: the policy as dumped, for those an op may change
	arena    []byte                    // holds raw's bytes
	listPos  []int32                   // positions of the listed policies (when the batch clears)
	clearPos map[int]int32             // request of a Clear: the position it deletes, -1 one the batch made
	foreign  map[int32]bool            // positions of policies eroute did not make (targets, listed)

	tmpl [1]Template // PolicyOf's template, without allocating
	// groups: the templates of the SA groups the batch's eroutes name.
	groups map[eroute.SAID][]Template
}

// snapshot dumps the table: see Apply.
func (b *batch) snapshot() error {
	b.snap = true
	b.targets = map[eroute.Selector]int32{}
	for i := 0; i < b.n; i++ {
		switch op := b.op(i); op.Kind {
		case eroute.OpReplace, eroute.OpDelete:
			b.targets[op.Eroute.Selector] = -1
		case eroute.OpClear:
			b.clears = true
		}
	}
	b.raw = map[int32]span{}
	b.foreign = map[int32]bool{}
	var v policyView
	err := b.c.dumpLocked(msgGetPolicy, func(typ uint16, m []byte) {
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil {
			return
		}
		pos := int32(len(b.order))
		b.order = append(b.order, v.Index)
		if !listed(&v) {
			return
		}
		if _, own, _ := v.eroute(); !own {
			b.foreign[pos] = true
		}
		kept := b.clears
		if b.clears {
			b.listPos = append(b.listPos, pos)
		}
		if sel, _ := erouteSelector(v.Sel); v.deletable(sel) {
			if p, ok := b.targets[sel]; ok && p < 0 {
				b.targets[sel] = pos
				kept = true
			}
		}
		if kept {
			b.raw[pos] = keep(&b.arena, m)
		}
	})
	return kernelError(err, 0, nil)
}

// checkOwners refuses, before anything is sent, a Replace or Delete
// without Force whose policy eroute did not make: the first such op in the
// batch, with the policy as the listing shows it.
func (b *batch) checkOwners() error {
	if len(b.foreign) == 0 {
		return nil
	}
	for i := 0; i < b.n; i++ {
		op := b.op(i)
		if op.Force || op.Kind != eroute.OpReplace && op.Kind != eroute.OpDelete {
			continue
		}
		pos, ok := b.targets[op.Eroute.Selector]
		if !ok || pos < 0 || !b.foreign[pos] {
			continue
		}
		p, err := decodePolicy(b.rawAt(pos))
		if err != nil {
			return err
		}
		holder, _ := entryOf(p)
		b.c.resolveEntry(&holder, &p)
		return &BatchError{Index: i, Err: &ForeignError{Holder: holder}}
	}
	return nil
}

// span is where bytes kept in an arena are.
type span struct{ off, n uint32 }

// keep copies m to the end of an arena.
func keep(arena *[]byte, m []byte) span {
	s := span{uint32(len(*arena)), uint32(len(m))}
	*arena = append(*arena, m...)
	return s
}

func (s span) in(arena []byte) []byte { return arena[s.off : s.off+s.n : s.off+s.n] }

func (b *batch) rawAt(pos int32) []byte {
	s, ok := b.raw[pos]
	if !ok {
		return nil
	}
	return s.in(b.arena)
}

// send sends every op, in sendOrder, and stops after the datagram in which
// the kernel refused one.
func (b *batch) send() {
	b.r = b.c.newRun(ackRoom)
	b.r.tolerate = b.tolerable
	var sim *simulation
	if b.clears {
		sim = b.newSimulation()
	}
	for k, at := range sendOrder(b.n, b.op) {
		if b.r.failure() {
			break
		}
		if k%stopEvery == 0 && b.interrupted() {
			// What was built goes too: finish sends it with the
			// barrier, so that every request made is either carried
			// out, and undone, or refused, and none is left unknown.
			b.stopped = true
			break
		}
		i := int(at)
		o := b.op(i)
		op := &o
		var err error
		switch op.Kind {
		case eroute.OpAdd:
			err = b.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, i, op.Eroute)
		case eroute.OpReplace:
			err = b.request(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, i, op.Eroute)
		case eroute.OpDelete:
			err = b.delete(i, op.Eroute.Selector)
		case eroute.OpClear:
			err = sim.clear(i)
		}
		if err != nil {
			b.err = err
			return
		}
		if sim != nil {
			sim.step(op)
		}
	}
	b.err = b.r.finish()
}

// stopEvery is how many ops send builds between two looks at stop: about
// 50 µs of work.
const stopEvery = 64

// interrupted tells whether stop is closed.
func (b *batch) interrupted() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// findGroups reads the SA groups the adds and replaces name: one dump of
// the SAs, only when one names an SA, filtered by its destination when all
// name the same. No set of the batch's SAIDs is built (a map of 100,000
// SAIDs took a tenth of a batch's CPU time): request looks each up in the
// groups, which are few or none.
func (b *batch) findGroups() error {
	var first eroute.SAID
	found, several := false, false
	for i := 0; i < b.n && !several; i++ {
		op := b.op(i)
		if s := op.Eroute.SAID; (op.Kind == eroute.OpAdd || op.Kind == eroute.OpReplace) && namesSA(s) {
			several = found && s != first
			first, found = s, true
		}
	}
	var err error
	switch {
	case several:
		b.groups, err = b.c.groupHeadsIn(nil)
	case found:
		b.groups, err = b.c.groupsFor([]eroute.SAID{first})
	}
	return err
}

// request sends the policy of an eroute.
func (b *batch) request(typ, flags uint16, i int, e eroute.Eroute) error {
	p, t, ok := shapeOf(e)
	if ok {
		b.tmpl[0] = t
		p.Tmpls = b.tmpl[:]
	}
	if ts, ok := b.groups[e.SAID]; ok {
		p.Tmpls = ts
	}
	b.r.buf = b.r.begin(typ, flags, int32(i))
	b.r.buf = appendPolicy(b.r.buf, &p)
	return b.r.end()
}

// delete deletes the eroute of a selector: by the index the snapshot gave
// it when there is one, since the kernel finds a policy by its index in a
// hash table, but by a subnet selector only through its inexact-policy tree,
// which it then prunes whole: 690 µs a delete in a table of 100,000 eroutes,
// against 16 µs by index. A policy the snapshot did not see is deleted by
// its selector, as Delete does (and the kernel's "not found" is the answer
// the single call would give).
func (b *batch) delete(i int, s eroute.Selector) error {
	if pos, ok := b.targets[s]; ok && pos >= 0 {
		if m := b.rawAt(pos); m != nil {
			return b.deleteIndex(i, m)
		}
	}
	return b.deleteSel(i, s)
}

// deleteSel deletes the eroute of a selector, as Delete does.
func (b *batch) deleteSel(i int, s eroute.Selector) error {
	p := Policy{Sel: selectorOf(s), Dir: DirOut, Type: TypeMain}
	b.r.buf = b.r.begin(msgDelPolicy, 0, int32(i))
	b.r.buf = appendPolicyID(b.r.buf, &p)
	return b.r.end()
}

// deleteIndex deletes a policy by its index, as Clear does; m is its dump.
func (b *batch) deleteIndex(i int, m []byte) error {
	var v policyView
	if err := scanPolicy(m, &v); err != nil {
		return err
	}
	p := Policy{Index: v.Index, Dir: v.Dir, Type: v.Type, Mark: v.Mark, Mask: v.Mask, IfID: v.IfID}
	b.r.buf = b.r.begin(msgDelPolicy, 0, int32(i))
	b.r.buf = appendPolicyID(b.r.buf, &p)
	return b.r.end()
}

// simulation follows what the ops do to the table, as far as a Clear in
// the batch must know what is there. A Clear costs what it deletes: a
// policy of the dump never comes back once deleted, so after the first
// Clear no own policy of the dump is left, and after the first --clear
// --all none at all; later Clears look only at what the batch made since.
type simulation struct {
	b          *batch
	live       map[int32]bool           // listed positions not deleted yet; nil after a --clear --all
	ownCleared bool                     // a Clear deleted every own policy of live
	created    map[eroute.Selector]bool // policies the batch made since the last Clear
}

func (b *batch) newSimulation() *simulation {
	s := &simulation{b: b, live: make(map[int32]bool, len(b.listPos)), created: map[eroute.Selector]bool{}}
	for _, pos := range b.listPos {
		s.live[pos] = true
	}
	b.clearPos = map[int]int32{}
	return s
}

func (s *simulation) step(op *Op) {
	sel := op.Eroute.Selector
	pos, ok := s.b.targets[sel]
	existing := ok && pos >= 0 && s.live[pos]
	switch op.Kind {
	case eroute.OpAdd:
		s.created[sel] = true
	case eroute.OpReplace:
		if !existing {
			s.created[sel] = true
		}
	case eroute.OpDelete:
		if s.created[sel] {
			delete(s.created, sel)
		} else if existing {
			delete(s.live, pos)
		}
	}
}

// clear sends the deletes a Clear at op i stands for: eroute's own
// policies, and with Force (--clear --all) the others too.
func (s *simulation) clear(i int) error {
	all := s.b.op(i).Force
	if s.live != nil && (all || !s.ownCleared) {
		for _, pos := range s.b.listPos {
			if !s.live[pos] || !all && s.b.foreign[pos] {
				continue
			}
			s.b.clearPos[s.b.r.n] = pos
			if err := s.b.deleteIndex(i, s.b.rawAt(pos)); err != nil {
				return err
			}
			delete(s.live, pos)
		}
		if all {
			s.live = nil
		} else {
			s.ownCleared = true
		}
	}
	if len(s.created) == 0 {
		return nil
	}
	for sel := range s.created {
		s.b.clearPos[s.b.r.n] = -1
		if err := s.b.deleteSel(i, sel); err != nil {
			return err
		}
	}
	// A new map, not clear(): clearing costs the map's size, not its
	// length, and a Clear after many adds would pay it at every Clear.
	s.created = map[eroute.Selector]bool{}
	return nil
}

// outcome reads the answers: nil when every op was carried out; else
// undoes the batch and says why.
func (b *batch) outcome() error {
	r := b.r
	if err := r.unknownOutcome(b.err); err != nil {
		return err
	}
	first, ferr, failed := r.refusals(
		func(tag int32, err error) error { return opError(b.op(int(tag)).Kind, err) },
		func(tag int32) bool { o := b.op(int(tag)); return o.Kind == eroute.OpAdd && !b.inPlace(o.Eroute) })
	if b.stopped && b.err == nil {
		first, ferr = -1, ErrInterrupted
	}
	if first < 0 && ferr == nil && b.err == nil {
		return nil
	}
	if err := b.undo(failed); err != nil {
		if ferr == nil {
			return &UndoError{Index: -1, Err: b.err, UndoErr: err}
		}
		return &UndoError{Index: first, Err: ferr, UndoErr: err}
	}
	if ferr == nil {
		return fmt.Errorf("%w; nothing was changed", b.err)
	}
	return &BatchError{Index: first, Err: ferr}
}

// tolerable tells which refusals leave the batch what it meant: a Clear's
// delete of a policy gone meanwhile (what Clear does too), and for an
// Idempotent op, a Delete of what is gone and an Add of what is there
// (checked by outcome, with inPlace).
func (b *batch) tolerable(tag int32, err error) bool {
	op := b.op(int(tag))
	switch {
	case op.Kind == eroute.OpClear || op.Idempotent && op.Kind == eroute.OpDelete:
		return errors.Is(err, unix.ENOENT)
	case op.Idempotent && op.Kind == eroute.OpAdd:
		return errors.Is(err, unix.EEXIST)
	}
	return false
}

// inPlace tells whether the policy with e's selector is e as eroute writes
// it: its own, with e's SAID, and not a monitor's temporary hold.
func (b *batch) inPlace(e eroute.Eroute) bool {
	id := encodePolicyID(Policy{Sel: selectorOf(e.Selector), Dir: DirOut, Type: TypeMain})
	found := false
	err := b.c.getLocked(msgGetPolicy, id, func(typ uint16, m []byte) {
		var v policyView
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil {
			return
		}
		got, own, ok := v.eroute()
		found = ok && own && got == e && !v.isMonitorHold()
	})
	return err == nil && found
}

// opError is what the single call of an op gives for the kernel's errno.
func opError(k eroute.OpKind, err error) error {
	switch k {
	case eroute.OpAdd:
		return kernelError(err, unix.EEXIST, ErrExists)
	case eroute.OpDelete:
		return kernelError(err, unix.ENOENT, ErrNotFound)
	}
	return kernelError(err, 0, nil)
}

// undo puts back what the batch changed, and nothing else: it deletes the
// policies the batch made, and puts back those it replaced or deleted, each
// with its own index (from the snapshot; a batch of adds has none). failed
// holds the requests the kernel refused; requests of a datagram that could
// not be sent, and those never sent, were not carried out.
//
// It reads the table first (one dump), and leaves alone what changed since
// the batch changed it, as another process may have: a policy the batch
// made is deleted only if it is still what the batch wrote; one it
// replaced is put back only if the batch's policy is still there; one it
// deleted is made again only if its place is still free (NEWPOLICY is
// exclusive). So an undo never re-creates what another process removed
// meanwhile, nor removes what another made. Policies the batch did not
// touch are never written: re-writing one would restart its lifetime
// (limit time-hard) and reset its counters. A policy put back comes after
// the others in the kernel's order, which only decides between policies
// of equal priority: see "Batches, sync and large tables" in DESIGN.md.
func (b *batch) undo(failed map[int]bool) error {
	made, restore := b.changes(failed)
	if undoHook != nil {
		undoHook()
	}
	dels, stillOurs, err := b.undoneNow(made, restore)
	if err != nil {
		return err
	}
	u := b.c.newRun(ackRoom)
	if err := u.deletes(dels); err != nil {
		return err
	}
	if err := b.putBack(u, restore, stillOurs); err != nil {
		return err
	}
	return undoResult(u)
}

// changes gives what the batch carried out (the requests handled and not
// refused): what it made, by selector, with the SAID it wrote; and the
// policies of the snapshot it replaced or deleted, by their place in the
// snapshot, as the last op on each left them.
func (b *batch) changes(failed map[int]bool) (made map[eroute.Selector]eroute.SAID, restore map[int32]undoKind) {
	r := b.r
	made = map[eroute.Selector]eroute.SAID{}
	restore = map[int32]undoKind{}
	for msg := 0; msg < r.handled; msg++ {
		if failed[msg] {
			continue
		}
		o := b.op(int(r.tags[msg]))
		pos, kind := int32(-1), restoreDeleted
		switch o.Kind {
		case eroute.OpAdd:
			made[o.Eroute.Selector] = o.Eroute.SAID
		case eroute.OpReplace:
			made[o.Eroute.Selector] = o.Eroute.SAID
			pos, kind = b.targets[o.Eroute.Selector], restoreReplaced
		case eroute.OpDelete:
			pos = b.targets[o.Eroute.Selector]
		case eroute.OpClear:
			pos = b.clearPos[msg]
		}
		if pos >= 0 {
			restore[pos] = kind
		}
	}
	return made, restore
}

// undoneNow reads the table as it is now (one dump) and gives what the
// undo may touch of it: the policies the batch made that still hold what
// it wrote, to delete by index, and the replaced policies whose place
// still holds the batch's policy (stillOurs, by place in the snapshot).
// Whatever changed since belongs to whoever changed it.
func (b *batch) undoneNow(made map[eroute.Selector]eroute.SAID, restore map[int32]undoKind) (dels []Policy, stillOurs map[int32]bool, err error) {
	where := make(map[uint32]int32, len(b.order))
	for pos, idx := range b.order {
		where[idx] = int32(pos)
	}
	stillOurs = map[int32]bool{}
	var v policyView
	err = b.c.dumpLocked(msgGetPolicy, func(typ uint16, m []byte) {
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil || !listed(&v) {
			return
		}
		e, own, _ := v.eroute()
		if said, ok := made[e.Selector]; !ok || !own || said != e.SAID || !v.deletable(e.Selector) {
			return
		}
		pos, old := where[v.Index]
		switch {
		case !old:
			dels = append(dels, Policy{Index: v.Index, Dir: v.Dir, Type: v.Type})
		case restore[pos] == restoreReplaced:
			stillOurs[pos] = true
		}
	})
	if err != nil {
		return nil, nil, kernelError(err, 0, nil)
	}
	return dels, stillOurs, nil
}

// putBack queues the policies of the snapshot the batch replaced or
// deleted, each as the snapshot holds it (its own index): a deleted one
// with an exclusive NEWPOLICY, so that it is made again only if its place
// is still free; a replaced one with UPDPOLICY, only if the batch's policy
// still holds its place. Oldest first, so that the policies put back keep
// their order among themselves.
func (b *batch) putBack(u *run, restore map[int32]undoKind, stillOurs map[int32]bool) error {
	positions := make([]int32, 0, len(restore))
	for pos := range restore {
		positions = append(positions, pos)
	}
	slices.SortFunc(positions, func(a, b int32) int { return int(b - a) })
	for _, pos := range positions {
		replaced := restore[pos] == restoreReplaced
		if replaced && !stillOurs[pos] {
			continue // changed or deleted since: not the batch's to undo
		}
		m := b.rawAt(pos)
		if m == nil {
			continue // a socket policy: not made again this way
		}
		if err := u.restore(m, pos, replaced); err != nil {
			return err
		}
	}
	return nil
}

// undoKind is what the batch did to a policy of the snapshot.
type undoKind uint8

const (
	restoreDeleted  undoKind = iota + 1 // deleted (a Delete, a Clear)
	restoreReplaced                     // replaced with a policy of its own
)

// undoHook, when set (by tests), runs between a failed batch and its undo,
// where another process may change the table.
var undoHook func()

// undoResult finishes an undo run: deletes that find nothing are fine (the
// policy went meanwhile), and so are policies that find their place taken
// (another process made one there meanwhile); anything else is not.
func undoResult(u *run) error {
	if err := u.finish(); err != nil {
		return err
	}
	if u.overrun {
		return errors.New("the kernel's answers were lost (socket receive buffer overrun)")
	}
	for _, f := range u.failures {
		if !errors.Is(f.err, unix.ENOENT) && !errors.Is(f.err, unix.EEXIST) {
			return kernelError(f.err, 0, nil)
		}
	}
	return nil
}
