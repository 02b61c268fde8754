package xfrm

import (
	"errors"
	"fmt"

	"github.com/eroute/eroute/pkg/eroute"
)

// Op is one operation of a batch. Delete uses the Eroute's Selector only;
// Clear uses nothing.
type Op struct {
	Kind   eroute.OpKind
	Eroute eroute.Eroute
	// Force lets a Replace or a Delete act on a policy eroute did not
	// make, and a Clear delete those too (--force, --clear --all).
	// Without it such an op is refused with a *ForeignError and the
	// batch changes nothing.
	Force bool
	// Idempotent makes an op whose effect is already in place a success,
	// for a caller that wants a state rather than a change (--sync): a
	// Delete that finds nothing, an Add that finds eroute's own policy
	// with the same SAID (a monitor's temporary hold is not that).
	Idempotent bool
}

// BatchError says which op the kernel refused, after the batch was undone:
// the table is as it was before Apply. Err is what the single call would
// have returned (ErrExists, ErrNotFound, ErrPermission, a refusal...).
type BatchError struct {
	Index int // in the ops given to Apply
	Err   error
}

func (e *BatchError) Error() string { return e.Err.Error() }
func (e *BatchError) Unwrap() error { return e.Err }

// ErrInterrupted is the error of a batch that was stopped (ApplyFuncUntil),
// and undone, before its end.
var ErrInterrupted = errors.New("interrupted")

// UndoError says that the kernel refused op Index and that undoing the ops
// before it failed too: the table is NOT as it was. It is not a
// *BatchError, so that no caller reports "nothing was changed" for it.
type UndoError struct {
	Index   int   // the op the kernel refused, -1 when unknown
	Err     error // why the op failed
	UndoErr error // why the undo failed
}

func (e *UndoError) Error() string {
	return fmt.Sprintf("%v; undoing the changes made before it failed too (%v): the table is not as it was", e.Err, e.UndoErr)
}

func (e *UndoError) Unwrap() error { return e.Err }

// Entry is one policy of the listing with who made it and what the
// kernel holds of it besides the eroute.
type Entry struct {
	eroute.Eroute
	// Own: eroute wrote the policy (its kind is recognised, see ErouteOf);
	// false for the policies of ip xfrm or IKE daemons.
	Own bool
	// Deletable: Delete by the Selector removes this very policy (no mark,
	// no if_id, no security context, nothing in the selector an eroute
	// cannot say).
	Deletable bool
	Inbound   bool // direction in (an --addin policy), else out
	// MonitorHold: a monitor's temporary %hold (see HoldOf); Own too.
	MonitorHold bool
	Priority    uint32
	Index       uint32 // the kernel's name for the policy
	Mark        uint32 // the mark and mask it matches, both 0 for none
	Mask        uint32
	IfID        uint32
	Tmpls       []Template
	// ShadowedBy, when Shadowed, is a policy eroute did not make that
	// covers every packet of this eroute's selector with a lower priority
	// value: the kernel takes it first, so this eroute never matches.
	ShadowedBy *Entry
}

// ForeignError is the refusal of a change to a policy eroute did not make
// (an op without Force in a batch, or Table.Refuse for a single command).
type ForeignError struct {
	Holder Entry
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("the selector %s belongs to a policy eroute did not make (%s => %s, priority %d)",
		e.Holder.Selector, e.Holder.Selector, e.Holder.SAID, e.Holder.Priority)
}
