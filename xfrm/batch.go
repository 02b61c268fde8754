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

// Entry is one policy of the listing with who made it.
type Entry struct {
	eroute.Eroute
	// Own: eroute wrote the policy (its kind is recognised, see ErouteOf);
	// false for the policies of ip xfrm or IKE daemons.
	Own bool
	// Deletable: Delete by the Selector removes this very policy (no mark,
	// no if_id, no security context, nothing in the selector an eroute
	// cannot say).
	Deletable bool
}
