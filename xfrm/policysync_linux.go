package xfrm

import (
	"errors"
	"fmt"
	"slices"
)

// SyncPolicies makes the caller's policies of the table, those for which
// o.Owns is true, equal to want, and leaves every other policy alone: it
// reads the table once, updates the owned policies that differ from what
// is wanted, adds the wanted ones missing, deletes the owned ones not
// wanted, and carries that out as one ApplyPolicies batch, all or nothing,
// undone from what it read. A policy is known by its selector, direction,
// type, mark and if_id, as the kernel knows it: a wanted policy that
// differs in priority, action or templates is updated in place.
//
// Before anything is sent it refuses a wanted policy that Owns does not
// take (a later sync would not see it), two wanted policies in one place,
// and, with a *ConflictError, a wanted policy whose place holds a policy
// that is not the caller's. A delete of an owned policy that went
// meanwhile is no failure. With o.DryRun it sends nothing and gives the
// plan.
//
// The result's Ops are the plan, also when the batch failed: a
// *BatchError's Index is a place in them.
func (t *Table) SyncPolicies(want []Policy, o SyncOptions) (SyncResult, error) {
	if o.Owns == nil {
		return SyncResult{}, errors.New("SyncOptions.Owns is nil: the sync must be told which policies are its own")
	}
	wanted, err := checkWanted(want, o.Owns)
	if err != nil {
		return SyncResult{}, err
	}
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	b := &policyBatch{c: c, goneIsDone: true}
	res, err := b.plan(wanted, o.Owns)
	if err != nil || o.DryRun || len(res.Ops) == 0 {
		return res, err
	}
	b.ops = res.Ops
	return res, b.apply()
}

// checkWanted completes the wanted policies and checks them, before the
// table is read.
func checkWanted(want []Policy, owns func(Policy) bool) ([]Policy, error) {
	out := make([]Policy, len(want))
	seen := make(map[policyKey]int, len(want))
	for i, p := range want {
		p, err := completePolicy(p)
		if err != nil {
			return nil, fmt.Errorf("wanted policy %d: %w", i, err)
		}
		if !owns(p) {
			return nil, fmt.Errorf("wanted policy %d (%s -> %s, dir %s, priority %d) is not one SyncOptions.Owns takes: a later sync would not see it",
				i, p.Sel.Src, p.Sel.Dst, dirName(p.Dir), p.Priority)
		}
		k := keyOf(&p)
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("wanted policies %d and %d have the same selector, direction, type, mark and if_id: the kernel holds one", j, i)
		}
		seen[k] = i
		out[i] = p
	}
	return out, nil
}

// plan reads the table and gives the changes that make it as wanted,
// keeping, for the undo, the policies the changes replace or delete.
func (b *policyBatch) plan(want []Policy, owns func(Policy) bool) (SyncResult, error) {
	at := make(map[policyKey]int, len(want))
	for i := range want {
		at[keyOf(&want[i])] = i
	}
	var res SyncResult
	there := make([]bool, len(want))
	var updates []int
	var deletes []PolicyOp
	var conflict *ConflictError
	b.startPre()
	err := b.c.dumpLocked(msgGetPolicy, func(typ uint16, m []byte) {
		if typ != msgNewPolicy {
			return
		}
		p, err := decodePolicy(m)
		if err != nil {
			b.dumped++
			return // not one this package writes: not the caller's
		}
		k := keyOf(&p)
		i, isWanted := at[k]
		owned := p.Dir <= DirFwd && !p.SecCtx && owns(p)
		changes := owned
		switch {
		case isWanted && !owned:
			if conflict == nil || i < conflict.Index {
				conflict = &ConflictError{Index: i, Holder: p}
			}
		case isWanted:
			there[i] = true
			if samePolicy(p, asWritten(want[i])) {
				res.Unchanged++
				changes = false
			} else {
				updates = append(updates, i)
			}
		case owned:
			deletes = append(deletes, PolicyOp{Kind: PolicyDelete, Policy: idOf(&p)})
		}
		b.keepPre(k, p.Index, m, changes)
	})
	if err != nil {
		return SyncResult{}, forReading(kernelError(err, 0, nil))
	}
	if conflict != nil {
		return SyncResult{}, conflict
	}
	slices.Sort(updates)
	for _, i := range updates {
		res.Ops = append(res.Ops, PolicyOp{Kind: PolicyUpdate, Policy: want[i]})
	}
	for i := range want {
		if !there[i] {
			res.Ops = append(res.Ops, PolicyOp{Kind: PolicyAdd, Policy: want[i]})
		}
	}
	res.Ops = append(res.Ops, deletes...)
	return res, nil
}
