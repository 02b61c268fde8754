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
	var text []byte
	for i := 0; i < chunkLines; i++ {
		text = fmt.Appendf(text, "--add --eraf inet --src 10.%d.%d.0/24 --dst 172.16.%d.%d/32 --said tun0x%x@192.168.%d.1\n",
			i>>8, i&255, i>>8, i&255, 0x100+i, i&255)
	}
	benchParseChunk(b, text)
}

// BenchmarkParseChunkMix is BenchmarkParseChunk on the lines of make
// bench's mix table: IPv4 and IPv6, hosts and subnets, tun SAIDs, %pass
// and %drop, one line in twenty with TCP and a port.
func BenchmarkParseChunkMix(b *testing.B) {
	var text []byte
	for i := 0; i < chunkLines; i++ {
		text = append(text, mixLine(i)...)
		text = append(text, '\n')
	}
	benchParseChunk(b, text)
}

// benchParseChunk checks text, chunkLines lines, as parseBatch's parsers
// check a chunk, b.N times, and reports the time per line.
func benchParseChunk(b *testing.B, text []byte) {
	p := Parser{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames}
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

// mixLine is line i of scripts/bench.sh's mix table.
func mixLine(i int) string {
	a, b, c := i>>16&255, i>>8&255, i&255
	var fam, src, dst, peer string
	switch i % 4 {
	case 0:
		fam, src, dst = "inet", fmt.Sprintf("10.%d.%d.%d/32", a, b, c), fmt.Sprintf("172.16.%d.%d/32", b, c)
	case 1:
		fam, src, dst = "inet", fmt.Sprintf("10.%d.%d.0/24", 100+a, b), fmt.Sprintf("172.%d.%d.0/24", 17+a, c)
	case 2:
		fam, src, dst = "inet6", fmt.Sprintf("fd00:1::%x:%x/128", a, i%65536), fmt.Sprintf("fd00:2::%x:%x/128", a, i%65536)
	case 3:
		fam, src, dst = "inet6", fmt.Sprintf("fd00:3:%x:%x::/64", a, i%65536), fmt.Sprintf("fd00:4:%x::/48", i%65536)
	}
	peer = fmt.Sprintf("192.0.2.%d", c)
	if fam == "inet6" {
		peer = fmt.Sprintf("2001:db8::%x", c)
	}
	opt := ""
	if i%20 == 5 {
		opt = fmt.Sprintf(" --transport-proto 6 --dst-port %d", 1+i%1000)
	}
	said := fmt.Sprintf("tun0x%x@%s", 4096+i, peer)
	switch i % 10 {
	case 7:
		said = "%drop"
	case 8:
		said = "%pass"
	}
	return fmt.Sprintf("--add --eraf %s --src %s --dst %s%s --said %s", fam, src, dst, opt, said)
}
