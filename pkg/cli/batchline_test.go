package cli

import (
	"math/rand/v2"
	"slices"
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

// quickEroutePieces are words and bits of words that line mutations put
// in: the options quickEroute reads and values good and bad for them,
// other options, and separators.
var quickEroutePieces = []string{
	"--add", "--eraf", "inet", "inet6", "inet66", "inet4", "INET", "--src", "--dst", "--said", "--transport-proto", "6", "tcp",
	"17", "1", "0x6", "06", "--src-port", "--dst-port", "80", "http", "0x50", "65536", "--icmp-type",
	"%pass", "%passthrough", "%drop", "%hold", "tun0x100@10.0.0.1", "esp0x200@10.1.0.1", "ah0x300@fd00::1",
	"10.0.0.0/8", "10.1.2.3/32", "fd00::/64", "fd00::1/128", "%default", "--force", "--", "--src=10.0.0.1/32",
	"--sr", "#", "--del", "--replace", "--spi", "0x200", "--af", "--edst", " ", "  ", "\t", "\u00a0", "\r",
}

// mutateLine changes a line at one to three places, by bytes (as the
// quick readers' tests do) or by words.
func mutateLine(r *rand.Rand, line string) string {
	words := strings.Split(line, " ")
	changes := 1
	if r.IntN(3) == 0 {
		changes += 1 + r.IntN(2)
	}
	for range changes {
		i := r.IntN(len(words) + 1)
		piece := quickEroutePieces[r.IntN(len(quickEroutePieces))]
		switch r.IntN(6) {
		case 5: // the word of another line of the mix in its place
			if other := strings.Split(mixLine(r.IntN(1000)), " "); i < len(words) && i < len(other) {
				words[i] = other[i]
			}
		case 0: // a byte of a word
			if i < len(words) {
				words[i] = mutateByte(r, words[i])
			}
		case 1: // insert a word
			words = append(words[:i], append([]string{piece}, words[i:]...)...)
		case 2: // replace one
			if i < len(words) {
				words[i] = piece
			}
		case 3: // delete one
			if i < len(words) {
				words = append(words[:i], words[i+1:]...)
			}
		default: // repeat one elsewhere
			if len(words) > 0 {
				w := words[r.IntN(len(words))]
				words = append(words[:i], append([]string{w}, words[i:]...)...)
			}
		}
	}
	return strings.Join(words, " ")
}

// lineBytes are the bytes mutateByte puts in a word: those of the quick
// forms, and spaces and bytes just outside them.
const lineBytes = "0123456789abcdefABCDEFxX.:/@%-= \t\r\v\xc2\xa0tunespcomahinetsrdaid"

// mutateByte puts in, replaces or deletes one byte of a word.
func mutateByte(r *rand.Rand, word string) string {
	i := r.IntN(len(word) + 1)
	c := string(lineBytes[r.IntN(len(lineBytes))])
	switch {
	case i == len(word) || r.IntN(3) == 0:
		return word[:i] + c + word[i:]
	case r.IntN(2) == 0:
		return word[:i] + c + word[i+1:]
	}
	return word[:i] + word[i+1:]
}

// checkQuickEroute fails when quickEroute takes a line and Parse, as a
// batch checks it, gives another op or refuses the line.
func checkQuickEroute(t *testing.T, p Parser, line string) (taken bool) {
	var e eroute.Eroute
	if !p.quickEroute(line, &e) {
		return false
	}
	req, err := p.Parse(strings.Fields(line))
	if err == nil {
		err = checkBatchRequest(req, batchActions)
	}
	switch {
	case err != nil:
		t.Fatalf("%q: quickEroute gives %+v, Parse refuses: %v", line, e, err)
	case opOf(req, 7) != (Op{Kind: eroute.OpAdd, Eroute: e, Line: 7}):
		t.Fatalf("%q: quickEroute gives %+v, Parse %+v", line, e, opOf(req, 7))
	}
	return true
}

// quickParsers are the parsers the comparisons run with: no names,
// and the system's (--transport-proto tcp, --dst-port http).
var quickParsers = []Parser{
	{Resolver: eroute.NoResolver{}},
	{Resolver: eroute.NoResolver{}, Names: eroute.SystemNames},
}

// TestQuickEroute compares quickEroute with Parse on the seeds, the lines
// of the mix and many mutations of both, and checks that it takes every
// line of the mix.
func TestQuickEroute(t *testing.T) {
	seeds := append(slices.Clip(quickAddSeeds),
		"--add --eraf inet --src 10.0.0.0/32 --dst 172.16.0.0/32 --transport-proto tcp --src-port http --dst-port 0x50 --said tun0x1000@192.0.2.0",
		"--add  --src 10.0.0.0/8   --dst 10.1.0.0/16 --said %pass ",
		" --add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %pass",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %pass\t",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %pass\u00a0",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said esp0x200@10.0.0.1",
		"--add --src 10.0.0.1/32 --dst 10.1.0.1/32 --said esp0x200@10.1.0.1",
		"--add --src fd00::1/128 --dst fd00::2/128 --said esp0x200@10.1.0.1",
		"--add --eraf inet6 --src fd00::1/128 --dst fd00::2/128 --said %passthrough",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto 6 --said %pass --transport-proto 6",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --src-port 80 --said %pass",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto 1 --dst-port 80 --said %pass",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto 6 --dst-port 65536 --said %pass",
	)
	for _, p := range quickParsers {
		for i := range 4000 {
			if line := mixLine(i); !checkQuickEroute(t, p, line) {
				t.Fatalf("quickEroute left line %d of the mix to quickAdd: %s", i, line)
			}
		}
		r := rand.New(rand.NewPCG(3, 4))
		taken := 0
		for _, line := range seeds {
			checkQuickEroute(t, p, line)
			for range 500 {
				if checkQuickEroute(t, p, mutateLine(r, line)) {
					taken++
				}
			}
		}
		for i := range 50000 {
			if checkQuickEroute(t, p, mutateLine(r, mixLine(i))) {
				taken++
			}
		}
		t.Logf("quickEroute took %d mutated lines", taken)
		if taken < 5000 {
			t.Errorf("quickEroute took only %d of the mutated lines: the comparison says little", taken)
		}
	}
}

// FuzzQuickEroute: whatever the line, quickEroute leaves it to quickAdd
// and Parse, or gives what Parse gives.
func FuzzQuickEroute(f *testing.F) {
	for _, s := range quickAddSeeds {
		f.Add(s)
	}
	for i := range 20 {
		f.Add(mixLine(i))
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range quickParsers {
			checkQuickEroute(t, p, line)
		}
	})
}
