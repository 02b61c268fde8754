//go:build !linux

package xfrm

import (
	"io"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// Table is the XFRM policy table; only Linux has one.
type Table struct{}

// Open always fails outside Linux.
func Open(netnsName string) (*Table, error) { return nil, ErrNoXFRM }

// Close implements the Linux API.
func (t *Table) Close() error { return nil }

// Add implements the Linux API.
func (t *Table) Add(e eroute.Eroute) error { return ErrNoXFRM }

// Replace implements the Linux API.
func (t *Table) Replace(e eroute.Eroute) error { return ErrNoXFRM }

// Delete implements the Linux API.
func (t *Table) Delete(s eroute.Selector) error { return ErrNoXFRM }

// Clear implements the Linux API.
func (t *Table) Clear(all bool) error { return ErrNoXFRM }

// Lookup implements the Linux API.
func (t *Table) Lookup(sel eroute.Selector, inbound bool) (Entry, bool, error) {
	return Entry{}, false, ErrNoXFRM
}

// Find implements the Linux API.
func (t *Table) Find(sel eroute.Selector, inbound bool) ([]Entry, error) { return nil, ErrNoXFRM }

// DeleteEntries implements the Linux API.
func (t *Table) DeleteEntries(es []Entry) error { return ErrNoXFRM }

// Shadow implements the Linux API.
func (t *Table) Shadow(e eroute.Eroute) (*Entry, error) { return nil, ErrNoXFRM }

// WalkEntries implements the Linux API.
func (t *Table) WalkEntries(fn func(Entry) error) error { return ErrNoXFRM }

// List implements the Linux API.
func (t *Table) List() ([]eroute.Eroute, error) { return nil, ErrNoXFRM }

// Walk implements the Linux API.
func (t *Table) Walk(fn func(eroute.Eroute) error) error { return ErrNoXFRM }

// WriteListing implements the Linux API.
func (t *Table) WriteListing(w io.Writer) error { return ErrNoXFRM }

// Apply implements the Linux API.
func (t *Table) Apply(ops []Op) error { return ErrNoXFRM }

// ApplyFunc implements the Linux API.
func (t *Table) ApplyFunc(n int, op func(i int) Op) error { return ErrNoXFRM }

// ApplyFuncUntil implements the Linux API.
func (t *Table) ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error {
	return ErrNoXFRM
}

// AddInbound is not available without XFRM.
func (t *Table) AddInbound(e eroute.Eroute, replace bool) error { return ErrNoXFRM }

// AddHold is not available without XFRM.
func (t *Table) AddHold(h Hold, timeout time.Duration) error { return ErrNoXFRM }

// Holds is not available without XFRM.
func (t *Table) Holds() ([]Hold, error) { return nil, ErrNoXFRM }

// DeleteHold is not available without XFRM.
func (t *Table) DeleteHold(h Hold) (bool, error) { return false, ErrNoXFRM }

// Guard watches the policy table; only Linux has one.
type Guard struct{}

// OpenGuard always fails outside Linux.
func OpenGuard(netnsName, path string) (*Guard, error) { return nil, ErrNoXFRM }

// Next implements the Linux API.
func (g *Guard) Next() (Event, error) { return nil, ErrClosed }

// Own implements the Linux API.
func (g *Guard) Own() int { return 0 }

// StaleHolds implements the Linux API.
func (g *Guard) StaleHolds() []Hold { return nil }

// Close implements the Linux API.
func (g *Guard) Close() error { return nil }

// AcquireExpiry is not available without XFRM.
func AcquireExpiry(netnsName string) (time.Duration, error) { return 0, ErrNoXFRM }

// Listener reads ACQUIREs; only Linux sends them.
type Listener struct{}

// Listen always fails outside Linux.
func Listen(netnsName string, rcvbuf int) (*Listener, error) { return nil, ErrNoXFRM }

// Next implements the Linux API.
func (l *Listener) Next() (Event, error) { return nil, ErrClosed }

// Close implements the Linux API.
func (l *Listener) Close() error { return nil }

// SetDeadline: no XFRM here.
func (l *Listener) SetDeadline(t time.Time) error { return ErrNoXFRM }

// ClaimMonitor always fails outside Linux: there is nothing to monitor.
func ClaimMonitor(netnsName string) (io.Closer, error) { return nil, ErrNoXFRM }

// DeleteInbound is not available without XFRM.
func (t *Table) DeleteInbound(s eroute.Selector) error { return ErrNoXFRM }

// Snapshot is the table as one dump saw it; only Linux has one.
type Snapshot struct{}

// Snapshot implements the Linux API.
func (t *Table) Snapshot() (*Snapshot, error) { return nil, ErrNoXFRM }

// Len implements the Linux API.
func (s *Snapshot) Len() int { return 0 }

// Entry implements the Linux API.
func (s *Snapshot) Entry(i int) Entry { return Entry{} }

// Each implements the Linux API.
func (s *Snapshot) Each(fn func(Entry)) {}

// Match implements the Linux API.
func (s *Snapshot) Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) (repeats bool) {
	return false
}

// IndexSelectors implements the Linux API.
func (s *Snapshot) IndexSelectors() {}

// Apply implements the Linux API.
func (s *Snapshot) Apply(ops []Op) error { return ErrNoXFRM }

// Close implements the Linux API.
func (s *Snapshot) Close() error { return nil }

// ApplyFunc implements the Linux API.
func (s *Snapshot) ApplyFunc(n int, op func(i int) Op) error { return ErrNoXFRM }

// ApplyFuncUntil implements the Linux API.
func (s *Snapshot) ApplyFuncUntil(stop <-chan struct{}, n int, op func(i int) Op) error {
	return ErrNoXFRM
}

// Inbound implements the Linux API.
func (t *Table) Inbound() ([]Entry, error) { return nil, ErrNoXFRM }
