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

func (t table) Apply(ops []cli.Op) error {
	return errors.New("--batch is not available yet")
}

func (t table) Entries() ([]cli.Entry, error) {
	return nil, errors.New("--sync is not available yet")
}
