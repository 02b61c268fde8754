//go:build !linux

package xfrm

import "github.com/eroute/eroute/pkg/eroute"

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
func (t *Table) Clear() error { return ErrNoXFRM }

// List implements the Linux API.
func (t *Table) List() ([]eroute.Eroute, error) { return nil, ErrNoXFRM }

// AddInbound is not available without XFRM.
func (t *Table) AddInbound(e eroute.Eroute, replace bool) error { return ErrNoXFRM }
