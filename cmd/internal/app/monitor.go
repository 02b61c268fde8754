package app

import (
	"errors"
	"io"
	"time"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/xfrm"
)

// kernelMonitor gives pkg/cli's --monitor the kernel: the namespace claimed
// for one monitor, an ACQUIRE listener, and the table for the holds.
type kernelMonitor struct {
	netns    string
	claim    io.Closer
	listener *xfrm.Listener
	table    *xfrm.Table
}

// openMonitor opens the table and the listener before it takes the
// monitor lock, so that a namespace that does not exist, or a user who may
// not listen, hears that rather than a message about the lock.
func openMonitor(netns string, rcvbuf int) (cli.MonitorKernel, error) {
	table, err := xfrm.Open(netns)
	if err != nil {
		return nil, err
	}
	listener, err := xfrm.Listen(netns, rcvbuf)
	if err != nil {
		table.Close()
		return nil, err
	}
	claim, err := xfrm.ClaimMonitor(netns)
	if err != nil {
		listener.Close()
		table.Close()
		return nil, err
	}
	return &kernelMonitor{netns: netns, claim: claim, listener: listener, table: table}, nil
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
			return acquired(ev), nil
		case *xfrm.PolicyExpire:
			if h, ok := xfrm.HoldOf(ev.Policy); ok && ev.Hard {
				return &cli.HoldReaped{Hold: cliHold(h)}, nil
			}
		}
	}
}

func acquired(ev *xfrm.Acquire) *cli.Acquired {
	return &cli.Acquired{Flow: ev.Flow, Eroute: ev.Eroute, Foreign: !ev.Own,
		Scope: cli.Scope(xfrm.ScopeOf(ev.Policy)), Priority: ev.Policy.Priority}
}

func cliHold(h xfrm.Hold) cli.Hold {
	return cli.Hold{Selector: h.Selector, Scope: cli.Scope(h.Scope)}
}

func (m *kernelMonitor) StopListening() { m.listener.Close() }

func (m *kernelMonitor) AddHold(h cli.Hold, trap uint32, timeout time.Duration) error {
	prio, ok := xfrm.HoldPriority(trap)
	if !ok {
		return cli.ErrCannotOutrank
	}
	err := m.table.AddHold(xfrm.Hold{Selector: h.Selector, Scope: xfrm.Scope(h.Scope), Priority: prio}, timeout)
	if errors.Is(err, xfrm.ErrExists) {
		return cli.ErrHoldExists
	}
	return err
}

func (m *kernelMonitor) DeleteHold(h cli.Hold) (bool, error) {
	return m.table.DeleteHold(xfrm.Hold{Selector: h.Selector, Scope: xfrm.Scope(h.Scope)})
}

func (m *kernelMonitor) StaleHolds() ([]cli.Hold, error) {
	holds, err := m.table.Holds()
	hs := make([]cli.Hold, len(holds))
	for i, h := range holds {
		hs[i] = cliHold(h)
	}
	return hs, err
}

func (m *kernelMonitor) AcquireExpiry() (time.Duration, error) {
	return xfrm.AcquireExpiry(m.netns)
}

func (m *kernelMonitor) Close() error {
	m.listener.Close()
	m.table.Close()
	return m.claim.Close()
}
