//go:build !linux

package xfrm

import (
	"net/netip"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/spi"
)

// States implements the Linux API.
func (t *Table) States() ([]spi.SA, error) { return nil, ErrNoXFRM }

// SAs implements the Linux API.
func (t *Table) SAs() ([]spi.SA, error) { return nil, ErrNoXFRM }

// AddSA implements the Linux API.
func (t *Table) AddSA(sa spi.SA) error { return ErrNoXFRM }

// DeleteSA implements the Linux API.
func (t *Table) DeleteSA(id eroute.SAID) error { return ErrNoXFRM }

// FlushSAs implements the Linux API.
func (t *Table) FlushSAs() error { return ErrNoXFRM }

// LocalAddrs implements the Linux API.
func (t *Table) LocalAddrs() ([]netip.Addr, error) { return nil, ErrNoXFRM }

// InboundPolicies implements the Linux API.
func (t *Table) InboundPolicies() ([]eroute.Eroute, error) { return nil, ErrNoXFRM }
