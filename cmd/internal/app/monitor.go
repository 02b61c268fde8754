package app

import (
	"errors"
	"io"
	"time"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/xfrm"
)

// kernelMonitor gives pkg/cli's --monitor the kernel: the namespace claimed
// for one monitor, an ACQUIRE listener, and the table for the holds.
type kernelMonitor struct {
	claim    io.Closer
	listener *xfrm.Listener
	table    *xfrm.Table
}

func openMonitor(netns string, rcvbuf int) (cli.MonitorKernel, error) {
	claim, err := xfrm.ClaimMonitor(netns)
	if err != nil {
		return nil, err
	}
	table, err := xfrm.Open(netns)
	if err != nil {
		claim.Close()
		return nil, err
	}
	listener, err := xfrm.Listen(netns, rcvbuf)
	if err != nil {
		table.Close()
		claim.Close()
		return nil, err
	}
	return &kernelMonitor{claim: claim, listener: listener, table: table}, nil
}

// Next translates the listener's events; policy expiries other than a
// monitor hold's are skipped.
func (m *kernelMonitor) Next() (any, error) {
	for {
		ev, err := m.listener.Next()
		switch {
		case errors.Is(err, xfrm.ErrOverrun):
			return nil, cli.ErrOverrun
		case errors.Is(err, xfrm.ErrClosed):
			return nil, cli.ErrStopped
		case err != nil:
			return nil, err
		}
		switch ev := ev.(type) {
		case *xfrm.Acquire:
			return &cli.Acquired{Flow: ev.Flow, Eroute: ev.Eroute}, nil
		case *xfrm.PolicyExpire:
			if h, ok := xfrm.HoldOf(ev.Policy); ok && ev.Hard {
				return &cli.HoldReaped{Selector: h.Selector}, nil
			}
		}
	}
}

func (m *kernelMonitor) StopListening() { m.listener.Close() }

func (m *kernelMonitor) AddHold(sel eroute.Selector, timeout time.Duration) error {
	err := m.table.AddHold(sel, timeout)
	if errors.Is(err, xfrm.ErrExists) {
		return cli.ErrHoldExists
	}
	return err
}

func (m *kernelMonitor) DeleteHold(sel eroute.Selector) (bool, error) {
	return m.table.DeleteHold(sel)
}

func (m *kernelMonitor) StaleHolds() ([]eroute.Selector, error) {
	holds, err := m.table.Holds()
	sels := make([]eroute.Selector, len(holds))
	for i, h := range holds {
		sels[i] = h.Selector
	}
	return sels, err
}

func (m *kernelMonitor) Close() error {
	m.listener.Close()
	m.table.Close()
	return m.claim.Close()
}
