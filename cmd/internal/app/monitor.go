package app

import (
	"errors"
	"io"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/xfrm"
)

// kernelMonitor gives pkg/cli's --monitor the kernel: the namespace claimed
// for one monitor, an ACQUIRE listener, the table for the holds, and the
// guard that puts back eroutes whose selector a foreign policy took over
// and then left. The listener and the guard each run on a goroutine of
// their own, feeding one channel, so that a long read of the table by the
// guard never delays an ACQUIRE.
type kernelMonitor struct {
	netns    string
	claim    io.Closer
	listener *xfrm.Listener
	table    *xfrm.Table
	guard    *xfrm.Guard
	events   chan monitorItem
	done     chan struct{}
}

type monitorItem struct {
	ev  any
	err error
}

// openMonitor opens the table and the listener before it takes the
// monitor lock, so that a namespace that does not exist, or a user who may
// not listen, hears that rather than a message about the lock.
func openMonitor(netns string, rcvbuf int) (cli.MonitorKernel, error) {
	table, err := xfrm.Open(netns)
	if err != nil {
		return nil, cliError(err)
	}
	listener, err := xfrm.Listen(netns, rcvbuf)
	if err != nil {
		table.Close()
		return nil, cliError(err)
	}
	claim, err := xfrm.ClaimMonitor(netns)
	if err != nil {
		listener.Close()
		table.Close()
		return nil, cliError(err)
	}
	m := &kernelMonitor{netns: netns, claim: claim, listener: listener, table: table,
		events: make(chan monitorItem, 16), done: make(chan struct{})}
	state, err := nslock.File(netns, "monitor", "takeovers")
	if err != nil {
		state = "" // the guard still works, without surviving a restart
	}
	if m.guard, err = xfrm.OpenGuard(netns, state); err != nil {
		m.Close()
		return nil, cliError(err)
	}
	go m.pumpAcquires()
	go m.pumpGuard()
	return m, nil
}

// send hands an item to Next, unless the monitor is closing.
func (m *kernelMonitor) send(ev any, err error) bool {
	select {
	case m.events <- monitorItem{ev, err}:
		return true
	case <-m.done:
		return false
	}
}

// pumpAcquires hands on the listener's events (listenerEvent).
func (m *kernelMonitor) pumpAcquires() {
	for {
		ev, err := m.listener.Next()
		switch {
		case errors.Is(err, xfrm.ErrOverrun): // pkg/cli's too
		case err != nil: // xfrm.ErrClosed is net.ErrClosed, as pkg/cli wants
			m.send(nil, cliError(err))
			return
		}
		out := listenerEvent(ev)
		if (out != nil || err != nil) && !m.send(out, err) {
			return
		}
	}
}

// pumpGuard reports what the guard did (guardEvent).
func (m *kernelMonitor) pumpGuard() {
	for {
		ev, err := m.guard.Next()
		if err != nil {
			if !errors.Is(err, xfrm.ErrClosed) {
				m.send(&cli.Note{Text: "the policy table is no longer watched: " + cliError(err).Error()}, nil)
			}
			return
		}
		if out := guardEvent(ev); out != nil && !m.send(out, nil) {
			return
		}
	}
}

func (m *kernelMonitor) Next() (any, error) {
	it := <-m.events
	return it.ev, it.err
}

// listenerEvent gives pkg/cli what the listener saw: an ACQUIRE, or a
// monitor hold the kernel deleted when its time was up; nil for the rest
// (other expiries, policy changes). xfrm's events are a closed set of its
// own, so they are handed on as pkg/cli's.
func listenerEvent(ev xfrm.Event) any {
	switch ev := ev.(type) {
	case *xfrm.Acquire:
		return &cli.Acquired{Flow: ev.Flow, Eroute: ev.Eroute, Foreign: !ev.Own,
			Scope: xfrm.ScopeOf(ev.Policy), Priority: ev.Policy.Priority}
	case *xfrm.PolicyExpire:
		if h, ok := xfrm.HoldOf(ev.Policy); ok && ev.Hard {
			return &cli.HoldReaped{Hold: h}
		}
	}
	return nil
}

// guardEvent gives pkg/cli what the guard did, its errors in the command's
// words; nil for what pkg/cli does not report.
func guardEvent(ev xfrm.Event) any {
	switch ev := ev.(type) {
	case *xfrm.TakenOver:
		return &cli.TakenOver{Eroute: ev.Eroute, By: ev.By}
	case *xfrm.Restored:
		return &cli.Restored{Eroute: ev.Eroute, Err: cliError(ev.Err)}
	case *xfrm.GuardNote:
		return &cli.Note{Text: ev.Text}
	}
	return nil
}

func (m *kernelMonitor) StopListening() { m.listener.Close() }

func (m *kernelMonitor) AddHold(h cli.Hold, trap uint32, timeout time.Duration) error {
	prio, ok := xfrm.HoldPriority(trap)
	if !ok {
		return cli.ErrCannotOutrank
	}
	h.Priority = prio
	return cliError(m.table.AddHold(h, timeout)) // xfrm.ErrExists is fs.ErrExist, as pkg/cli wants
}

func (m *kernelMonitor) DeleteHold(h cli.Hold) (bool, error) {
	ok, err := m.table.DeleteHold(h)
	return ok, cliError(err)
}

// StaleHolds gives the holds the guard's reading of the table found: the
// table is read once at start, for both.
func (m *kernelMonitor) StaleHolds() ([]cli.Hold, error) {
	return m.guard.StaleHolds(), nil
}

func (m *kernelMonitor) Tracked() int { return m.guard.Own() }

func (m *kernelMonitor) AcquireExpiry() (time.Duration, error) {
	return xfrm.AcquireExpiry(m.netns)
}

func (m *kernelMonitor) Close() error {
	close(m.done)
	m.listener.Close()
	if m.guard != nil {
		m.guard.Close()
	}
	m.table.Close()
	return m.claim.Close()
}
