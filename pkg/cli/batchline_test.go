package cli

import (
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// quickAddSeeds are lines quickAdd takes (ok) and lines it must leave to
// Parse, with the good and the bad values erouteOf checks.
var quickAddSeeds = []string{
	"--add --eraf inet --src 10.0.0.0/32 --dst 172.16.0.0/32 --said tun0x1000@192.0.2.0",
	"--add --src fd00:1::0:2/128 --dst fd00:2::0:2/128 --said tun0x1002@2001:db8::2",
	"--add --eraf inet6 --src fd00:3:0:3::/64 --dst fd00:4:3::/48 --said %drop",
	"--add --src 10.0.0.1/24 --dst 10.1.0.0/16 --said %pass",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto 6 --dst-port 80 --said %pass",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto tcp --src-port pop3 --said %drop",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto icmp --icmp-type 8 --said %drop",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --af inet --edst 10.9.9.9 --spi 0x200 --proto tun",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said tun0x200@10.9.9.9 --spi 0x200",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said esp0x135@3049::1",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said tun0x20@10.9.9.9",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said tun0x200@224.0.0.1",
	"--add --eraf inet --src 3049:1::1/128 --dst 10.1.0.0/16 --said %drop",
	"--add --src 10.0.0.0/8 --dst 3049::/16 --said %drop",
	"--add --src 10.0.0.256/32 --dst 10.1.0.0/16 --said %drop",
	"--add --src %default --dst 3049:2::/64 --said %passthrough",
	"--add --src no-such-host.invalid/32 --dst 10.1.0.0/16 --said %drop",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16",
	"--add --src 10.0.0.0/8 --said %drop",
	"--add --src 10.0.0.0/8 --dst --said %drop",
	"--add --src -- --dst 10.1.0.0/16 --said %drop",
	// not for quickAdd: Parse reads them
	"--add --src 10.0.0.0/8 --src 10.2.0.0/16 --dst 10.1.0.0/16 --said %drop",
	"--add --sr 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",
	"--add --src=10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --force",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --label x",
	"--add --netns x --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --json x",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --hold-timeout 5",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --exec /bin/true",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --replace x",
	"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop --batch x",
	"--add --sync x --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",
	"--replace --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop",
	"--src 10.0.0.0/8 --add --dst 10.1.0.0/16 --said %drop",
	"--add",
}

// checkQuickAdd fails when quickAdd takes a line and gives other than
// what Parse and checkBatchRequest give for it: the op, or the message.
func checkQuickAdd(t *testing.T, p Parser, line string) (taken bool) {
	words := strings.Fields(line)
	e, ok, err := p.quickAdd(words)
	if !ok {
		return false
	}
	req, perr := p.Parse(words)
	if perr == nil {
		perr = checkBatchRequest(req, syncActions)
	}
	switch {
	case (err == nil) != (perr == nil):
		t.Fatalf("%q: quickAdd gives %v, Parse %v", line, err, perr)
	case err != nil && err.Error() != perr.Error():
		t.Fatalf("%q: quickAdd says %q, Parse %q", line, err, perr)
	case err == nil && opOf(req, 7) != (Op{Kind: eroute.OpAdd, Eroute: e, Line: 7}):
		t.Fatalf("%q: quickAdd gives %+v, Parse %+v", line, e, opOf(req, 7))
	}
	return true
}

func TestQuickAdd(t *testing.T) {
	p := Parser{Resolver: eroute.NoResolver{}}
	taken := 0
	for _, line := range quickAddSeeds {
		if checkQuickAdd(t, p, line) {
			taken++
		}
	}
	if want := 20; taken != want {
		t.Errorf("quickAdd took %d of the seed lines, want %d", taken, want)
	}
	for i := range 2000 {
		if line := mixLine(i); !checkQuickAdd(t, p, line) {
			t.Fatalf("quickAdd left line %d of the mix to Parse: %s", i, line)
		}
	}
}

// FuzzQuickAdd: whatever the line, quickAdd either leaves it to Parse or
// gives what Parse gives (see checkQuickAdd).
func FuzzQuickAdd(f *testing.F) {
	for _, s := range quickAddSeeds {
		f.Add(s)
	}
	p := Parser{Resolver: eroute.NoResolver{}}
	f.Fuzz(func(t *testing.T, line string) {
		checkQuickAdd(t, p, line)
	})
}

// TestQuickOptions: quickAdd takes only options with a value that choose
// no command, are not global, and every command with an eroute takes.
func TestQuickOptions(t *testing.T) {
	for _, o := range longOptions {
		if quickOptions&(1<<o.id) == 0 {
			continue
		}
		if !o.hasArg || actionOf[o.id] != List || modeOptions[o.id] != nil || globalOptions[o.id] {
			t.Errorf("--%s is in quickOptions, but Parse does more with it than erouteOf", o.name)
		}
	}
}
