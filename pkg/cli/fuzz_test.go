package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eroute/eroute/pkg/eroute"
)

// FuzzRun runs whole command lines, the input split on NUL into the
// arguments, against the fake table and resolver. Whatever the line, Run
// must not panic, must give status 0 or 1, must hand the table only eroutes
// the parser promises, and on status 1 must write exactly one line on stderr,
// starting with the program name, and leave the table as it was.
func FuzzRun(f *testing.F) {
	seeds := [][]string{
		{},
		{"--help"},
		{"--version"},
		{"--clear"},
		{"--debug", "--netns", "blue", "--label", "pluto"},
		{"--frobnicate"},
		{"-a"},
		{"--add", "--src"},
		{"--clear=yes"},
		{"--d", "10.0.0.0/8"},
		{"--rep", "--sr", "10.0.0.0/8", "--ds", "10.1.0.0/16", "--transport=6", "--dst-=0x6e", "--sa", "esp512@10.9.9.9"},
		{"--add", "--replace", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--add", "--src", "10.0.0.0/8", "--src", "10.2.0.0/16", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--clear", "--src", "10.0.0.0/8"},
		{"--add", "--src", "10.0.0.256/32", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--add", "--src", "10.0.0.0/255.0.255.0", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--add", "--eraf", "inet6", "--src", "3049::/ffff::", "--dst", "3049::/16", "--said", "%drop"},
		{"--add", "--eraf", "inet", "--src", "3049:1::1/128", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--add", "--src", "no-such-host.invalid/32", "--dst", "10.1.0.0/16", "--said", "%drop"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--transport-proto", "icmp", "--src-port", "7", "--said", "%drop"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--transport-proto", "tcp", "--src-port", "pop3", "--said", "%drop"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x12", "--proto", "tun"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun.135@10.9.9.9", "--spi", "0x135"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "esp0x135@3049::1"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "int0x200@0.0.0.0"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun0x200@0.0.0.0"},
		{"--replace", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun0x200@224.0.0.1"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun:200@::ffff:10.9.9.9"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--af", "inet", "--edst", "255.255.255.255", "--spi", "0x200", "--proto", "tun"},
		{"--add", "--src", "10.0.0.0/8", "--dst", "badéname/32", "--said", "%drop"},
		{"--add", "--src", "%default", "--dst", "3049:2::/64", "--said", "%passthrough"},
		{"--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9"},
		{"--replacein", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "%trapsubnet"},
		{"--del", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24", "--said", "esp:200@3049::1"},
		{"--label", "a\nb", "--del", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16"},
		{"--monitor", "--json", "--hold-timeout", "5"},
		{"--batch", "-"},
		{"--sync", "-", "--dry-run", "--all"},
		{"--json"},
		{"--clear", "--all"},
		{"--del", "--force", "--src", "192.0.2.0/24", "--dst", "198.51.100.25/32"},
		{"--replace", "--src", "192.0.2.10/24", "--dst", "198.51.100.25/32", "--said", "%drop", "--force"},
		{"--del", "--src", "192.0.2.7/24", "--dst", "198.51.100.25/32"},
		{"--add", "--src", "::/0", "--dst", "::/0", "--transport-proto", "58", "--icmp-type", "135", "--icmp-code", "0x1", "--said", "%pass"},
		{"--add", "--src", "::/0", "--dst", "::/0", "--transport-proto", "1", "--icmp-type", "256", "--said", "%pass"},
		{"--add", "--src", "10/8", "--dst", "10/8", "--transport-proto", "47", "--gre-key", "4294967295", "--said", "%pass"},
		{"--add", "--src", "10/8", "--dst", "10/8", "--transport-proto", "47", "--gre-key", "4294967296", "--said", "%pass"},
		{"--del", "--src", "::/0", "--dst", "::/0", "--transport-proto", "135", "--mh-type", "07", "--force"},
		{"--add", "--src", "::/0", "--dst", "::/0", "--mh-type", "1", "--said", "%pass"},
	}
	seeds = append(seeds, manualCommands...)
	for _, args := range seeds {
		f.Add(strings.Join(args, "\x00"))
	}
	names := testNames(f, f.TempDir())
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		w := &world{table: newFakeTable(), names: names, monitor: &fakeMonitor{holds: map[Hold]uint32{}}}
		for _, m := range manualCommands {
			if w.run(m...) != 0 {
				t.Fatalf("manual example %q failed: %s", m, w.stderr.String())
			}
		}
		w.run("--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9")
		// The POP3 exception is a daemon's: refused without --force.
		w.table.foreign = map[eroute.Selector]bool{manualSelector(t, w, 6): true}
		before := w.table.snapshot()
		foreign := manualSelector(t, w, 6)
		held := w.table.out[foreign]
		code := w.run(args...)
		stderr := w.stderr.String()
		if now, ok := w.table.out[foreign]; (!ok || now != held) && !slices.ContainsFunc(args, forcing) {
			t.Fatalf("%q: the foreign policy %v changed without --force or --all (now %v, %v)", args, held, now, ok)
		}
		if len(w.table.bad) > 0 {
			t.Fatalf("%q: the table was given bad eroutes: %q", args, w.table.bad)
		}
		if w.table.opened != 0 {
			t.Fatalf("%q: %d tables left open", args, w.table.opened)
		}
		switch code {
		case 0:
			if slices.Contains(args, "--debug") { // its line, on stderr
				_, stderr, _ = strings.Cut(stderr, "\n")
			}
			if stderr != "" {
				t.Fatalf("%q: status 0 with stderr %q", args, stderr)
			}
		case 1:
			if strings.HasPrefix(stderr, Prog+": DEBUG: ") && strings.Count(stderr, "\n") == 2 {
				_, stderr, _ = strings.Cut(stderr, "\n")
			}
			if !strings.HasPrefix(stderr, "eroute") || !strings.HasSuffix(stderr, "\n") ||
				strings.ContainsAny(strings.TrimSuffix(stderr, "\n"), "\n\r") {
				t.Fatalf("%q: stderr %q is not one line starting with eroute", args, stderr)
			}
			if after := w.table.snapshot(); after != before {
				t.Fatalf("%q: failed, but the table changed from\n%s\nto\n%s", args, before, after)
			}
		default:
			t.Fatalf("%q: status %d", args, code)
		}
	})
}

// FuzzParseBatch checks the chunked, concurrent batch reader against the
// plain way of reading a file, one line after the other. The fuzzed text
// goes twice into a file of generated good lines, in the first chunk and
// in the third, so that bad lines fall in chunks that finish in any order:
// the ops (with their line numbers) or the first error must be the same.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{
		"",
		batchText,
		"--add --src 10.0.0.0/33 --dst 10.1.0.0/16 --said %drop\n",
		"--clear\n--del --src 10.0.0.0/8 --dst 10.1.0.0/16\r\n# comment\n\n   \t\n",
		"--add \x00\n",
		"--add \xff\xfe\n",
		"\ufeff--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\r\n",
		"\ufeff\n",
		"\ufeff\ufeff--clear\n",
		"\xff\xfe-\x00-\x00",
		"--monitor\n",
		"--sync x\n",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\r\r\n--replace --src=10/8 --dst=10.1/16 --said=%pass",
		"--del --force --src 10.5.1.2/16 --dst 10.6.0.0/16\n--clear --all\n--replace --src 10/8 --dst 10.1/16 --said %pass --force\n",
		"--del --src ::/0 --dst ::/0 --transport-proto 58 --icmp-type 135 --icmp-code 1 --force\n--add --src 10/8 --dst 10/8 --transport-proto 47 --gre-key 7 --said %drop\n",
		"--add --force --src 10/8 --dst 10/8 --said %drop\n--clear --force\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	p := Parser{Resolver: manualHosts, Names: eroute.Names{}}
	var good []string
	for i := range 3 * chunkLines {
		good = append(good, fmt.Sprintf("--add --src 10.%d.%d.0/24 --dst 172.16.0.0/16 --said %%drop", i>>8, i&255))
	}
	f.Fuzz(func(t *testing.T, text string, sync bool) {
		if len(text) > 4096 {
			return // long lines have their own unit tests
		}
		allowed := batchActions
		if sync {
			allowed = syncActions
		}
		lines := strings.SplitAfter(text, "\n")
		if !strings.HasSuffix(text, "\n") {
			lines[len(lines)-1] += "\n" // the file goes on after it
		}
		var b strings.Builder
		var lead []string
		if strings.HasPrefix(text, "\ufeff") {
			lead = lines // a byte order mark means something only at the start
		}
		for _, l := range slices.Concat(lead, good[:100], lines, good[100:2*chunkLines+50], lines, good[2*chunkLines+50:]) {
			if !strings.HasSuffix(l, "\n") {
				l += "\n"
			}
			b.WriteString(l)
		}
		content := b.String()
		path := filepath.Join(t.TempDir(), "batch")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := p.parseBatch(path, nil, allowed, nil)
		want, wantErr := referenceParseBatch(p, content, allowed)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if wantErr == nil && !slices.Equal(got, want) {
			t.Fatalf("%d ops, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
		}
	})
}

// referenceParseBatch reads a batch file's text one line after the other,
// with the checks parseBatch makes (lines over 64 KiB aside).
func referenceParseBatch(p Parser, content string, allowed map[Action]bool) ([]Op, error) {
	var ops []Op
	lines := strings.SplitAfter(content, "\n")
	for i, line := range lines {
		n := i + 1
		if line == "" {
			break // after the last "\n"
		}
		if strings.HasSuffix(line, "\n") {
			line = strings.TrimRight(line, "\r\n")
		}
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		switch {
		case strings.Contains(line, "\x00"):
			return nil, lineError(n, errors.New("binary data (NUL byte), not an eroute command"))
		case !utf8.ValidString(line):
			return nil, lineError(n, errors.New("not valid UTF-8 text"))
		}
		words := strings.Fields(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		req, err := p.Parse(words)
		if err == nil {
			err = checkBatchRequest(req, allowed)
		}
		if err != nil {
			return nil, lineError(n, err)
		}
		op := Op{Kind: commandOf(req.Action).op, Eroute: req.Eroute, Line: n, Force: req.Force || req.All}
		if req.Action == Delete && req.Force && req.Exact.Src.IsValid() {
			op.Eroute.Selector = req.Exact // a foreign selector's host bits
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func firstDiff(a, b []Op) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// manualSelector is the selector of manual example i, as the table holds it.
func manualSelector(t *testing.T, w *world, i int) eroute.Selector {
	req, err := w.env().Parser.Parse(manualCommands[i])
	if err != nil {
		t.Fatal(err)
	}
	return req.Eroute.Selector
}

// forcing tells whether an argument may let a command change a foreign
// policy: --force, --all, or an abbreviation of either, or a batch.
func forcing(arg string) bool {
	name, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
	return strings.HasPrefix(arg, "--") && name != "" &&
		(strings.HasPrefix("force", name) || strings.HasPrefix("all", name) || strings.HasPrefix("batch", name) || strings.HasPrefix("sync", name))
}

// FuzzSelectorArgs: every selector a policy can be listed with (host bits,
// any protocol, its ports or the fields other protocols have in their
// place) is written back by selectorArgs as options that parse, in a
// --del --force line, to that very selector: what --sync --dry-run prints
// is a command.
func FuzzSelectorArgs(f *testing.F) {
	f.Add([]byte{10, 5, 1, 2}, uint8(16), []byte{10, 6, 0, 0}, uint8(16), uint8(0), uint16(0), uint16(0))
	f.Add([]byte{0, 0, 0, 0}, uint8(0), []byte{10, 6, 0, 0}, uint8(16), uint8(58), uint16(135), uint16(0))
	f.Add([]byte{0x30, 0x49, 15: 1}, uint8(64), []byte{0x30, 0x49, 15: 2}, uint8(128), uint8(47), uint16(1), uint16(2))
	f.Add([]byte{10, 0, 0, 0}, uint8(8), []byte{10, 1, 0, 0}, uint8(16), uint8(6), uint16(0), uint16(110))
	f.Add([]byte{10, 0, 0, 0}, uint8(8), []byte{10, 1, 0, 0}, uint8(16), uint8(135), uint16(5), uint16(0))
	p := Parser{Resolver: eroute.NoResolver{}, Names: eroute.Names{}}
	f.Fuzz(func(t *testing.T, src []byte, sbits uint8, dst []byte, dbits uint8, proto uint8, sport, dport uint16) {
		addr := func(b []byte, v6 bool) (netip.Addr, bool) {
			if v6 {
				if len(b) < 16 {
					return netip.Addr{}, false
				}
				a := netip.AddrFrom16([16]byte(b[:16]))
				return a, !a.Is4In6()
			}
			if len(b) < 4 {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4([4]byte(b[:4])), true
		}
		v6 := len(src) >= 16
		sa, ok1 := addr(src, v6)
		da, ok2 := addr(dst, v6)
		if !ok1 || !ok2 || int(sbits) > sa.BitLen() || int(dbits) > da.BitLen() {
			return
		}
		sel := eroute.Selector{Src: netip.PrefixFrom(sa, int(sbits)), Dst: netip.PrefixFrom(da, int(dbits)),
			Proto: proto, SrcPort: sport, DstPort: dport}
		if masked := (eroute.Selector{Src: sel.Src.Masked(), Dst: sel.Dst.Masked(), Proto: proto, SrcPort: sport, DstPort: dport}); masked.Validate() != nil {
			return // no policy is listed with it
		}
		args := strings.Fields("--del " + selectorArgs(sel) + " --force")
		req, err := p.Parse(args)
		if err != nil {
			t.Fatalf("%v: %q does not parse: %v", sel, args, err)
		}
		got := opOf(req, 1).Eroute.Selector
		if got != sel {
			t.Fatalf("%v: %q parses as %v", sel, args, got)
		}
	})
}
