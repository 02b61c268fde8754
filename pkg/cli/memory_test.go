package cli

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestMemoryBudget: the soft limit grows with the lines checked, the
// collector is off only when asked, and stop puts both back.
func TestMemoryBudget(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	limit, percent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	for _, off := range []bool{false, true} {
		b := startBudget(batchMemoryPerLine, off)
		b.lines(1_000_000)
		if got, want := debug.SetMemoryLimit(-1), int64(memoryBase+batchMemoryPerLine*1_000_000); got != want {
			t.Errorf("limit after a million lines: %d, want %d", got, want)
		}
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if (p < 0) != off {
			t.Errorf("collectOff %v: GC percent %d", off, p)
		}
		b.stop()
		if got := debug.SetMemoryLimit(-1); got != limit {
			t.Errorf("limit after stop: %d, want %d", got, limit)
		}
		if p := debug.SetGCPercent(-1); p != percent {
			t.Errorf("GC percent after stop: %d, want %d", p, percent)
		}
		debug.SetGCPercent(percent)
	}
	t.Setenv("GOGC", "50")
	if b := startBudget(syncMemoryPerLine, true); b != nil {
		b.stop()
		t.Errorf("GOGC set: a budget was started")
	}
}

// TestEstimateLines: the first chunk's lines and bytes give the file's
// lines within a few percent, and never less than the chunk holds.
func TestEstimateLines(t *testing.T) {
	line := "--add --eraf inet --src 10.0.0.1/32 --dst 172.16.0.1/32 --said tun0x1000@192.0.2.1\n"
	first := []byte(strings.Repeat(line, 1024))
	size := int64(len(line)) * 300_000
	if got := estimateLines(size, first); got < 300_000 || got > 320_000 {
		t.Errorf("estimateLines of 300,000 lines: %d", got)
	}
	if got := estimateLines(int64(len(first)), first); got != 1024 {
		t.Errorf("estimateLines of one chunk: %d, want 1024", got)
	}
	if got := estimateLines(0, bytes.Repeat([]byte(line), 3)); got != 3 {
		t.Errorf("estimateLines of standard input: %d, want 3", got)
	}
}
