package cli

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunManualExamples(t *testing.T) {
	w := newWorld(t)
	for _, args := range manualCommands {
		code := w.run(args...)
		if code != 0 || w.stdout.Len() != 0 || w.stderr.Len() != 0 {
			t.Fatalf("eroute %s: status %d, stdout %q, stderr %q",
				strings.Join(args, " "), code, w.stdout.String(), w.stderr.String())
		}
	}
	if code := w.run(); code != 0 || w.stderr.Len() != 0 {
		t.Fatalf("listing: status %d, stderr %q", code, w.stderr.String())
	}
	if diff := cmp.Diff(manualListing, w.stdout.String()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	if w.table.opened != 0 {
		t.Errorf("%d tables left open", w.table.opened)
	}
	if len(w.table.bad) > 0 {
		t.Errorf("the table was given bad eroutes: %q", w.table.bad)
	}
}

// TestRunManualExamplesAnyOrder: the POP3 pair of the manual works in either
// order, and the listing does not depend on the order of the commands.
func TestRunManualExamplesAnyOrder(t *testing.T) {
	w := newWorld(t)
	for i := len(manualCommands) - 1; i >= 0; i-- {
		args := manualCommands[i]
		if args[0] == "--del" {
			continue
		}
		w.mustRun(t, args...)
	}
	w.mustRun(t, manualCommands[4]...) // the del of the passthrough eroute
	w.mustRun(t)
	if diff := cmp.Diff(manualListing, w.stdout.String()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
}

const (
	okSrc = "10.0.0.0/8"
	okDst = "10.1.0.0/16"
)

// TestRunErrors: every bad command line gives status 1, exactly the one
// line of stderr, nothing on stdout, and leaves the table as it was.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // without "eroute: " and the newline; $PROTOCOLS, $SERVICES: the names files
	}{
		// Options.
		{"unknown option", []string{"--frobnicate"},
			"unrecognized option '--frobnicate'; see --help"},
		{"unknown option with value", []string{"--frob=1"},
			"unrecognized option '--frob'; see --help"},
		{"short option", []string{"-a"},
			"invalid option '-a': options are long, such as --add"},
		{"stray word", []string{"--add", "--src=10.0.0.0/8", "--dst=10.1.0.0/16", "--said", "%drop", "stray"},
			"unexpected argument 'stray'"},
		{"word after --", []string{"--", "--add"},
			"unexpected argument '--add'"},
		{"lone dash", []string{"-"},
			"unexpected argument '-'"},
		{"missing argument", []string{"--add", "--src"},
			"option '--src' requires an argument"},
		{"missing argument abbreviated", []string{"--add", "--sai"},
			"option '--said' requires an argument"},
		{"argument not allowed", []string{"--clear=yes"},
			"option '--clear' doesn't allow an argument"},
		{"ambiguous --d", []string{"--d", okSrc},
			"option '--d' is ambiguous; possibilities: '--debug' '--del' '--dst' '--dst-port'"},
		{"ambiguous --a", []string{"--a", "--src", okSrc},
			"option '--a' is ambiguous; possibilities: '--add' '--addin' '--af'"},
		{"ambiguous --s", []string{"--add", "--s=1"},
			"option '--s' is ambiguous; possibilities: '--said' '--spi' '--src' '--src-port'"},
		{"repeated option", []string{"--add", "--src", okSrc, "--src", "10.2.0.0/16", "--dst", okDst, "--said", "%drop"},
			"Error, --src parameter redefined:10.2.0.0/16, already defined as:10.0.0.0/8"},
		{"repeated option abbreviated", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "%drop", "--sa=%pass"},
			"Error, --said parameter redefined:%pass, already defined as:%drop"},
		{"repeated flag", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "%drop", "--force", "--force"},
			"Error, --force given twice"},
		{"two actions", []string{"--add", "--replace", "--src", okSrc, "--dst", okDst, "--said", "%drop"},
			"Only one of '--add', '--replace', '--clear', or '--del' options permitted."},
		{"same action twice", []string{"--del", "--del", "--src", okSrc, "--dst", okDst},
			"Only one of '--add', '--replace', '--clear', or '--del' options permitted."},
		{"clear and addin", []string{"--clear", "--addin"},
			"Only one of '--add', '--replace', '--clear', or '--del' options permitted."},
		{"no action", []string{"--src", okSrc, "--dst", okDst, "--said", "%drop"},
			"exactly one of '--add', '--replace', '--del' or '--clear' options must be specified."},
		{"no action, global options only and --eraf", []string{"--debug", "--eraf", "inet"},
			"exactly one of '--add', '--replace', '--del' or '--clear' options must be specified."},
		{"clear with src", []string{"--clear", "--src", okSrc},
			"--clear deletes every eroute and takes no --src"},
		{"clear with said", []string{"--clear", "--said", "%drop"},
			"--clear deletes every eroute and takes no --said"},

		// Selector.
		{"no src", []string{"--add", "--dst", okDst, "--said", "%drop"},
			"Error -- add option '--src' is required."},
		{"no dst", []string{"--del", "--src", okSrc},
			"Error -- del option '--dst' is required."},
		{"no dst replacein", []string{"--replacein", "--src", okSrc, "--said", "%drop"},
			"Error -- replacein option '--dst' is required."},
		{"no slash", []string{"--add", "--src", "10.0.0.1", "--dst", okDst, "--said", "%drop"},
			"Error, no / in subnet specification converting --src argument: 10.0.0.1"},
		{"bad address", []string{"--add", "--src", "10.0.0.256/32", "--dst", okDst, "--said", "%drop"},
			"Error, dotted address part out of range (0-255) converting --src argument: 10.0.0.256/32"},
		{"bad IPv6 address", []string{"--add", "--src", "3049:::1/128", "--dst", "::/0", "--said", "%drop"},
			`Error, bad IPv6 address "3049:::1" converting --src argument: 3049:::1/128`},
		{"bad character", []string{"--add", "--src", okSrc, "--dst", "a*b/32", "--said", "%drop"},
			`Error, bad character '*' in address converting --dst argument: a*b/32`},
		{"bad mask bits", []string{"--add", "--src", "10.0.0.0/33", "--dst", okDst, "--said", "%drop"},
			"Error, mask bits 33 out of range (0-32) converting --src argument: 10.0.0.0/33"},
		{"bad IPv6 mask bits", []string{"--add", "--src", "3049::/129", "--dst", "3049::/16", "--said", "%drop"},
			"Error, mask bits 129 out of range (0-128) converting --src argument: 3049::/129"},
		{"mask not contiguous", []string{"--add", "--src", "10.0.0.0/255.0.255.0", "--dst", okDst, "--said", "%drop"},
			"Error, mask 255.0.255.0 is not contiguous converting --src argument: 10.0.0.0/255.0.255.0"},
		{"IPv6 mask", []string{"--add", "--eraf", "inet6", "--src", "3049::/ffff::", "--dst", "3049::/16", "--said", "%drop"},
			`Error, bad IPv6 mask "ffff::": give the number of bits converting --src argument: 3049::/ffff::`},
		{"eraf contradicts src", []string{"--add", "--eraf", "inet", "--src", "3049:1::1/128", "--dst", okDst, "--said", "%drop"},
			"Error, --src 3049:1::1/128 is inet6, but --eraf is inet"},
		{"eraf contradicts dst", []string{"--add", "--eraf", "inet6", "--src", "%default", "--dst", okDst, "--said", "%drop"},
			"Error, --dst 10.1.0.0/16 is inet, but --eraf is inet6"},
		{"families mixed", []string{"--add", "--src", "3049:1::1/128", "--dst", okDst, "--said", "%drop"},
			"Error, --dst 10.1.0.0/16 is inet, but --src is inet6"},
		{"bad eraf", []string{"--add", "--eraf", "inet7", "--src", okSrc, "--dst", okDst, "--said", "%drop"},
			`Invalid address family parameter for eroute: --eraf "inet7": must be inet or inet6`},
		{"unresolvable host", []string{"--add", "--src", "no-such-host.invalid/32", "--dst", okDst, "--said", "%drop"},
			`Error, host name "no-such-host.invalid" not found converting --src argument: no-such-host.invalid/32`},
		{"host of the other family", []string{"--add", "--src", "company.com/24", "--dst", "3049::/16", "--said", "%drop"},
			`Error, host name "company.com" has no inet6 address converting --src argument: company.com/24`},
		{"unknown proto name", []string{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "nosuchproto", "--said", "%drop"},
			`Invalid --transport-proto parameter "nosuchproto": not a name in $PROTOCOLS nor a number`},
		{"proto too large", []string{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "256", "--said", "%drop"},
			`Invalid --transport-proto parameter "256": number too large (want 0 to 255 or a name in $PROTOCOLS)`},
		{"port without proto", []string{"--add", "--src", okSrc, "--dst", okDst, "--dst-port", "110", "--said", "%drop"},
			"--transport-proto with either UDP or TCP must be specified if --src-port or --dst-port is used (--transport-proto is 0)"},
		{"port with icmp", []string{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "icmp", "--src-port", "7", "--said", "%drop"},
			"--transport-proto with either UDP or TCP must be specified if --src-port or --dst-port is used (--transport-proto is 1)"},
		{"port too large", []string{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "tcp", "--dst-port", "65536", "--said", "%drop"},
			`Invalid --dst-port parameter "65536": number too large (want 0 to 65535 or a name in $SERVICES)`},
		{"unknown service name", []string{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "tcp", "--src-port", "nosuchservice", "--said", "%drop"},
			`Invalid --src-port parameter "nosuchservice": not a name in $SERVICES nor a number`},

		// SAID.
		{"no SAID", []string{"--add", "--src", okSrc, "--dst", okDst},
			"add and addin options must have SA specified. Give --said or --af, --edst, --spi and --proto."},
		{"no SAID replace", []string{"--replace", "--src", okSrc, "--dst", okDst},
			"add and addin options must have SA specified. Give --said or --af, --edst, --spi and --proto."},
		{"partial SAID", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x135"},
			"add and addin options must have SA specified. Missing --proto."},
		{"partial SAID, two missing", []string{"--addin", "--src", okSrc, "--dst", okDst, "--spi", "0x135", "--proto", "tun"},
			"add and addin options must have SA specified. Missing --af, --edst."},
		{"SPI below 0x100", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x12", "--proto", "tun"},
			`Invalid SPI parameter "0x12": values less than 0x100 are reserved`},
		{"SPI 255", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "255", "--proto", "esp"},
			`Invalid SPI parameter "255": values less than 0x100 are reserved`},
		{"SPI not a number", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "12z", "--proto", "tun"},
			`Invalid SPI parameter "12z": non-digit character in number`},
		{"SPI too large", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x100000000", "--proto", "tun"},
			`Invalid SPI parameter "0x100000000": number too large`},
		{"bad proto", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x135", "--proto", "gre"},
			`Invalid PROTO parameter: --proto "gre": must be ah, esp, comp or tun`},
		{"proto int", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "10.9.9.9", "--spi", "0x135", "--proto", "int"},
			`Invalid PROTO parameter: --proto "int": must be ah, esp, comp or tun`},
		{"bad af", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "ipx", "--edst", "10.9.9.9", "--spi", "0x135", "--proto", "tun"},
			`Invalid address family parameter for SAID: --af "ipx": must be inet or inet6`},
		{"edst of the other af", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet6", "--edst", "10.9.9.9", "--spi", "0x135", "--proto", "tun"},
			"Error, --edst 10.9.9.9 is inet, but --af is inet6"},
		{"edst unresolvable", []string{"--add", "--src", okSrc, "--dst", okDst, "--af", "inet", "--edst", "nowhere.invalid", "--spi", "0x135", "--proto", "tun"},
			`Error, host name "nowhere.invalid" not found converting --edst argument: nowhere.invalid`},
		{"said mixed with spi", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "tun.135@10.9.9.9", "--spi", "0x135"},
			"Error, --said tun.135@10.9.9.9 and --spi 0x135 both given: use either --said or --af, --edst, --spi and --proto"},
		{"said mixed with af on del", []string{"--del", "--src", okSrc, "--dst", okDst, "--af", "inet", "--said", "%drop"},
			"Error, --said %drop and --af inet both given: use either --said or --af, --edst, --spi and --proto"},
		{"said SPI below 0x100", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "esp0x12@10.9.9.9"},
			"Error, values less than 0x100 are reserved converting --said argument: esp0x12@10.9.9.9"},
		{"said without @", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "tun135"},
			"Error, no @ in SA specifier converting --said argument: tun135"},
		{"said too short", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "%dro"},
			"Error, string too short to be a SA specifier converting --said argument: %dro"},
		{"said bad proto", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "gre0x135@10.9.9.9"},
			"Error, unknown SA protocol (want ah, esp, comp, tun or int) converting --said argument: gre0x135@10.9.9.9"},
		{"said AF contradicts address", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "esp:135@10.9.9.9"},
			"Error, address 10.9.9.9 is not inet6 converting --said argument: esp:135@10.9.9.9"},
		{"said unknown internal SPI", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "int0x200@0.0.0.0"},
			"Error, unknown internal SPI 0x200 (want 0x100 to 0x105) converting --said argument: int0x200@0.0.0.0"},
		{"said unresolvable", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "tun.135@nowhere.invalid"},
			`Error, host name "nowhere.invalid" not found converting --said argument: tun.135@nowhere.invalid`},
		{"transport SAID of the other family", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "esp0x135@3049::1"},
			"Error, SAID esp:135@3049::1 is inet6 but the eroute is inet: only a tun SAID may carry one family inside the other"},
		{"transport SAID to a subnet", []string{"--add", "--src", okSrc, "--dst", okDst, "--said", "esp0x135@10.9.9.9"},
			"Error, SAID esp.135@10.9.9.9 is a transport SA, which protects packets to 10.9.9.9 only, not to the subnet --dst 10.1.0.0/16: use a tun SAID for a subnet"},
		{"transport SAID of the other family, parts", []string{"--add", "--src", "3049::/16", "--dst", "3049:2::/32",
			"--af", "inet", "--edst", "10.9.9.9", "--spi", "0x200", "--proto", "ah"},
			"Error, SAID ah.200@10.9.9.9 is inet but the eroute is inet6: only a tun SAID may carry one family inside the other"},
		{"del refuses a bad SAID value", []string{"--del", "--src", okSrc, "--dst", okDst, "--said", "esp0x12@10.9.9.9"},
			"Error, values less than 0x100 are reserved converting --said argument: esp0x12@10.9.9.9"},
		{"del refuses a bad SPI", []string{"--del", "--src", okSrc, "--dst", okDst, "--spi", "1"},
			`Invalid SPI parameter "1": values less than 0x100 are reserved`},

		// The table's own refusals.
		{"add over an existing eroute", []string{"--add", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24", "--said", "%drop"},
			"eroute already in use.  Delete old one first."},
		{"add over an existing eroute, host bits cleared", []string{"--add", "--src", "company.com/24", "--dst", "mail.ngo.org/32", "--said", "%hold"},
			"eroute already in use.  Delete old one first."},
		{"addin over an existing inbound eroute", []string{"--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9"},
			"eroute already in use.  Delete old one first."},
		{"del of a missing eroute", []string{"--del", "--src", okSrc, "--dst", okDst},
			"eroute doesn't exist.  Can't delete."},
		{"del differs in the port", []string{"--del", "--src", "company.com/24", "--dst", "mail.ngo.org/32", "--transport-proto", "tcp", "--dst-port", "pop3", "--src-port", "1"},
			"eroute doesn't exist.  Can't delete."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := withManualTable(t)
			w.mustRun(t, "--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9")
			before := w.table.snapshot()
			code := w.run(tt.args...)
			want := strings.NewReplacer("$PROTOCOLS", w.names.ProtocolsFile, "$SERVICES", w.names.ServicesFile).
				Replace("eroute: " + tt.want + "\n")
			if code != 1 {
				t.Errorf("status %d, want 1", code)
			}
			if got := w.stderr.String(); got != want {
				t.Errorf("stderr\n got %q\nwant %q", got, want)
			}
			if w.stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", w.stdout.String())
			}
			if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
				t.Errorf("the table changed (-before +after):\n%s", diff)
			}
			if w.table.opened != 0 {
				t.Errorf("%d tables left open", w.table.opened)
			}
			if len(w.table.bad) > 0 {
				t.Errorf("the table was given bad eroutes: %q", w.table.bad)
			}
		})
	}
}

func TestRunOpenFails(t *testing.T) {
	w := newWorld(t)
	w.table.failOpen = errors.New("access denied.")
	if code := w.run("--clear"); code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	if got, want := w.stderr.String(), "eroute: access denied.\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestRunListFails(t *testing.T) {
	w := withManualTable(t)
	w.table.failList = errors.New("netlink receive: message truncated")
	if code := w.run("--netns", "blue"); code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	if w.stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", w.stdout.String())
	}
	if got, want := w.stderr.String(), "eroute: netlink receive: message truncated\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if w.table.opened != 0 {
		t.Errorf("%d tables left open", w.table.opened)
	}
}

func TestRunHelpVersion(t *testing.T) {
	tests := []struct {
		args []string
		want string // the start of stdout
	}{
		{[]string{"--help"}, "usage: eroute --{add,addin,replace,replacein} --eraf <inet | inet6> --src"},
		{[]string{"--h"}, "usage: "},
		{[]string{"--version"}, "ipsec eroute " + VersionString + "\n"},
		{[]string{"--vers"}, "ipsec eroute "},
		{[]string{"--add", "--src", "bogus", "--help"}, "usage: "},
		{[]string{"--help", "--add", "--replace"}, "usage: "},
		{[]string{"--add", "--replace", "--help"}, "usage: "},
		{[]string{"--src", "a", "--src", "b", "--version"}, "ipsec eroute "},
		{[]string{"--version", "--help"}, "ipsec eroute "},
		{[]string{"--help", "--version"}, "usage: "},
		{[]string{"--label", "x", "--help"}, "usage: "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			w := withManualTable(t)
			before := w.table.snapshot()
			if code := w.run(tt.args...); code != 0 {
				t.Errorf("status %d, want 0", code)
			}
			if !strings.HasPrefix(w.stdout.String(), tt.want) {
				t.Errorf("stdout %q, want it to start with %q", w.stdout.String(), tt.want)
			}
			if w.stderr.Len() != 0 {
				t.Errorf("stderr %q, want nothing", w.stderr.String())
			}
			if w.table.snapshot() != before || len(w.table.netns) != len(manualCommands) {
				t.Errorf("--help or --version touched the table")
			}
		})
	}
	w := newWorld(t)
	w.run("--help")
	if w.stdout.String() != usage {
		t.Errorf("--help printed %q, want the usage", w.stdout.String())
	}
	for _, want := range []string{"%passthrough6", "%trap", "--netns <name>", "--label <label>", "--debug", "--del", "--clear"} {
		if !strings.Contains(usage, want) {
			t.Errorf("the usage does not mention %s", want)
		}
	}
}

// TestRunOptionForms: --opt=VALUE and unambiguous abbreviations.
func TestRunOptionForms(t *testing.T) {
	const want = "0          10.0.0.0/8         -> 10.1.0.0/16:53     => tun0x200@10.9.9.9:17\n"
	for _, args := range [][]string{
		{"--add", "--src", okSrc, "--dst", okDst, "--transport-proto", "udp", "--dst-port", "53", "--said", "tun0x200@10.9.9.9"},
		{"--add", "--src=10.0.0.0/8", "--dst=10.1.0.0/16", "--transport-proto=17", "--dst-port=53", "--said=tun.200@10.9.9.9"},
		{"--rep", "--sr", okSrc, "--ds", okDst, "--transport=0x11", "--dst-=065", "--sa", "tun512@10.9.9.9"},
		{"--replace", "--src", okSrc, "--dst", okDst, "--tr", "021", "--dst-p", "0x35",
			"--af=inet", "--ed", "10.9.9.9", "--sp", "0x200", "--pr", "tun"},
		{"--ad", "--eraf=inet", "--src", okSrc, "--dst", okDst, "--transport-proto", "udp", "--dst-port", "53",
			"--said", "tun0x200@10.9.9.9", "--netns=", "--label="},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			w := newWorld(t)
			w.mustRun(t, args...)
			w.mustRun(t)
			if got := w.stdout.String(); got != want {
				t.Errorf("listing\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestRunOptionValues: values that look like options are values.
func TestRunOptionValues(t *testing.T) {
	w := newWorld(t)
	if code := w.run("--add", "--src", okSrc, "--dst", okDst, "--said", "--drop"); code != 1 {
		t.Fatalf("status %d", code)
	}
	if want := "eroute: Error, unknown SA protocol (want ah, esp, comp, tun or int) converting --said argument: --drop\n"; w.stderr.String() != want {
		t.Errorf("stderr %q, want %q", w.stderr.String(), want)
	}
	w.mustRun(t, "--label", "--add", "--netns", "--", "--clear")
	if got := w.table.netns; len(got) != 1 || got[0] != "--" {
		t.Errorf("opened namespaces %q, want [--]", got)
	}
}

func TestRunDelIgnoresSAID(t *testing.T) {
	for _, said := range [][]string{
		{"--said", "%drop"},
		{"--said", "tun.999@gw.ngo.org"},
		{"--said", "esp:200@3049::1"}, // a transport SAID of the other family: ignored too
		{"--af", "inet", "--edst", "10.9.9.9", "--spi", "0x999", "--proto", "ah"},
		{"--af", "inet6"},
		{"--spi", "0x135", "--proto", "tun"},
	} {
		t.Run(strings.Join(said, " "), func(t *testing.T) {
			w := withManualTable(t)
			args := append([]string{"--del", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24"}, said...)
			w.mustRun(t, args...)
			w.mustRun(t)
			if strings.Contains(w.stdout.String(), "192.168.2.0/24") {
				t.Errorf("not deleted:\n%s", w.stdout.String())
			}
		})
	}
}

func TestRunPassthrough(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "3049:1::/64", "--dst", "3049:2::/64", "--said", "%passthrough")
	w.mustRun(t, "--add", "--src", "3049:3::/64", "--dst", "v6only.example/128", "--said", "%passthrough6")
	w.mustRun(t, "--add", "--eraf", "inet", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%passthrough")
	w.mustRun(t, "--add", "--src", "10.2.0.0/16", "--dst", "10.3.0.0/16", "--said", "tun0x0@0.0.0.0")
	w.mustRun(t, "--add", "--src", "10.4.0.0/16", "--dst", "10.5.0.0/16", "--said", "int0x102@0.0.0.0")
	w.mustRun(t)
	want := `0          10.0.0.0/8         -> 10.1.0.0/16        => %passthrough4
0          10.2.0.0/16        -> 10.3.0.0/16        => %passthrough4
0          10.4.0.0/16        -> 10.5.0.0/16        => %reject
0          3049:1::/64        -> 3049:2::/64        => %passthrough6
0          3049:3::/64        -> 2001:db8::80/128   => %passthrough6
`
	if diff := cmp.Diff(want, w.stdout.String()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
}

func TestRunFamilyInference(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--add", "--src", "3049:1::1/128", "--dst", "3049:2::/64", "--af", "inet6", "--edst", "3049:1::2", "--spi", "0x145", "--proto", "tun"},
			"0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2\n"},
		{[]string{"--add", "--src", "%default", "--dst", "3049:2::/64", "--said", "%drop"},
			"0          ::/0               -> 3049:2::/64        => %drop\n"},
		{[]string{"--add", "--src", "3049:2::/64", "--dst", "%default", "--said", "%trap"},
			"0          3049:2::/64        -> ::/0               => %trap\n"},
		{[]string{"--add", "--src", "%default", "--dst", "%default", "--said", "%hold"},
			"0          0.0.0.0/0          -> 0.0.0.0/0          => %hold\n"},
		{[]string{"--add", "--eraf", "inet6", "--src", "%default", "--dst", "%default", "--said", "%trapsubnet"},
			"0          ::/0               -> ::/0               => %trapsubnet\n"},
		{[]string{"--add", "--src", "company.com/24", "--dst", "ftp.ngo.org/32", "--said", "tun0x135@gw.ngo.org"},
			"0          192.0.2.0/24       -> 198.51.100.21/32   => tun0x135@198.51.100.1\n"},
		{[]string{"--add", "--src", "dual.example/120", "--dst", "3049::/16", "--said", "tun.135@10.9.9.9"},
			"0          2001:db8::/120     -> 3049::/16          => tun0x135@10.9.9.9\n"},
		{[]string{"--add", "--src", "dual.example/24", "--dst", "company.com/32", "--said", "esp.135@dual.example"},
			"0          192.0.2.0/24       -> 192.0.2.10/32      => esp0x135@192.0.2.81\n"},
		{[]string{"--add", "--src", "0x80090020/0xffff0000", "--dst", "128.009.000.032/255.255.255.0", "--said", "tun.200@10"},
			"0          128.9.0.0/16       -> 128.9.0.0/24       => tun0x200@10.0.0.0\n"},
		{[]string{"--add", "--eraf", "inet6", "--src", "3049:0001:0000:0000:0000:0000:0000:0001/64", "--dst", "v6only.example/128",
			"--transport-proto", "tcp", "--src-port", "pop3", "--said", "esp:200@3049::1"},
			"0          [3049:1::/64]:110  -> 2001:db8::80/128   => esp0x200@3049::1:6\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			w := newWorld(t)
			w.mustRun(t, tt.args...)
			w.mustRun(t)
			if got := w.stdout.String(); got != tt.want {
				t.Errorf("listing\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRunLabel(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--label", "pluto", "--del", "--src", okSrc, "--dst", okDst},
			"eroute --label pluto: eroute doesn't exist.  Can't delete.\n"},
		{[]string{"--del", "--src", okSrc, "--dst", "bogus!/32", "--label=ipsec up"},
			"eroute --label ipsec up: Error, bad character '!' in address converting --dst argument: bogus!/32\n"},
		{[]string{"--lab", "x", "--add", "--replace"},
			"eroute --label x: Only one of '--add', '--replace', '--clear', or '--del' options permitted.\n"},
		{[]string{"--label", "x", "--src", "a", "--src", "b"},
			"eroute --label x: Error, --src parameter redefined:b, already defined as:a\n"},
		{[]string{"--label", "a", "--label", "b"},
			"eroute --label a: Error, --label parameter redefined:b, already defined as:a\n"},
		{[]string{"--label", "x", "--frobnicate"},
			"eroute --label x: unrecognized option '--frobnicate'; see --help\n"},
		{[]string{"--label", "x", "--src"},
			"eroute --label x: option '--src' requires an argument\n"},
		{[]string{"--label", "", "--clear", "--src", okSrc},
			"eroute: --clear deletes every eroute and takes no --src\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			w := newWorld(t)
			if code := w.run(tt.args...); code != 1 {
				t.Errorf("status %d, want 1", code)
			}
			if got := w.stderr.String(); got != tt.want {
				t.Errorf("stderr\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	// A label changes nothing else.
	w := newWorld(t)
	w.mustRun(t, "--label", "pluto", "--add", "--src", okSrc, "--dst", okDst, "--said", "%drop")
	if w.stdout.Len() != 0 {
		t.Errorf("stdout %q", w.stdout.String())
	}
}

// TestRunDebug: --debug says what the command will do, on stderr, so
// that stdout (a listing, JSON, a --dry-run plan) stays what it would be
// without it.
func TestRunDebug(t *testing.T) {
	tests := []struct {
		args  []string
		debug string
	}{
		{[]string{"--debug", "--add", "--src", okSrc, "--dst", okDst, "--said", "%drop"},
			"add 10.0.0.0/8 -> 10.1.0.0/16 => %drop"},
		{[]string{"--replace", "--src", okSrc, "--dst", okDst, "--transport-proto", "tcp", "--dst-port", "pop3",
			"--said", "tun.135@gw.ngo.org", "--netns", "blue", "--debug"},
			"replace 10.0.0.0/8 -> 10.1.0.0/16:110:6 => tun0x135@198.51.100.1 in network namespace blue"},
		{[]string{"--debug", "--addin", "--src", okSrc, "--dst", okDst, "--said", "%pass"},
			"addin 10.0.0.0/8 -> 10.1.0.0/16 => %pass"},
		{[]string{"--debug", "--replacein", "--src", okSrc, "--dst", okDst, "--said", "%pass"},
			"replacein 10.0.0.0/8 -> 10.1.0.0/16 => %pass"},
		{[]string{"--debug", "--del", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24", "--said", "%drop"},
			"del 192.168.0.1/32 -> 192.168.2.0/24"},
		{[]string{"--debug", "--clear"}, "clear"},
		{[]string{"--debug", "--netns", "red"}, "list in network namespace red"},
		{[]string{"--debug", "--json"}, "list"},
		{[]string{"--debug", "--batch", "-"}, "batch -"},
		{[]string{"--debug", "--sync", "-", "--dry-run"}, "sync - (dry run)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			without := withManualTable(t)
			without.mustRun(t, slices.DeleteFunc(slices.Clone(tt.args), func(a string) bool { return a == "--debug" })...)
			w := withManualTable(t)
			if code := w.run(tt.args...); code != 0 {
				t.Fatalf("status %d, stderr %q", code, w.stderr.String())
			}
			if got, want := w.stderr.String(), "eroute: DEBUG: "+tt.debug+"\n"; got != want {
				t.Errorf("stderr\n got %q\nwant %q", got, want)
			}
			if got, want := w.stdout.String(), without.stdout.String(); got != want {
				t.Errorf("stdout\n got %q\nwant %q (as without --debug)", got, want)
			}
		})
	}
	if got := describe(Request{Action: Monitor, HoldTimeout: DefaultHoldTimeout}); got != "monitor (holds for 30s)" {
		t.Errorf("--monitor --debug says %q", got)
	}
	// A failed command still shows what it tried, before its error.
	w := withManualTable(t)
	if code := w.run("--debug", "--del", "--src", okSrc, "--dst", okDst); code != 1 {
		t.Errorf("status %d", code)
	}
	want := "eroute: DEBUG: del 10.0.0.0/8 -> 10.1.0.0/16\neroute: eroute doesn't exist.  Can't delete.\n"
	if got := w.stderr.String(); got != want || w.stdout.Len() != 0 {
		t.Errorf("stderr %q, stdout %q; want stderr %q", got, w.stdout.String(), want)
	}
}

func TestRunActions(t *testing.T) {
	w := withManualTable(t)
	// replace changes an existing eroute in place.
	w.mustRun(t, "--replace", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24", "--said", "%hold")
	w.mustRun(t, "--netns", "blue")
	if !strings.Contains(w.stdout.String(), "0          192.168.0.1/32     -> 192.168.2.0/24     => %hold\n") {
		t.Errorf("replace did not replace:\n%s", w.stdout.String())
	}
	if got := w.table.netns[len(w.table.netns)-1]; got != "blue" {
		t.Errorf("listing opened namespace %q, want blue", got)
	}
	// Inbound eroutes are not listed.
	w.mustRun(t, "--addin", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.200@10.9.9.9")
	w.mustRun(t, "--replacein", "--src", "10.9.0.0/16", "--dst", "10.8.0.0/16", "--said", "tun.201@10.9.9.9")
	if got := sorted(w.table.in); len(got) != 1 || got[0].SAID.SPI != 0x201 {
		t.Errorf("inbound eroutes %v", got)
	}
	w.mustRun(t)
	if strings.Contains(w.stdout.String(), "10.9.0.0/16") {
		t.Errorf("inbound eroute listed:\n%s", w.stdout.String())
	}
	// clear empties the listing; the listing of an empty table is empty.
	w.mustRun(t, "--clear", "--label", "x", "--netns", "")
	w.mustRun(t)
	if w.stdout.Len() != 0 {
		t.Errorf("listing after --clear:\n%s", w.stdout.String())
	}
	if w.table.opened != 0 {
		t.Errorf("%d tables left open", w.table.opened)
	}
}

// TestRunMessagesOneLine: values with line breaks cannot split a message.
func TestRunMessagesOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"--add", "--src", "10.0.0.0/8\nx", "--dst", okDst, "--said", "%drop"},
		{"--add", "--src", okSrc, "--dst", okDst, "--said", "tun\n135"},
		{"--a\nb"},
		{"x\ny"},
		{"--label", "a\nb", "--clear", "--src", okSrc},
		{"--src", "a\r\n", "--src", "b\n"},
	} {
		w := newWorld(t)
		if code := w.run(args...); code != 1 {
			t.Errorf("%q: status %d", args, code)
		}
		if got := w.stderr.String(); strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") ||
			strings.ContainsAny(strings.TrimSuffix(got, "\n"), "\r\n") || !strings.HasPrefix(got, "eroute") {
			t.Errorf("%q: stderr %q, want one line", args, got)
		}
	}
	w := newWorld(t)
	w.run("--add", "--src", okSrc, "--dst", okDst, "--said", "tun\n135\t\x1b[2J\x7fé")
	if want := `eroute: Error, no @ in SA specifier converting --said argument: tun\n135\t\x1b[2J\x7fé` + "\n"; w.stderr.String() != want {
		t.Errorf("stderr %q, want %q", w.stderr.String(), want)
	}
}
