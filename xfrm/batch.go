package xfrm

import (
	"errors"
	"fmt"

	"github.com/eroute/eroute/pkg/eroute"
)

// The batch and listing model is package eroute's (pkg/eroute), below both
// this driver and the command line, so that neither translates the
// other's types; these names let a library user write xfrm.Op.
type (
	// Op is one operation of a batch (see eroute.Op).
	Op = eroute.Op
	// BatchError says which op the kernel refused, after the batch was
	// undone: the table is as it was before Apply. Err is what the single
	// call would have returned (ErrExists, ErrNotFound, ErrPermission, a
	// *ForeignError...).
	BatchError = eroute.BatchError
	// Entry is one policy of the listing with who made it and what the
	// kernel holds of it besides the eroute.
	Entry = eroute.Entry
	// ForeignError is the refusal of a change to a policy eroute did not
	// make (an op without Force in a batch).
	ForeignError = eroute.ForeignError
)

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
