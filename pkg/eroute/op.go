package eroute

// OpKind is what one change of a batch does: the command line reads it from
// a --batch or --sync file, and the driver carries it out. One type for both,
// so that nothing has to translate between two numberings.
type OpKind uint8

// The changes of a batch, as --add, --replace, --del and --clear make them.
const (
	OpAdd OpKind = iota + 1
	OpReplace
	OpDelete
	OpClear
)

// Op is one change of a batch: the command line reads it from a file, and
// the driver (package xfrm, as xfrm.Op) carries it out. Delete uses the
// Eroute's Selector only; Clear uses nothing. The Eroute comes first and
// Kind with the flags, so that an Op is 128 bytes, not 136: a batch holds
// one for each line.
type Op struct {
	Eroute Eroute
	Kind   OpKind
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
	// Inbound: the op is on the inbound policy (an --addin line of a
	// --sync file), not the outbound eroute. The driver's batches carry
	// outbound ops only and refuse one with Inbound set.
	Inbound bool
	// Line is where the op came from (a file's line number, 0 for none),
	// for the caller's messages; the driver does not read it.
	Line int
}

// BatchError says which op of a batch was refused, after the batch was
// undone: the table is as it was before. Err is what the single change
// would have given (the driver's refusal, or a *ForeignError for an op
// refused before anything was sent).
type BatchError struct {
	Index int // in the ops given to Apply; -1 when no one op was refused
	Err   error
}

func (e *BatchError) Error() string { return e.Err.Error() }
func (e *BatchError) Unwrap() error { return e.Err }
