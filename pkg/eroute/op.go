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
