package cli

import (
	"strings"
	"testing"

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
		{"--add", "--src", "%default", "--dst", "3049:2::/64", "--said", "%passthrough"},
		{"--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9"},
		{"--replacein", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "%trapsubnet"},
		{"--del", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24", "--said", "esp:200@3049::1"},
		{"--label", "a\nb", "--del", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16"},
		{"--monitor", "--json", "--hold-timeout", "5"},
		{"--batch", "-"},
		{"--sync", "-", "--dry-run", "--all"},
		{"--json"},
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
		w := &world{table: newFakeTable(), names: names, monitor: &fakeMonitor{holds: map[eroute.Selector]bool{}}}
		for _, m := range manualCommands {
			if w.run(m...) != 0 {
				t.Fatalf("manual example %q failed: %s", m, w.stderr.String())
			}
		}
		w.run("--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9")
		before := w.table.snapshot()
		code := w.run(args...)
		stderr := w.stderr.String()
		if len(w.table.bad) > 0 {
			t.Fatalf("%q: the table was given bad eroutes: %q", args, w.table.bad)
		}
		if w.table.opened != 0 {
			t.Fatalf("%q: %d tables left open", args, w.table.opened)
		}
		switch code {
		case 0:
			if stderr != "" {
				t.Fatalf("%q: status 0 with stderr %q", args, stderr)
			}
		case 1:
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
