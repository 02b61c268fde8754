package app

import (
	"errors"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/xfrm"
)

// table gives pkg/cli the XFRM table, translating the batch types.
type table struct {
	*xfrm.Table
}

func openTable(netns string) (cli.Table, error) {
	t, err := xfrm.Open(netns)
	if err != nil {
		return nil, err
	}
	return table{t}, nil
}

// Apply hands the ops to the driver without copying them.
func (t table) Apply(ops []cli.Op) error {
	return batchError(t.Table.ApplyFunc(len(ops), opFunc(ops)))
}

// ApplyUntil is Apply that stops, and undoes, once stop is closed.
func (t table) ApplyUntil(stop <-chan struct{}, ops []cli.Op) error {
	return batchError(t.Table.ApplyFuncUntil(stop, len(ops), opFunc(ops)))
}

func (t table) Snapshot() (cli.Snapshot, error) {
	s, err := t.Table.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapshot{s}, nil
}

// snapshot gives pkg/cli a snapshot of the XFRM table.
type snapshot struct {
	*xfrm.Snapshot
}

func (s snapshot) Entry(i int) cli.Entry {
	e := s.Snapshot.Entry(i)
	return cli.Entry{Eroute: e.Eroute, Own: e.Own, Deletable: e.Deletable}
}

func (s snapshot) Apply(ops []cli.Op) error {
	return batchError(s.Snapshot.ApplyFunc(len(ops), opFunc(ops)))
}

// ApplyUntil is Apply that stops, and undoes, once stop is closed.
func (s snapshot) ApplyUntil(stop <-chan struct{}, ops []cli.Op) error {
	return batchError(s.Snapshot.ApplyFuncUntil(stop, len(ops), opFunc(ops)))
}

func opFunc(ops []cli.Op) func(i int) xfrm.Op {
	return func(i int) xfrm.Op { return xfrm.Op{Kind: ops[i].Kind, Eroute: ops[i].Eroute} }
}

// batchError gives pkg/cli the op the kernel refused.
func batchError(err error) error {
	var be *xfrm.BatchError
	if errors.As(err, &be) {
		return &cli.BatchError{Index: be.Index, Err: be.Err}
	}
	return err // *xfrm.UndoError: the table is NOT as it was
}
