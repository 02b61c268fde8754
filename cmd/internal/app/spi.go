package app

import (
	"net/netip"
	"os"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/spi"
	"github.com/eroute/eroute/xfrm"
)

// Spi runs one `ipsec spi` command line (without the words before it).
func Spi(args []string) int { return spi.RunSpi(args, spiEnv()) }

// Spigrp runs one `ipsec spigrp` command line.
func Spigrp(args []string) int { return spi.RunSpigrp(args, spiEnv()) }

func spiEnv() spi.Env {
	return spi.Env{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Open:     openSAs,
		Resolver: eroute.SystemResolver{},
		Now:      time.Now,
		Lock:     lockSAs,
		Self:     self(),
	}
}

// self is this program's path, for the lines `ipsec spi --save` writes:
// the ipsec front end lives off PATH, where strongSwan's may be.
func self() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return "ipsec"
}

func openSAs(netns string) (spi.Kernel, error) {
	t, err := xfrm.Open(netns)
	if err != nil {
		return nil, saError(err)
	}
	return saTable{t}, nil
}

// saTable gives pkg/spi the SA table, with the driver's errors in the
// commands' words (saError).
type saTable struct {
	Table *xfrm.Table
}

var _ spi.Kernel = saTable{}

func (t saTable) AddSA(sa spi.SA) error         { return saError(t.Table.AddSA(sa)) }
func (t saTable) DeleteSA(id eroute.SAID) error { return saError(t.Table.DeleteSA(id)) }
func (t saTable) FlushSAs() error               { return saError(t.Table.FlushSAs()) }
func (t saTable) Close() error                  { return saError(t.Table.Close()) }

func (t saTable) SAs() ([]spi.SA, error) {
	sas, err := t.Table.SAs()
	return sas, saError(err)
}

func (t saTable) InboundPolicies() ([]eroute.Eroute, error) {
	es, err := t.Table.InboundPolicies()
	return es, saError(err)
}

func (t saTable) LocalAddrs() ([]netip.Addr, error) {
	as, err := t.Table.LocalAddrs()
	return as, saError(err)
}

// lockSAs serialises the SA commands that change a namespace: a regroup
// reads the SAs, then deletes and adds some, and two at once could undo
// each other.
func lockSAs(netns string) (func(), error) {
	l, err := nslock.Acquire(netns, "sa", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return func() { l.Release() }, nil
}
