//go:build !linux

package xfrm

import (
	"net/netip"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// States implements the Linux API.
func (t *Table) States() ([]sadb.SA, error) { return nil, ErrNoXFRM }

// SAs implements the Linux API.
func (t *Table) SAs() ([]sadb.SA, error) { return nil, ErrNoXFRM }

// AddSA implements the Linux API.
func (t *Table) AddSA(sa sadb.SA) error { return ErrNoXFRM }

// DeleteSA implements the Linux API.
func (t *Table) DeleteSA(id eroute.SAID) error { return ErrNoXFRM }

// FlushSAs implements the Linux API.
func (t *Table) FlushSAs() error { return ErrNoXFRM }

// LocalAddrs implements the Linux API.
func (t *Table) LocalAddrs() ([]netip.Addr, error) { return nil, ErrNoXFRM }

// InboundPolicies implements the Linux API.
func (t *Table) InboundPolicies() ([]eroute.Eroute, error) { return nil, ErrNoXFRM }
