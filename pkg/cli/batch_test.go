package cli

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eroute/eroute/pkg/eroute"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "eroutes")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const batchText = `# the manual's gateway examples, and a few more
--add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --af inet --edst 192.168.0.2 --spi 0x135 --proto tun

--add --src=10.0.0.0/8 --dst=10.1.0.0/16 --said %drop
   --replace --src 10.0.0.0/8 --dst 10.2.0.0/16 --said %pass
--add --eraf inet6 --src 3049:1::1/128 --dst 3049:2::/64 --said tun:145@3049:1::2
`

func TestBatchApplies(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--batch", writeFile(t, batchText))
	want := `0          10.0.0.0/8         -> 10.1.0.0/16        => %drop
0          10.0.0.0/8         -> 10.2.0.0/16        => %pass
0          192.168.0.1/32     -> 192.168.2.0/24     => tun0x135@192.168.0.2
0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2
`
	w.mustRun(t)
	if diff := cmp.Diff(want, w.stdout.String()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	// Standard input, with --clear and --del.
	w.stdin = "--clear\n--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %reject\n"
	w.mustRun(t, "--batch", "-")
	w.mustRun(t)
	if got := w.stdout.String(); got != "0          10.0.0.0/8         -> 10.3.0.0/16        => %reject\n" {
		t.Errorf("after a batch from stdin: %q", got)
	}
}

// A byte order mark at the start of a file (Notepad writes one) is no part
// of its first line; anywhere else it is refused as any stray word is.
func TestBatchByteOrderMark(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--batch", writeFile(t, "\ufeff"+strings.ReplaceAll(batchText, "\n", "\r\n")))
	w.mustRun(t)
	if got := strings.Count(w.stdout.String(), "\n"); got != 4 {
		t.Errorf("%d eroutes after a batch with a byte order mark:\n%s", got, w.stdout.String())
	}
	w.stdin = "\ufeff--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --said %drop\n"
	w.mustRun(t, "--sync", "-")
	w.mustRun(t)
	if got := w.stdout.String(); got != "0          10.0.0.0/8         -> 10.7.0.0/16        => %drop\n" {
		t.Errorf("after a --sync with a byte order mark: %q", got)
	}
	path := writeFile(t, "--clear\n\ufeff--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n")
	if code := w.run("--batch", path); code != 1 || !strings.HasPrefix(w.stderr.String(), "eroute: --batch "+path+": line 2: ") {
		t.Errorf("a byte order mark on line 2: status %d, stderr %q", code, w.stderr.String())
	}
}

func TestBatchRefusesBadFiles(t *testing.T) {
	long := "--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop " + strings.Repeat("x", MaxLineLength)
	for name, c := range map[string]struct{ content, want string }{
		"bad line":       {"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n--add --src 10.0.0.0/33 --dst 10.1.0.0/16 --said %drop\n", "line 2: Error, mask bits 33 out of range (0-32) converting --src argument: 10.0.0.0/33"},
		"duplicate":      {"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n\n--replace --src 10.0.0.1/8 --dst 10.1.0.0/16 --said %pass\n", "line 3: selector 10.0.0.0/8 -> 10.1.0.0/16 already given on line 1"},
		"too long":       {"--clear\n" + long + "\n", "line 2: line longer than 65536 bytes"},
		"invalid UTF-8":  {"--clear\n--add --src 10.0.0.0/8 --dst \xff\xfe --said %drop\n", "line 2: not valid UTF-8 text"},
		"binary garbage": {"\x7fELF\x02\x01\x01\x00\x00\x00", "line 1: binary data (NUL byte), not an eroute command"},
		"monitor line":   {"--monitor\n", "line 1: a batch line must be an --add, --replace, --del or --clear command"},
		"netns in line":  {"--netns x --clear\n", "line 1: --netns, --label, --debug and --json go on the command line, not in a batch line"},
		"listing line":   {"--src 10.0.0.0/8\n", "line 1: exactly one of"},
	} {
		w := newWorld(t)
		w.mustRun(t, "--add", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "%hold")
		before := w.table.snapshot()
		path := writeFile(t, c.content)
		if code := w.run("--batch", path); code != 1 {
			t.Errorf("%s: status %d, want 1", name, code)
		}
		if want := "eroute: --batch " + path + ": " + c.want; !strings.HasPrefix(w.stderr.String(), want) || strings.Count(w.stderr.String(), "\n") != 1 {
			t.Errorf("%s: stderr %q\nwant one line starting %q", name, w.stderr.String(), want)
		}
		if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
			t.Errorf("%s: table changed:\n%s", name, diff)
		}
	}
	w := newWorld(t)
	if code := w.run("--batch", "/nonexistent/eroutes"); code != 1 || w.stderr.String() != "eroute: --batch /nonexistent/eroutes: cannot read: no such file or directory\n" {
		t.Errorf("missing file: status %d, stderr %q", code, w.stderr.String())
	}
}

// The kernel refusing line N undoes lines 1 to N-1 and names line N.
func TestBatchAllOrNothing(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "10.0.0.0/8", "--dst", "10.5.0.0/16", "--said", "%pass")
	before := w.table.snapshot()
	path := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n# comment\n--add --src 10.0.0.0/8 --dst 10.5.0.0/16 --said %drop\n--add --src 10.0.0.0/8 --dst 10.6.0.0/16 --said %drop\n")
	if code := w.run("--batch", path); code != 1 {
		t.Fatalf("status %d", code)
	}
	want := "eroute: --batch " + path + ": line 3: eroute already in use.  Delete old one first. (nothing was changed)\n"
	if w.stderr.String() != want {
		t.Errorf("stderr %q\nwant %q", w.stderr.String(), want)
	}
	if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
		t.Errorf("table changed:\n%s", diff)
	}
}

func TestSyncPlan(t *testing.T) {
	w := newWorld(t)
	for _, args := range []string{
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",   // stays
		"--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --said %pass",   // replaced
		"--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %trap",   // deleted
		"--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %reject", // foreign: stays
	} {
		w.mustRun(t, strings.Fields(args)...)
	}
	w.table.foreign = map[eroute.Selector]bool{msel("10.0.0.0/8", "10.4.0.0/16", 0, 0, 0): true}
	path := writeFile(t, `--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop
--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --said tun0x135@10.9.9.9
--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --transport-proto tcp --dst-port 110 --said %hold
`)
	w.mustRun(t, "--sync", path, "--dry-run")
	wantPlan := `--replace --src 10.0.0.0/8 --dst 10.2.0.0/16 --said tun0x135@10.9.9.9
--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --transport-proto 6 --dst-port 110 --said %hold
--del --src 10.0.0.0/8 --dst 10.3.0.0/16
# 1 to add, 1 to replace, 1 to delete, 1 unchanged
`
	if diff := cmp.Diff(wantPlan, w.stdout.String()); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	before := w.table.snapshot()
	w.mustRun(t, "--sync", path, "--dry-run")
	if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
		t.Errorf("--dry-run changed the table:\n%s", diff)
	}
	w.mustRun(t, "--sync", path)
	w.mustRun(t)
	want := `0          10.0.0.0/8         -> 10.1.0.0/16        => %drop
0          10.0.0.0/8         -> 10.2.0.0/16        => tun0x135@10.9.9.9
0          10.0.0.0/8         -> 10.4.0.0/16        => %reject
0          10.0.0.0/8         -> 10.7.0.0/16:110    => %hold:6
`
	if diff := cmp.Diff(want, w.stdout.String()); diff != "" {
		t.Errorf("after --sync (-want +got):\n%s", diff)
	}
	// Again: nothing to do.
	w.mustRun(t, "--sync", path, "--dry-run")
	if got := w.stdout.String(); got != "# 0 to add, 0 to replace, 0 to delete, 3 unchanged\n" {
		t.Errorf("second plan %q", got)
	}
	// --all takes the foreign policy too.
	w.mustRun(t, "--sync", path, "--all")
	w.mustRun(t)
	if strings.Contains(w.stdout.String(), "10.4.0.0/16") {
		t.Errorf("--sync --all left the foreign policy:\n%s", w.stdout.String())
	}
}

func TestSyncRefuses(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "10.0.0.0/8", "--dst", "10.4.0.0/16", "--said", "%reject")
	w.table.foreign = map[eroute.Selector]bool{msel("10.0.0.0/8", "10.4.0.0/16", 0, 0, 0): true}
	good := "--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n"
	for content, want := range map[string]string{
		"--replace --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n":             "line 1: a --sync line must be an --add or --addin command",
		"--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %drop\n":                 "line 1: the selector 10.0.0.0/8 -> 10.4.0.0/16 belongs to a policy eroute did not make (%reject); --all lets --sync change it",
		good + "--add --src 10.0.0.0/33 --dst 10.1.0.0/16 --said %drop\n":         "line 2: Error, mask bits 33 out of range (0-32) converting --src argument: 10.0.0.0/33",
		good + "# again\n--add --src 10.0.0.1/8 --dst 10.1.0.0/16 --said %pass\n": "line 3: selector 10.0.0.0/8 -> 10.1.0.0/16 already given on line 1",
		good + good[:40] + strings.Repeat(" ", MaxLineLength) + good[40:]:         "line 2: line longer than 65536 bytes",
		good + "--add --src 10.0.0.0/8 --dst \xff\xfe --said %drop\n":             "line 2: not valid UTF-8 text",
		"\x7fELF\x02\x01\x01\x00\x00\x00":                                         "line 1: binary data (NUL byte), not an eroute command",
	} {
		path := writeFile(t, content)
		before := w.table.snapshot()
		if code := w.run("--sync", path); code != 1 || w.stderr.String() != "eroute: --sync "+path+": "+want+"\n" {
			t.Errorf("status %d, stderr %q, want %q", code, w.stderr.String(), want)
		}
		if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
			t.Errorf("--sync of a bad file changed the table:\n%s", diff)
		}
	}
	if code := w.run("--sync", "/nonexistent/eroutes"); code != 1 || w.stderr.String() != "eroute: --sync /nonexistent/eroutes: cannot read: no such file or directory\n" {
		t.Errorf("missing file: status %d, stderr %q", code, w.stderr.String())
	}
	dir := t.TempDir()
	if code := w.run("--sync", dir); code != 1 || w.stderr.String() != "eroute: --sync "+dir+": line 1: cannot read: is a directory\n" {
		t.Errorf("a directory: status %d, stderr %q", code, w.stderr.String())
	}
	for args, want := range map[string]string{
		"--dry-run --clear":          "eroute: --dry-run goes with --sync only\n",
		"--batch f --src 10.0.0.0/8": "eroute: --batch takes its eroutes from the file, not --src\n",
		"--batch f --sync g":         "eroute: " + msgOneAction + "\n",
		"--all --batch f":            "eroute: --all goes with --sync, --clear, --monitor and --save only\n",
	} {
		if code := w.run(strings.Fields(args)...); code != 1 || w.stderr.String() != want {
			t.Errorf("eroute %s: status %d, stderr %q, want %q", args, code, w.stderr.String(), want)
		}
	}
}

// TestMemorySettingsRestored: --batch and --sync tune the garbage
// collector for their run only; the process (a test, a fuzzer) gets its
// settings back.
func TestMemorySettingsRestored(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: the commands leave the collector alone")
	}
	w := newWorld(t)
	path := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n")
	percent := debug.SetGCPercent(77)
	limit := debug.SetMemoryLimit(1 << 40)
	defer func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}()
	w.mustRun(t, "--sync", path)
	w.mustRun(t, "--clear")
	w.mustRun(t, "--batch", path)
	if got := debug.SetGCPercent(77); got != 77 {
		t.Errorf("GC percent %d after the commands, want 77", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("memory limit %d after the commands, want %d", got, int64(1<<40))
	}
}

// TestBatchFirstBadLineOfMany: large files are checked in chunks on
// several goroutines; the bad line reported is still the first in the
// file, whether a chunk's parser or the reader (text checks) finds it, and
// whatever chunk finishes first. The ops of a good file keep its order.
func TestBatchFirstBadLineOfMany(t *testing.T) {
	const n = 5 * chunkLines
	good := func(i int) string {
		return fmt.Sprintf("--add --src 10.%d.%d.0/24 --dst 172.16.0.0/16 --said %%drop", i>>8, i&255)
	}
	bad := map[string]string{
		"parse": "--add --src 10.0.0.0/33 --dst 172.16.0.0/16 --said %drop",
		"NUL":   "--add\x00",
		"UTF-8": "--add \xff",
		"long":  strings.Repeat("x", MaxLineLength+1),
	}
	for _, c := range []struct {
		name  string
		bad   map[int]string // line number: kind of bad line
		first int
	}{
		{"one parse error late", map[int]string{n - 3: "parse"}, n - 3},
		{"parse errors in three chunks", map[int]string{4*chunkLines + 2: "parse", chunkLines + 7: "parse", 3 * chunkLines: "parse"}, chunkLines + 7},
		{"text error before a parse error", map[int]string{3*chunkLines + 1: "parse", 2 * chunkLines: "NUL"}, 2 * chunkLines},
		{"parse error before a text error", map[int]string{2*chunkLines + 5: "UTF-8", 2 * chunkLines: "parse"}, 2 * chunkLines},
		{"long line after a parse error", map[int]string{4 * chunkLines: "long", 9: "parse"}, 9},
		{"long line first", map[int]string{chunkLines / 2: "long", 4 * chunkLines: "parse"}, chunkLines / 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			for i := 1; i <= n; i++ {
				if k, ok := c.bad[i]; ok {
					b.WriteString(bad[k] + "\n")
				} else {
					b.WriteString(good(i) + "\n")
				}
			}
			ops, err := Parser{Resolver: eroute.NoResolver{}}.parseBatch(writeFile(t, b.String()), nil, batchActions, nil)
			if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", c.first)) {
				t.Errorf("parseBatch: %d ops, %v; want an error for line %d", len(ops), err, c.first)
			}
		})
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			b.WriteString("# a comment\n")
		} else {
			b.WriteString(good(i) + "\n")
		}
	}
	ops, err := Parser{Resolver: eroute.NoResolver{}}.parseBatch(writeFile(t, b.String()), nil, batchActions, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for i := 1; i <= n; i++ {
		if i%3 == 0 {
			continue
		}
		want, _ := (Parser{Resolver: eroute.NoResolver{}}).Parse(strings.Fields(good(i)))
		if k >= len(ops) || ops[k].Line != i || ops[k].Eroute != want.Eroute {
			t.Fatalf("op %d: %+v, want line %d, %v", k, ops[min(k, len(ops)-1)], i, want.Eroute)
		}
		k++
	}
	if k != len(ops) {
		t.Errorf("%d ops, want %d", len(ops), k)
	}
}

// SIGINT, SIGTERM or SIGHUP while a batch (or a sync) is applied stops it:
// what was applied is undone, and the one line says so (status 1).
func TestBatchStopsOnSignals(t *testing.T) {
	lines := "--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --said %drop\n--del --src 192.168.0.1/32 --dst 192.168.2.0/24\n" +
		"--add --src 10.0.0.0/8 --dst 10.8.0.0/16 --said %drop\n--add --src 10.0.0.0/8 --dst 10.9.0.0/16 --said %drop\n"
	files := map[string]string{
		"--batch": writeFile(t, lines),
		"--sync":  writeFile(t, strings.ReplaceAll(lines, "--del --src 192.168.0.1/32 --dst 192.168.2.0/24", "--add --src 10.0.0.0/8 --dst 10.6.0.0/16 --said %pass")),
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		for _, option := range []string{"--batch", "--sync"} {
			path := files[option]
			w := withManualTable(t)
			before := w.table.snapshot()
			stopped := false
			w.table.duringApply = func(i int, stop <-chan struct{}) {
				if i != 2 {
					return
				}
				syscall.Kill(os.Getpid(), sig)
				select {
				case <-stop:
					stopped = true
				case <-time.After(10 * time.Second):
					t.Errorf("%v: the apply was not told to stop within 10s", sig)
				}
			}
			if code := w.run(option, path); code != 1 || !stopped {
				t.Errorf("%s with %v: status %d, stopped %v", option, sig, code, stopped)
			}
			want := fmt.Sprintf("eroute: %s %s: %s received while applying: stopped, and what was applied was undone (nothing was changed)\n", option, path, signalName(sig))
			if got := w.stderr.String(); got != want {
				t.Errorf("stderr %q\nwant %q", got, want)
			}
			if w.table.snapshot() != before {
				t.Errorf("%s with %v: the table changed", option, sig)
			}
		}
	}
}

// TestAppendFields: the words of a line as strings.Fields cuts them,
// Unicode spaces included, after the words already there.
func TestAppendFields(t *testing.T) {
	for _, line := range []string{"", "  ", "--add", " --add  --src\t10.0.0.0/8 \r", "a\u00a0b c", "a\u2003b\u0085c d", "x\v\fy"} {
		got := appendFields([]string{"before"}, line)
		want := append([]string{"before"}, strings.Fields(line)...)
		if !slices.Equal(got, want) {
			t.Errorf("appendFields(%q): %q, want %q", line, got, want)
		}
	}
}

// TestFindDuplicate: on batches with and without repeated selectors (and
// --clear lines, which name none), findDuplicate reports what bySelector
// reports, the earliest repeat.
func TestFindDuplicate(t *testing.T) { testFindDuplicate(t, 3000) }

// TestFindDuplicateCollisions is TestFindDuplicate with a hash that
// collides: equal hashes of different selectors are no repeat.
func TestFindDuplicateCollisions(t *testing.T) {
	defer func(h func(maphash.Seed, *eroute.Key) uint64) { hashKey = h }(hashKey)
	hashKey = func(_ maphash.Seed, k *eroute.Key) uint64 { return uint64(k[4]&1)<<32 | uint64(k[20]&1) }
	testFindDuplicate(t, 200)
}

// testFindDuplicate compares findDuplicate with bySelector on 300 random
// batches of up to most lines.
func testFindDuplicate(t *testing.T, most int) {
	rng := rand.New(rand.NewPCG(1, 2))
	repeats := 0
	for round := range 300 {
		n := 1 + rng.IntN(most)
		ops := make([]Op, n)
		for i := range ops {
			ops[i] = Op{Kind: eroute.OpAdd, Line: i + 1, Eroute: eroute.Eroute{Selector: eroute.Selector{
				Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24),
				Dst: netip.MustParsePrefix("172.16.0.0/12")}}}
			if rng.IntN(50) == 0 {
				ops[i].Kind = eroute.OpClear
			}
		}
		if round%2 == 1 { // repeat a few selectors of earlier lines
			for range 1 + rng.IntN(3) {
				i := rng.IntN(n)
				ops[i].Eroute = ops[rng.IntN(i+1)].Eroute
			}
		}
		_, want := bySelector(ops)
		got := findDuplicate(ops)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: findDuplicate gives %v, bySelector %v", round, got, want)
		}
		if want != nil {
			repeats++
		}
	}
	if repeats < 100 {
		t.Errorf("only %d batches of 300 repeat a selector", repeats)
	}
}
