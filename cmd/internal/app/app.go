// Package app wires the eroute command line to the XFRM driver and the
// system's name services; the two mains share it.
package app

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
)

// Eroute runs one eroute command line (without the program name) and gives
// its exit status.
func Eroute(args []string) int {
	if path := os.Getenv("EROUTE_CPUPROFILE"); path != "" {
		defer startProfile(path)()
	}
	return cli.Run(args, cli.Env{
		Stdin:       os.Stdin,
		Stdout:      os.Stdout,
		Stderr:      os.Stderr,
		Open:        openTable,
		OpenMonitor: openMonitor,
		Parser:      cli.Parser{Resolver: eroute.SystemResolver{}, Names: eroute.SystemNames},
	})
}

// subcommands are what `ipsec` knows, as FreeS/WAN's front end dispatched
// `ipsec eroute` to the eroute program.
var subcommands = map[string]func([]string) int{
	"eroute": Eroute,
}

// Ipsec runs `ipsec WORD ARGS`: WORD eroute is the eroute command; any other
// word is refused with the list of words this ipsec knows.
func Ipsec(args []string) int {
	if len(args) > 0 {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd(args[1:])
		}
		if args[0] == "--help" || args[0] == "help" {
			fmt.Println("usage: ipsec eroute [ARGS]  (see eroute --help)")
			return 0
		}
		fmt.Fprintf(os.Stderr, "ipsec: unknown command %q; known commands: eroute\n", args[0])
		return 1
	}
	fmt.Fprintln(os.Stderr, "ipsec: no command given; known commands: eroute")
	return 1
}

// startProfile writes a CPU profile of one run to path, for the figures in
// docs/PERFORMANCE.md (EROUTE_CPUPROFILE=FILE eroute ...); it returns the
// function that stops it.
func startProfile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "eroute: EROUTE_CPUPROFILE: %v\n", err)
		return func() {}
	}
	pprof.StartCPUProfile(f)
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
