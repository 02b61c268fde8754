package cli

import "github.com/eroute/eroute/pkg/eroute"

// The fakes are what the command drives, checked at compile time.
var (
	_ Table           = (*fakeTable)(nil)
	_ Snapshot        = fakeSnapshot{}
	_ MonitorKernel   = (*fakeMonitor)(nil)
	_ eroute.Resolver = fakeResolver(nil)
)
