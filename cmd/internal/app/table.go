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
	err := t.Table.ApplyFunc(len(ops), func(i int) xfrm.Op {
		return xfrm.Op{Kind: ops[i].Kind, Eroute: ops[i].Eroute}
	})
	var be *xfrm.BatchError
	if errors.As(err, &be) {
		return &cli.BatchError{Index: be.Index, Err: be.Err}
	}
	return err // *xfrm.UndoError: the table is NOT as it was
}

func (t table) Entries() ([]cli.Entry, error) {
	es, err := t.Table.Entries()
	if err != nil {
		return nil, err
	}
	out := make([]cli.Entry, len(es))
	for i, e := range es {
		out[i] = cli.Entry{Eroute: e.Eroute, Own: e.Own, Deletable: e.Deletable}
	}
	return out, nil
}
