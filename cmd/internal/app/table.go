package app

import (
	"errors"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
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

func (t table) Snapshot() (cli.Snapshot, error) {
	s, err := t.Table.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapshot{s}, nil
}

// InboundEntries gives pkg/cli the inbound policies.
func (t table) InboundEntries() ([]cli.Entry, error) {
	es, err := t.Table.Inbound()
	if err != nil {
		return nil, err
	}
	out := make([]cli.Entry, len(es))
	for i, e := range es {
		out[i] = cliEntry(e)
	}
	return out, nil
}

// MonitorHolds gives pkg/cli the selectors of the monitor's holds.
func (t table) MonitorHolds() ([]eroute.Selector, error) {
	hs, err := t.Table.Holds()
	if err != nil {
		return nil, err
	}
	sels := make([]eroute.Selector, len(hs))
	for i, h := range hs {
		sels[i] = h.Selector
	}
	return sels, nil
}

func cliEntry(e xfrm.Entry) cli.Entry {
	return cli.Entry{Eroute: e.Eroute, Own: e.Own, Deletable: e.Deletable}
}

// snapshot gives pkg/cli a snapshot of the XFRM table.
type snapshot struct {
	*xfrm.Snapshot
}

func (s snapshot) Entry(i int) cli.Entry {
	return cliEntry(s.Snapshot.Entry(i))
}

func (s snapshot) Apply(ops []cli.Op) error {
	return batchError(s.Snapshot.ApplyFunc(len(ops), opFunc(ops)))
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
