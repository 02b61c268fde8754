//go:build erouteprof

package app

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile of one run to the file named by
// EROUTE_CPUPROFILE, for the figures in docs/PERFORMANCE.md; it returns the
// function that stops it. Only in binaries built with -tags erouteprof
// (make build-prof): runtime/pprof brings compress/gzip and hash/crc32,
// whose package initialisation every eroute process would otherwise pay.
func startProfile() func() {
	path := os.Getenv("EROUTE_CPUPROFILE")
	if path == "" {
		return func() {}
	}
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
