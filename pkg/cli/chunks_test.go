package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// TestReadChunks: the chunks hold the file's lines in order, numbered
// from 1, each whole; none holds more than chunkLines lines, and a
// chunk's text grows past the room it came with only for a first line
// that does not fit in it alone.
func TestReadChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var lines []string
	for i := range 20000 {
		n := 1 + r.IntN(200)
		switch {
		case i >= 10000 && i < 14000:
			n = r.IntN(4) // blank lines too: chunkLines fills first
		case i%997 == 0:
			n = chunkBytes - 1 + r.IntN(2) // a chunk of its own, or more
		case i%50 == 0:
			n = r.IntN(4000)
		}
		lines = append(lines, strings.Repeat(string(rune('a'+i%26)), n))
	}
	pool := newChunkPool(2)
	room := map[*batchChunk]int{}
	get := func() *batchChunk {
		c := pool.get()
		room[c] = cap(c.text)
		return c
	}
	var got []string
	next := 1
	_, err := readChunks(strings.NewReader(strings.Join(lines, "\n")+"\n"), func(c *batchChunk) {
		text := strings.TrimSuffix(string(c.text), "\n")
		chunkLinesRead := strings.Split(text, "\n")
		switch {
		case c.first != next:
			t.Fatalf("chunk %d starts at line %d, want %d", c.seq, c.first, next)
		case len(chunkLinesRead) > chunkLines:
			t.Fatalf("chunk %d holds %d lines", c.seq, len(chunkLinesRead))
		case cap(c.text) > room[c] && len(chunkLinesRead[0]) < room[c]:
			t.Fatalf("chunk %d grew from %d bytes to %d, its first line %d long", c.seq, room[c], cap(c.text), len(chunkLinesRead[0]))
		}
		next += len(chunkLinesRead)
		got = append(got, chunkLinesRead...)
		pool.put(c)
	}, get, func() bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("the chunks hold %d lines, not the file's %d as they were", len(got), len(lines))
	}
}

// TestChunkPoolBounded: however long the chunks are kept (by a parser
// held up, and the ops waiting for its chunk), the reader makes no more
// than the pool holds, and waits for one given back.
func TestChunkPoolBounded(t *testing.T) {
	pool := newChunkPool(2)
	var text strings.Builder
	for i := range 50000 {
		text.WriteString(mixLine(i) + "\n")
	}
	sent := make(chan *batchChunk)
	lines := make(chan int)
	go func() {
		// All the chunks are kept, then given back a little later,
		// when the reader has asked for another.
		n := 0
		var held []*batchChunk
		for c := range sent {
			n += strings.Count(string(c.text), "\n")
			if held = append(held, c); len(held) == cap(pool.free) {
				time.Sleep(time.Millisecond)
				for _, c := range held {
					pool.put(c)
				}
				held = held[:0]
			}
		}
		lines <- n
	}()
	_, err := readChunks(strings.NewReader(text.String()), func(c *batchChunk) { sent <- c }, pool.get, func() bool { return false })
	close(sent)
	switch n := <-lines; {
	case err != nil:
		t.Fatal(err)
	case n != 50000:
		t.Fatalf("the chunks hold %d lines, not 50000", n)
	case pool.made > cap(pool.free):
		t.Fatalf("the reader made %d chunks; the pool holds %d", pool.made, cap(pool.free))
	}
}

// TestParseChunkQuick: a chunk of lines that quickEroute takes, lines it
// leaves to the general path, comments and blank lines gives the ops
// that Parse gives line by line, numbered as the file is, even in a
// chunk whose ops were filled before with other lines' (the pool's).
func TestParseChunkQuick(t *testing.T) {
	p := Parser{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames}
	var text, other []byte
	var want []Op
	for i := range 600 {
		line := mixLine(i)
		switch i % 6 {
		case 1:
			line = strings.Replace(line, "--dst ", "--dst\t", 1)
		case 3:
			line = strings.Replace(line, "--src ", "--src=", 1)
		case 4:
			text = append(text, "# a comment\n\n"...)
		}
		text = append(append(text, line...), '\n')
		req, err := p.Parse(strings.Fields(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		want = append(want, opOf(req, bytes.Count(text, []byte{'\n'})))
		other = append(append(other, mixLine(i*7+5)...), '\n')
	}
	c := &batchChunk{text: other, first: 1, ops: make([]Op, 0, chunkLines)}
	p.parseChunk(c, batchActions)
	*c = batchChunk{text: text, first: 1, ops: c.ops[:0]}
	p.parseChunk(c, batchActions)
	if c.err != nil {
		t.Fatalf("line %d: %v", c.errLine, c.err)
	}
	if !slices.Equal(c.ops, want) {
		for i := range min(len(c.ops), len(want)) {
			if c.ops[i] != want[i] {
				t.Fatalf("op %d is %+v, Parse gives %+v", i, c.ops[i], want[i])
			}
		}
		t.Fatalf("%d ops, Parse gives %d", len(c.ops), len(want))
	}
	// Where --add is not allowed, quickEroute takes no line.
	*c = batchChunk{text: text, first: 1, ops: c.ops[:0]}
	p.parseChunk(c, map[Action]bool{Delete: true})
	if c.errLine != 1 || c.err == nil || len(c.ops) != 0 {
		t.Fatalf("a chunk of --add lines where only --del is allowed: %d ops, line %d: %v", len(c.ops), c.errLine, c.err)
	}
}

// TestTrimLineEnd: trimLineEnd is bytes.TrimRight(line, "\r\n").
func TestTrimLineEnd(t *testing.T) {
	for _, line := range []string{"", "\n", "\r\n", "a\r\r\n", "a\n\r\n", "\ra", "a \r", "a\rb\n"} {
		if got, want := trimLineEnd([]byte(line)), bytes.TrimRight([]byte(line), "\r\n"); !bytes.Equal(got, want) {
			t.Errorf("trimLineEnd(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestOpsInPlace: the ops a batch ends up with are those of its lines, in
// order, whether the chunks wrote them in place (a file whose size is
// known), in place and then past the room the first chunk made one think
// enough (long comments first, short lines after), or in their own arrays
// (standard input); with blank and comment lines, which leave holes.
func TestOpsInPlace(t *testing.T) {
	var text strings.Builder
	var want []Op
	for i := 0; i < 3*chunkLines; i++ {
		fmt.Fprintf(&text, "# %s\n", strings.Repeat("long comment ", 12))
	}
	for i := 0; i < 12000; i++ {
		switch {
		case i%97 == 3:
			text.WriteString("\n")
		case i%89 == 5:
			text.WriteString("# a comment\n")
		default:
			line := mixLine(i)
			text.WriteString(line + "\n")
			req, err := opsParser.Parse(strings.Fields(line))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, opOf(req, 3*chunkLines+i+1))
		}
	}
	path := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(path, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, path string }{{"file", path}, {"stdin", "-"}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := opsParser.parseBatch(c.path, strings.NewReader(text.String()), batchActions, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d ops, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("op %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

var opsParser = Parser{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames}
