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

// BenchmarkParseChunk is the cost of checking a chunk of 1,024 --batch
// lines as parseBatch cuts them, per line.
func BenchmarkParseChunk(b *testing.B) {
	p := Parser{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames}
	var text []byte
	for i := 0; i < chunkLines; i++ {
		text = fmt.Appendf(text, "--add --eraf inet --src 10.%d.%d.0/24 --dst 172.16.%d.%d/32 --said tun0x%x@192.168.%d.1\n",
			i>>8, i&255, i>>8, i&255, 0x100+i, i&255)
	}
	c := &batchChunk{ops: make([]Op, 0, chunkLines)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.text, c.ops, c.first = text, c.ops[:0], 1
		p.parseChunk(c, batchActions)
		if c.err != nil || len(c.ops) != chunkLines {
			b.Fatalf("%d ops, %v", len(c.ops), c.err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunkLines), "ns/line")
}
