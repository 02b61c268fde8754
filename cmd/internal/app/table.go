package app

import (
	"errors"
	"io"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/xfrm"
)

// table gives pkg/cli the XFRM table with the driver's errors in the
// command's words; the entries and ops are the same types on both sides
// (package eroute's), handed on as they are.
//
// The driver's table is a named field, not embedded: a method of the
// driver's that pkg/cli looks for (an optional interface such as
// WriteListing) must be written here, so that none reaches pkg/cli with the
// driver's errors unworded.
type table struct {
	Table *xfrm.Table
}

// The compile-time checks that the adapters are what pkg/cli wants.
var (
	_ cli.Table         = table{}
	_ cli.Snapshot      = snapshot{}
	_ cli.MonitorKernel = (*kernelMonitor)(nil)
	// The optional interfaces pkg/cli looks for.
	_ interface{ WriteListing(io.Writer) error } = table{}
	_ interface {
		ApplyUntil(<-chan struct{}, []cli.Op) error
	} = table{}
	_ interface {
		ApplyUntil(<-chan struct{}, []cli.Op) error
	} = snapshot{}
)

// Every method gives pkg/cli the driver's errors in the command's words
// (cliError).

func openTable(netns string) (cli.Table, error) {
	t, err := xfrm.Open(netns)
	if err != nil {
		return nil, cliError(err)
	}
	return table{t}, nil
}

func (t table) Add(e eroute.Eroute) error     { return cliError(t.Table.Add(e)) }
func (t table) Replace(e eroute.Eroute) error { return cliError(t.Table.Replace(e)) }
func (t table) Clear(all bool) error          { return cliError(t.Table.Clear(all)) }
func (t table) Close() error                  { return cliError(t.Table.Close()) }

func (t table) AddInbound(e eroute.Eroute, replace bool) error {
	return cliError(t.Table.AddInbound(e, replace))
}

func (t table) List() ([]eroute.Eroute, error) {
	l, err := t.Table.List()
	return l, cliError(err)
}

func (t table) Walk(fn func(eroute.Eroute) error) error {
	return cliError(t.Table.Walk(fn))
}

// WriteListing is pkg/cli's fast listing (see list there).
func (t table) WriteListing(w io.Writer) error {
	return cliError(t.Table.WriteListing(w))
}

// Apply hands the ops to the driver: pkg/cli's ops are the driver's.
func (t table) Apply(ops []cli.Op) error {
	return batchError(t.Table.Apply(ops))
}

// ApplyUntil is Apply that stops, and undoes, once stop is closed.
func (t table) ApplyUntil(stop <-chan struct{}, ops []cli.Op) error {
	return batchError(t.Table.ApplyFuncUntil(stop, len(ops), func(i int) cli.Op { return ops[i] }))
}

func (t table) Snapshot() (cli.Snapshot, error) {
	s, err := t.Table.Snapshot()
	if err != nil {
		return nil, cliError(err)
	}
	return snapshot{s}, nil
}

func (t table) WalkEntries(fn func(cli.Entry) error) error {
	return cliError(t.Table.WalkEntries(fn))
}

func (t table) Lookup(sel eroute.Selector, inbound bool) (cli.Entry, bool, error) {
	e, ok, err := t.Table.Lookup(sel, inbound)
	return e, ok, cliError(err)
}

func (t table) Find(sel eroute.Selector, inbound bool) ([]cli.Entry, error) {
	es, err := t.Table.Find(sel, inbound)
	return es, cliError(err)
}

func (t table) DeleteEntries(es []cli.Entry) error {
	return cliError(t.Table.DeleteEntries(es))
}

func (t table) Shadow(e eroute.Eroute) (*cli.Entry, error) {
	h, err := t.Table.Shadow(e)
	return h, cliError(err)
}

// InboundEntries gives pkg/cli the inbound policies.
func (t table) InboundEntries() ([]cli.Entry, error) {
	es, err := t.Table.Inbound()
	return es, cliError(err)
}

// Holds gives pkg/cli the monitor's holds.
func (t table) Holds() ([]cli.Hold, error) {
	hs, err := t.Table.Holds()
	return hs, cliError(err)
}

// snapshot gives pkg/cli a snapshot of the XFRM table.
type snapshot struct {
	Snapshot *xfrm.Snapshot
}

func (s snapshot) Len() int { return s.Snapshot.Len() }

func (s snapshot) Entry(i int) cli.Entry { return s.Snapshot.Entry(i) }

func (s snapshot) Match(n int, sel func(i int) eroute.Selector, found func(i int, e cli.Entry), rest func(e cli.Entry)) bool {
	return s.Snapshot.Match(n, sel, found, rest)
}

func (s snapshot) IndexSelectors() { s.Snapshot.IndexSelectors() }

func (s snapshot) Close() error { return cliError(s.Snapshot.Close()) }

func (s snapshot) Apply(ops []cli.Op) error {
	return batchError(s.Snapshot.Apply(ops))
}

// ApplyUntil is Apply that stops, and undoes, once stop is closed.
func (s snapshot) ApplyUntil(stop <-chan struct{}, ops []cli.Op) error {
	return batchError(s.Snapshot.ApplyFuncUntil(stop, len(ops), func(i int) cli.Op { return ops[i] }))
}

// batchError words the refusal of one op of a batch for pkg/cli; a
// *ForeignError passes as it is (its words are the model's), and an
// *xfrm.UndoError (the table is NOT as it was) is no *BatchError.
func batchError(err error) error {
	var be *cli.BatchError
	if errors.As(err, &be) {
		return &cli.BatchError{Index: be.Index, Err: cliError(be.Err)}
	}
	return cliError(err)
}
