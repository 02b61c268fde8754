package app

import (
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
	}
}

func openSAs(netns string) (spi.Kernel, error) {
	t, err := xfrm.Open(netns)
	if err != nil {
		return nil, err
	}
	return t, nil
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
