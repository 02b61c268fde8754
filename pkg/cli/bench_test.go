package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// BenchmarkParseBatchLine is the cost of checking one --batch line, which
// bounds --batch and --sync on large files.
func BenchmarkParseBatchLine(b *testing.B) {
	p := Parser{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames}
	lines := make([][]string, 1000)
	for i := range lines {
		lines[i] = strings.Fields(fmt.Sprintf("--add --src 10.%d.%d.0/24 --dst 172.16.%d.%d/32 --transport-proto 6 --dst-port %d --said tun0x%x@192.168.%d.1",
			i>>8, i&255, i>>8, i&255, 1+i, 0x100+i, i&255))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
