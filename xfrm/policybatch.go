package xfrm

import (
	"fmt"
	"slices"
)

// PolicyOpKind is what a PolicyOp does.
type PolicyOpKind uint8

// The kinds of PolicyOp, each what the single call does.
const (
	PolicyAdd    PolicyOpKind = iota + 1 // AddPolicy: exclusive, ErrExists when the policy's place is taken
	PolicyUpdate                         // UpdatePolicy: add, or replace in one step
	PolicyDelete                         // DeletePolicy: by Index when not 0, else by selector; ErrNotFound when none
)

func (k PolicyOpKind) String() string {
	switch k {
	case PolicyAdd:
		return "add"
	case PolicyUpdate:
		return "update"
	case PolicyDelete:
		return "delete"
	}
	return fmt.Sprintf("PolicyOpKind(%d)", uint8(k))
}

// PolicyOp is one change of ApplyPolicies: Policy is what AddPolicy,
// UpdatePolicy or DeletePolicy would take.
type PolicyOp struct {
	Kind   PolicyOpKind
	Policy Policy
}

// SyncOptions says which policies SyncPolicies manages.
type SyncOptions struct {
	// Owns tells whether a policy of the table is the caller's: the sync
	// deletes those of them it does not want, updates those that differ,
	// and never writes any policy for which Owns is false. It is
	// required: a program that shares the table (with an IKE daemon, with
	// eroute) must say which policies are its own, say by a priority band
	// (PriorityBand), a mark, an if_id or the reqids of its templates.
	// Socket policies are never the caller's.
	Owns func(Policy) bool
	// DryRun plans and changes nothing: SyncResult.Ops is what the sync
	// would do.
	DryRun bool
}

// PriorityBand gives an Owns that takes the policies whose priority is
// from lo to hi, both included.
func PriorityBand(lo, hi uint32) func(Policy) bool {
	return func(p Policy) bool { return p.Priority >= lo && p.Priority <= hi }
}

// SyncResult is what SyncPolicies did, or with DryRun would do.
type SyncResult struct {
	// Ops are the changes in the order they are sent: updates, then
	// adds, in the order of the wanted policies, then deletes (new
	// policies are in place before old ones go). A *BatchError's Index
	// is a place in Ops.
	Ops []PolicyOp
	// Unchanged counts the wanted policies the table already held as
	// wanted.
	Unchanged int
}

// ConflictError is a wanted policy of SyncPolicies whose place (selector,
// direction, type, mark and if_id) holds a policy Owns does not take: the
// sync would have to replace a policy it does not manage, and changes
// nothing. errors.Is finds ErrExists and fs.ErrExist in it.
type ConflictError struct {
	Index  int    // in the wanted policies
	Holder Policy // the policy in the way, as the kernel holds it
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("wanted policy %d (%s -> %s, dir %s): its place is held by a policy the sync does not own (index %d, priority %d)",
		e.Index, e.Holder.Sel.Src, e.Holder.Sel.Dst, dirName(e.Holder.Dir), e.Holder.Index, e.Holder.Priority)
}

// dirName gives a direction as ip xfrm writes it.
func dirName(d uint8) string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	case DirFwd:
		return "fwd"
	}
	return fmt.Sprint(d)
}

func (e *ConflictError) Unwrap() error { return ErrExists }

// policyKey is what the kernel tells policies apart by: no two policies of
// a table have the same (XFRM_MSG_NEWPOLICY refuses the second one, and
// UPDPOLICY replaces it), whatever their priorities.
type policyKey struct {
	sel        Selector
	dir, typ   uint8
	mark, mask uint32
	ifID       uint32
	hasSecCtx  bool
}

func keyOf(p *Policy) policyKey {
	return policyKey{sel: p.Sel, dir: p.Dir, typ: p.Type, mark: p.Mark, mask: p.Mask, ifID: p.IfID, hasSecCtx: p.SecCtx}
}

// idOf names the policy p for a delete: by its index, with what else the
// kernel checks.
func idOf(p *Policy) Policy {
	return Policy{Sel: p.Sel, Index: p.Index, Dir: p.Dir, Type: p.Type, Mark: p.Mark, Mask: p.Mask, IfID: p.IfID}
}

// samePolicy tells whether the kernel's policy now is the one written
// (both decoded): everything the codec carries, less what the kernel
// decides (the add time, and the index: UPDPOLICY keeps the index of the
// policy it replaces, whatever the request says). Field by field, not
// reflect.DeepEqual, which took a tenth of a sync's time;
// TestSamePolicyFields fails when Policy gains a field.
func samePolicy(now, written Policy) bool {
	return now.Sel == written.Sel && now.Dir == written.Dir && now.Action == written.Action &&
		now.Flags == written.Flags && now.Priority == written.Priority && now.Type == written.Type &&
		now.Mark == written.Mark && now.Mask == written.Mask && now.IfID == written.IfID &&
		now.SecCtx == written.SecCtx && now.HardAddExpires == written.HardAddExpires &&
		slices.Equal(now.Tmpls, written.Tmpls)
}

// asWritten is p as the kernel gives it back once written: what the codec
// carries of it, decoded (a template without a source reads back with the
// unspecified address of its family, say).
func asWritten(p Policy) Policy {
	q, err := decodePolicy(encodePolicy(p))
	if err != nil {
		return p
	}
	return q
}
