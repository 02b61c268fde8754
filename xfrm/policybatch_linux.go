package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// ApplyPolicies carries out ops in order, all or nothing, as Apply does
// for eroutes: the requests go pipelined over the table's socket, many to
// a datagram, and the kernel answers only those it refuses. When it refuses
// one, every op it carried out is undone, and ApplyPolicies returns a
// *BatchError with the index of the first op refused and the error the
// single call would have given (ErrExists, ErrNotFound, a refusal with
// the errno); the table is as it was. When the undo fails too, the error
// is an *UndoError: the table is not as it was.
//
// An op the package refuses before sending (an unknown kind, a selector
// whose addresses contradict its family) is a *BatchError too, and
// nothing is sent.
//
// To undo exactly, a batch with updates or deletes first dumps the table
// once and keeps, as the kernel gave them, the policies those ops name;
// the undo deletes what the batch made, and puts back what it replaced
// or deleted, each with its own index. It leaves alone what changed since
// the batch changed it (another process may have): a policy the batch
// wrote is taken away only if it is still what the batch wrote, and one
// it deleted is made again only if its place is still free. Policies the
// batch did not name are never written.
func (t *Table) ApplyPolicies(ops []PolicyOp) error {
	b, err := newPolicyBatch(ops)
	if err != nil {
		return err
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	b.c = c
	if err := b.snapshot(); err != nil {
		return err
	}
	return b.apply()
}

// policyBatch is one ApplyPolicies, or the changes of one SyncPolicies.
type policyBatch struct {
	c   *nlConn
	ops []PolicyOp // completed (families filled in), as sent
	r   *run
	err error // the run could not be completed (sending or reading)

	// pre holds the policies of the table before the batch that its
	// updates and deletes name, as the kernel gave them (nil: no dump).
	pre     map[policyKey]prePolicy
	byIndex map[uint32]policyKey // the indexes of pre's policies
	arena   []byte               // holds pre's bytes
	dumped  int32                // policies the dump showed
	// goneIsDone makes a delete that finds nothing a success (SyncPolicies:
	// the policy went meanwhile, as wanted).
	goneIsDone bool
}

// prePolicy is one policy as the table held it before the batch.
type prePolicy struct {
	index uint32
	pos   int32 // in the dump: the kernel lists newest first
	raw   span  // the message's payload, in arena
}

// newPolicyBatch checks and completes ops before anything is sent.
func newPolicyBatch(ops []PolicyOp) (*policyBatch, error) {
	b := &policyBatch{ops: make([]PolicyOp, len(ops))}
	for i, op := range ops {
		var err error
		switch op.Kind {
		case PolicyAdd, PolicyUpdate:
			op.Policy, err = completePolicy(op.Policy)
		case PolicyDelete:
			op.Policy.Tmpls = nil
			err = completeSelector(&op.Policy.Sel)
		default:
			err = fmt.Errorf("unknown kind of policy op %d", op.Kind)
		}
		if err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		b.ops[i] = op
	}
	return b, nil
}

// snapshot dumps the table when ops may change or delete a policy there,
// keeping the policies they name.
func (b *policyBatch) snapshot() error {
	keys := map[policyKey]bool{}
	indexes := map[uint32]bool{}
	for i := range b.ops {
		switch op := &b.ops[i]; {
		case op.Kind == PolicyDelete && op.Policy.Index != 0:
			indexes[op.Policy.Index] = true
		case op.Kind != PolicyAdd:
			keys[keyOf(&op.Policy)] = true
		}
	}
	if len(keys) == 0 && len(indexes) == 0 {
		return nil
	}
	b.startPre()
	var v policyView
	err := b.c.dumpLocked(msgGetPolicy, func(typ uint16, m []byte) {
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil {
			return
		}
		k := keyOf(&v.Policy)
		b.keepPre(k, v.Index, m, keys[k] || indexes[v.Index])
	})
	return kernelError(err, 0, nil)
}

func (b *policyBatch) startPre() {
	b.pre = map[policyKey]prePolicy{}
	b.byIndex = map[uint32]policyKey{}
}

// keepPre counts one policy of the dump, and keeps it when wanted.
func (b *policyBatch) keepPre(k policyKey, index uint32, m []byte, wanted bool) {
	pos := b.dumped
	b.dumped++
	if !wanted {
		return
	}
	b.pre[k] = prePolicy{index: index, pos: pos, raw: keep(&b.arena, m)}
	b.byIndex[index] = k
}

// apply sends the ops and reads the outcome.
func (b *policyBatch) apply() error {
	if len(b.ops) == 0 {
		return nil
	}
	b.send()
	return b.outcome()
}

// send sends every op in order, and stops after the datagram in which the
// kernel refused one.
func (b *policyBatch) send() {
	b.r = b.c.newRun(ackRoom)
	if b.goneIsDone {
		b.r.tolerate = func(tag int32, err error) bool {
			return b.ops[tag].Kind == PolicyDelete && errors.Is(err, unix.ENOENT)
		}
	}
	for i := range b.ops {
		if b.r.failure() {
			break
		}
		op := &b.ops[i]
		switch op.Kind {
		case PolicyAdd:
			b.r.buf = b.r.begin(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, int32(i))
			b.r.buf = appendPolicy(b.r.buf, &op.Policy)
		case PolicyUpdate:
			b.r.buf = b.r.begin(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, int32(i))
			b.r.buf = appendPolicy(b.r.buf, &op.Policy)
		case PolicyDelete:
			b.r.buf = b.r.begin(msgDelPolicy, 0, int32(i))
			b.r.buf = appendPolicyID(b.r.buf, &op.Policy)
		}
		if err := b.r.end(); err != nil {
			b.err = err
			return
		}
	}
	b.err = b.r.finish()
}

// outcome reads the answers: nil when every op was carried out; else
// undoes the batch and says why.
func (b *policyBatch) outcome() error {
	r := b.r
	if err := r.unknownOutcome(b.err); err != nil {
		return err
	}
	first, ferr, failed := r.refusals(
		func(tag int32, err error) error { return policyOpError(b.ops[tag].Kind, err) }, nil)
	if ferr == nil && b.err == nil {
		return nil
	}
	if err := b.undo(failed); err != nil {
		return &UndoError{Index: first, Err: cmp.Or(ferr, b.err), UndoErr: err}
	}
	if ferr == nil {
		return fmt.Errorf("%w; nothing was changed", b.err)
	}
	return &BatchError{Index: first, Err: ferr}
}

// policyOpError is what the single call of an op gives for the errno.
func policyOpError(k PolicyOpKind, err error) error {
	switch k {
	case PolicyAdd:
		return opError(eroute.OpAdd, err)
	case PolicyDelete:
		return opError(eroute.OpDelete, err)
	}
	return opError(eroute.OpReplace, err)
}

// undo puts back what the batch changed, and nothing else. For each
// policy the batch's carried-out ops named (by selector, direction, type,
// mark and if_id), the last op decides: after an add or update, the policy
// is deleted if it is still what the batch wrote, and the one the table
// held before put back (in place when the index is the same, else made
// again with its own index); after a delete, the one the table held before
// is made again if its place is still free. failed holds the requests the
// kernel refused; those of a datagram that could not be sent, and those
// never sent, were not carried out.
func (b *policyBatch) undo(failed map[int]bool) error {
	r := b.r
	last := map[policyKey]int{}
	for msg := 0; msg < r.handled; msg++ {
		if failed[msg] {
			continue
		}
		i := int(r.tags[msg])
		if k, ok := b.keyOfOp(i); ok {
			last[k] = i
		}
	}
	if undoHook != nil {
		undoHook()
	}
	now, err := b.current(last)
	if err != nil {
		return err
	}
	dels, puts, replace := b.undoPlan(last, now)
	u := b.c.newRun(ackRoom)
	if err := u.deletes(dels); err != nil {
		return err
	}
	if err := b.putBack(u, puts, replace); err != nil {
		return err
	}
	return undoResult(u)
}

// undoPlan decides, for each policy the batch's carried-out ops named
// (last: the last such op, by policy), what the undo does with the table
// as it is now: the policies to delete (the batch's, still as it wrote
// them) and those to put back as the table held them before (replace: in
// place of the batch's policy, which has the same index).
func (b *policyBatch) undoPlan(last map[policyKey]int, now map[policyKey]Policy) (dels []Policy, puts []prePolicy, replace map[int32]bool) {
	replace = map[int32]bool{}
	for k, i := range last {
		pre, had := b.pre[k]
		cur, there := now[k]
		op := &b.ops[i]
		switch {
		case op.Kind == PolicyDelete:
			if had && !there {
				puts = append(puts, pre)
			}
		case !there || !samePolicy(cur, asWritten(op.Policy)):
			// changed or deleted since: not the batch's to undo
		case had && cur.Index == pre.index:
			puts = append(puts, pre)
			replace[pre.pos] = true
		case had:
			dels = append(dels, idOf(&cur))
			puts = append(puts, pre)
		default:
			dels = append(dels, idOf(&cur))
		}
	}
	return dels, puts, replace
}

// putBack adds to the run the policies the table held before, each as it
// was (its own index): oldest first (the dump lists newest first), so
// that they keep their order among themselves; exclusive, unless it
// replaces the batch's policy in place.
func (b *policyBatch) putBack(u *run, puts []prePolicy, replace map[int32]bool) error {
	slices.SortFunc(puts, func(x, y prePolicy) int { return int(y.pos - x.pos) })
	for _, p := range puts {
		if err := u.restore(p.raw.in(b.arena), p.pos, replace[p.pos]); err != nil {
			return err
		}
	}
	return nil
}

// restore adds to the run a policy put back as m (a policy message's
// body) holds it, tagged tag: with UPDPOLICY when it replaces a policy in
// place, else with an exclusive NEWPOLICY, which finds its place taken if
// another process made a policy there meanwhile.
func (r *run) restore(m []byte, tag int32, inPlace bool) error {
	typ, flags := uint16(msgNewPolicy), uint16(unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	if inPlace {
		typ, flags = msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE
	}
	r.buf = r.begin(typ, flags, tag)
	r.buf = append(r.buf, m...)
	return r.end()
}

// keyOfOp gives the policy op i named; false for a delete by an index the
// dump did not show (no policy of the table before the batch).
func (b *policyBatch) keyOfOp(i int) (policyKey, bool) {
	op := &b.ops[i]
	if op.Kind == PolicyDelete && op.Policy.Index != 0 {
		k, ok := b.byIndex[op.Policy.Index]
		return k, ok
	}
	return keyOf(&op.Policy), true
}

// current reads the table's policies of the given places, as they are now.
func (b *policyBatch) current(places map[policyKey]int) (map[policyKey]Policy, error) {
	now := map[policyKey]Policy{}
	var v policyView
	err := b.c.dumpLocked(msgGetPolicy, func(typ uint16, m []byte) {
		if typ != msgNewPolicy || scanPolicy(m, &v) != nil {
			return
		}
		k := keyOf(&v.Policy)
		if _, ok := places[k]; !ok {
			return
		}
		if p, err := decodePolicy(m); err == nil {
			now[k] = p
		}
	})
	return now, kernelError(err, 0, nil)
}

// unknownOutcome is the error of a run whose answers were not all read:
// the answers were lost (ENOBUFS), or reading failed (err, when the
// sending did not), so which requests were carried out is unknown and
// nothing can be undone. nil when every answer was read.
func (r *run) unknownOutcome(err error) error {
	cannot := errors.New("cannot tell which changes to undo")
	switch {
	case r.overrun:
		return &UndoError{Index: -1, Err: errors.New("the kernel's answers to the batch were lost (socket receive buffer overrun)"), UndoErr: cannot}
	case err != nil && r.sendErr == nil:
		return &UndoError{Index: -1, Err: err, UndoErr: cannot}
	}
	return nil
}

// refusals reads a finished run's refusals: the first refused request by
// its tag, with errOf's error for it, and every request the kernel did not
// carry out (by number in the run). A tolerated refusal counts as refused
// too when refusedAnyway says so.
func (r *run) refusals(errOf func(tag int32, err error) error, refusedAnyway func(tag int32) bool) (first int, ferr error, failed map[int]bool) {
	first = -1
	failed = make(map[int]bool, len(r.failures)+len(r.tolerated))
	refused := func(f failure) {
		if first < 0 || int(f.tag) < first {
			first, ferr = int(f.tag), errOf(f.tag, f.err)
		}
	}
	for _, f := range r.failures {
		failed[f.msg] = true
		refused(f)
	}
	for _, f := range r.tolerated {
		failed[f.msg] = true
		if refusedAnyway != nil && refusedAnyway(f.tag) {
			refused(f)
		}
	}
	return first, ferr, failed
}

// deletes adds to the run a delete of each policy, as idOf names them.
func (r *run) deletes(ps []Policy) error {
	for i := range ps {
		r.buf = r.begin(msgDelPolicy, 0, -1)
		r.buf = appendPolicyID(r.buf, &ps[i])
		if err := r.end(); err != nil {
			return err
		}
	}
	return nil
}
