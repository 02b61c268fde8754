// Package app wires the eroute command line to the XFRM driver and the
// system's name services; the two mains share it.
package app

import (
	"fmt"
	"os"
	"time"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
)

// Eroute runs one eroute command line (without the program name) and gives
// its exit status.
func Eroute(args []string) int {
	defer startProfile()()
	return cli.Run(args, cli.Env{
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Open:        openTable,
		OpenMonitor: openMonitor,
		LockTable:   lockTable,
		Parser:      cli.Parser{Resolver: eroute.SystemResolver{}, Names: eroute.SystemNames},
	})
}

// lockTable takes the namespace's write lock (see pkg/cli's lockWriters).
func lockTable(netns string, wait time.Duration) (func() error, error) {
	l, err := nslock.Acquire(netns, "write", wait)
	if err != nil {
		return nil, err
	}
	return l.Release, nil
}

// subcommands are what `ipsec` knows, as FreeS/WAN's front end dispatched
// `ipsec eroute` to the eroute program.
var subcommands = map[string]func([]string) int{
	"eroute": Eroute,
	"spi":    Spi,
	"spigrp": Spigrp,
}

// Ipsec runs `ipsec WORD ARGS`: WORD eroute, spi or spigrp; any other
// word is refused with the list of words this ipsec knows.
func Ipsec(args []string) int {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd(args[1:])
		}
		if args[0] == "--help" || args[0] == "help" {
			fmt.Println("usage: ipsec eroute|spi|spigrp [ARGS]  (see ipsec WORD --help)")
			return 0
		}
		fmt.Fprintf(os.Stderr, "ipsec: unknown command %q; known commands: eroute, spi, spigrp\n", args[0])
		return 1
	}
	fmt.Fprintln(os.Stderr, "ipsec: no command given; known commands: eroute, spi, spigrp")
	return 1
}
