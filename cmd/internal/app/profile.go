//go:build erouteprof

package app

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfile writes a CPU profile of one run to the file named by
// EROUTE_CPUPROFILE, and a profile of what the run allocated to the one
// named by EROUTE_MEMPROFILE (a page fault costs what a few hundred
// instructions do: memory is time), for the figures in
// docs/PERFORMANCE.md; it returns the function that stops them. Only in binaries built with -tags erouteprof
// (make build-prof): runtime/pprof brings compress/gzip and hash/crc32,
// whose package initialisation every eroute process would otherwise pay.
func startProfile() func() {
	stopCPU := startCPUProfile()
	mem := os.Getenv("EROUTE_MEMPROFILE")
	if mem == "" {
		return stopCPU
	}
	runtime.MemProfileRate = 4096
	return func() {
		stopCPU()
		f, err := os.Create(mem)
		if err != nil {
			fmt.Fprintf(os.Stderr, "eroute: EROUTE_MEMPROFILE: %v\n", err)
			return
		}
		runtime.GC() // the profile counts what was allocated up to the last collection
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
}

func startCPUProfile() func() {
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
