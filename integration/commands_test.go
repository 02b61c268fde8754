package integration

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// assertUnchanged runs a failing command and checks the KLIPS message, the
// exit status 1, and that neither reader sees the table change.
func assertUnchanged(t *testing.T, ns *NS, wantStderr string, args ...string) {
	t.Helper()
	assertRefused(t, ns, []string{wantStderr}, args...)
}

// assertRefused is assertUnchanged for a message that must contain each of
// wants.
func assertRefused(t *testing.T, ns *NS, wants []string, args ...string) {
	t.Helper()
	listing, policies := ns.Listing(), ns.IPPolicies()
	r := ns.Eroute(args...)
	if r.Code != 1 {
		t.Errorf("eroute %s: exit %d, want 1", strings.Join(args, " "), r.Code)
	}
	for _, want := range wants {
		if !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("eroute %s: stderr %q, want one line containing %q", strings.Join(args, " "), r.Stderr, want)
		}
	}
	if r.Stdout != "" {
		t.Errorf("stdout %q, want nothing", r.Stdout)
	}
	if diff := cmp.Diff(listing, ns.Listing()); diff != "" {
		t.Errorf("listing changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(policies, ns.IPPolicies()); diff != "" {
		t.Errorf("ip xfrm policy changed (-before +after):\n%s", diff)
	}
}

func TestAddOverExistingSelector(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop")
	assertUnchanged(t, ns, "eroute already in use.  Delete old one first.",
		"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun0x200@10.9.9.9")
	// Host bits are cleared, so this is the same selector.
	assertUnchanged(t, ns, "eroute already in use.  Delete old one first.",
		"--add", "--src", "10.1.2.3/8", "--dst", "10.1.0.0/16", "--said", "%pass")
}

func TestDeleteMissing(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop")
	assertUnchanged(t, ns, "eroute doesn't exist.  Can't delete.",
		"--del", "--src", "10.0.0.0/8", "--dst", "10.2.0.0/16")
	assertUnchanged(t, ns, "eroute doesn't exist.  Can't delete.",
		"--del", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--transport-proto", "tcp")
}

func TestBadInputLeavesTable(t *testing.T) {
	ns := newNS(t, manualHosts)
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop")
	for _, c := range []struct {
		msg  string
		args []string
	}{
		{"values less than 0x100 are reserved", strings.Fields("--replace --src 10.0.0.0/8 --dst 10.1.0.0/16 --af inet --edst 1.2.3.4 --spi 0xff --proto esp")},
		{"converting --dst argument", strings.Fields("--replace --src 10.0.0.0/8 --dst 10.1.0.0/40 --said %pass")},
		{`host name "nowhere.ngo.org"`, strings.Fields("--replace --src 10.0.0.0/8 --dst nowhere.ngo.org/32 --said %pass")},
		{"Only one of", strings.Fields("--clear --del --src 10.0.0.0/8 --dst 10.1.0.0/16")},
		{"unrecognized option '--cleer'", strings.Fields("--cleer")},
		{"--transport-proto with either UDP or TCP", strings.Fields("--del --src 10.0.0.0/8 --dst 10.1.0.0/16 --dst-port 80")},
	} {
		assertUnchanged(t, ns, c.msg, c.args...)
	}
}

func TestReplace(t *testing.T) {
	ns := newNS(t, "")
	sel := []string{"--src", "10.0.0.0/8", "--dst", "10.1.0.0/16"}
	ns.MustEroute(append([]string{"--replace"}, append(sel, "--said", "%drop")...)...)
	for _, said := range []string{"tun0x135@10.9.9.9", "%reject", "%pass", "tun0x200@10.1.0.1", "%hold", "%trap", "%drop"} {
		ns.MustEroute(append([]string{"--replace"}, append(sel, "--said", said)...)...)
		want := "0          10.0.0.0/8         -> 10.1.0.0/16        => " + said + "\n"
		if got := ns.Listing(); got != want {
			t.Errorf("after --replace with %s listing is\n%q\nwant\n%q", said, got, want)
		}
		if n := len(parsePolicies(ns.IPPolicies())); n != 1 {
			t.Errorf("after --replace with %s, ip xfrm policy shows %d policies, want 1", said, n)
		}
	}
}

func TestEachMagicSAID(t *testing.T) {
	ns := newNS(t, "")
	cases := []struct{ said, listed, ipWant string }{
		{"%pass", "%pass", "allow"},
		{"%passthrough", "%passthrough4", "allow"},
		{"%passthrough4", "%passthrough4", "allow"},
		{"%passthrough6", "%passthrough6", "allow"},
		{"%drop", "%drop", "action block"},
		{"%reject", "%reject", "action block"},
		{"%hold", "%hold", "dir out"},
		{"%trap", "%trap", "tmpl"},
		{"int0x100@0.0.0.0", "%pass", "allow"},
		{"int0x101@0.0.0.0", "%drop", "action block"},
		{"int0x102@0.0.0.0", "%reject", "action block"},
		{"int0x103@0.0.0.0", "%hold", "dir out"},
		{"int0x104@0.0.0.0", "%trap", "tmpl"},
		{"%trapsubnet", "%trapsubnet", "tmpl"},
	}
	for i, c := range cases {
		dst := "172.16." + strconv.Itoa(i) + ".0/24"
		ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", dst, "--said", c.said)
		want := "0          10.0.0.0/8         -> " + pad18(dst) + " => " + c.listed + "\n"
		if !strings.Contains(ns.Listing(), want) {
			t.Errorf("--said %s: listing lacks %q:\n%s", c.said, want, ns.Listing())
		}
		p := parsePolicies(ns.IPPolicies())["src 10.0.0.0/8 dst "+dst]
		if c.ipWant == "allow" && !isPlainAllow(p.text) || c.ipWant != "allow" && !strings.Contains(p.text, c.ipWant) {
			t.Errorf("--said %s: ip xfrm policy shows %q, want %q", c.said, p.text, c.ipWant)
		}
	}
}

func TestIPv6(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute(example2...)
	ns.MustEroute("--add", "--eraf", "inet6", "--src", "3049:1::/64", "--dst", "3049:2::7/128",
		"--transport-proto", "tcp", "--src-port", "0x6e", "--said", "esp:1000@3049:2::7")
	ns.MustEroute("--add", "--src", "%default", "--dst", "3049:3:0:0:0:0:0:0/48", "--said", "%passthrough")
	// IPv4 traffic in an IPv6 tunnel, and back.
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "tun:135@3049:1::2")
	ns.MustEroute("--add", "--eraf", "inet6", "--src", "3049:9::/32", "--dst", "3049:8::/32", "--said", "tun.135@192.0.2.1")
	want := `0          10.0.0.0/8         -> 10.1.0.0/16        => tun0x135@3049:1::2
0          ::/0               -> 3049:3::/48        => %passthrough6
0          [3049:1::/64]:110  -> 3049:2::7/128      => esp0x1000@3049:2::7:6
0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2
0          3049:9::/32        -> 3049:8::/32        => tun0x135@192.0.2.1
`
	if diff := cmp.Diff(want, ns.Listing()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	ip := ns.IPPolicies()
	for _, s := range []string{"src 3049:1::/64 dst 3049:2::7/128 proto tcp sport 110", "tmpl src :: dst 3049:1::2", "tmpl src 0.0.0.0 dst 192.0.2.1"} {
		if !strings.Contains(ip, s) {
			t.Errorf("ip xfrm policy lacks %q:\n%s", s, ip)
		}
	}
	// A transport SAID may not cross families; the table stays as it was.
	assertUnchanged(t, ns, "only a tun SAID may carry one family inside the other",
		"--add", "--src", "10.0.0.0/8", "--dst", "10.2.0.0/16", "--said", "esp:135@3049:1::2")
}

// Policies written by others are listed in the closest eroute terms, and no
// shape of policy makes the listing fail.
func TestForeignPolicies(t *testing.T) {
	ns := newNS(t, "")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.1.0.0/16", "dir", "out",
		"tmpl", "src", "1.1.1.1", "dst", "2.2.2.2", "proto", "esp", "spi", "0x300", "mode", "tunnel")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.2.0.0/16", "dir", "out", "action", "block")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.3.0.0/16", "dir", "out")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.4.0.0/16", "dir", "out", "mark", "5", "mask", "0xff",
		"tmpl", "proto", "comp", "spi", "0x4000", "mode", "transport",
		"tmpl", "src", "3049::1", "dst", "3049::2", "proto", "esp", "spi", "0x301", "mode", "tunnel")
	ns.IP("xfrm", "policy", "add", "src", "3049:5::/64", "dst", "3049:6::/64", "dir", "out", "priority", "7",
		"tmpl", "src", "3049::1", "dst", "3049::2", "proto", "esp", "mode", "tunnel")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.5.0.0/16", "dir", "in", "action", "block")
	ns.IP("xfrm", "policy", "add", "src", "10.0.0.0/8", "dst", "10.6.0.0/16", "dir", "fwd")
	want := `0          10.0.0.0/8         -> 10.1.0.0/16        => tun0x300@2.2.2.2
0          10.0.0.0/8         -> 10.2.0.0/16        => %drop
0          10.0.0.0/8         -> 10.3.0.0/16        => %pass
0          10.0.0.0/8         -> 10.4.0.0/16        => tun0x301@3049::2
0          3049:5::/64        -> 3049:6::/64        => %trap
`
	if diff := cmp.Diff(want, ns.Listing()); diff != "" {
		t.Errorf("listing (-want +got):\n%s", diff)
	}
	// --clear removes eroute's own eroutes only.
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.9.0.0/16", "--said", "%trap")
	before := ns.IPPolicies()
	ns.MustEroute("--clear")
	if diff := cmp.Diff(want, ns.Listing()); diff != "" {
		t.Errorf("listing after --clear (-want +got):\n%s", diff)
	}
	if after := ns.IPPolicies(); strings.Contains(after, "10.9.0.0/16") || len(parsePolicies(after)) != len(parsePolicies(before))-1 {
		t.Errorf("--clear should have removed the one eroute:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// --clear --all removes what the listing shows, and only that.
	ns.MustEroute("--clear", "--all")
	if got := ns.Listing(); got != "" {
		t.Errorf("listing after --clear:\n%s", got)
	}
	ip := ns.IPPolicies()
	if strings.Contains(ip, "dir out") || !strings.Contains(ip, "dir in") || !strings.Contains(ip, "dir fwd") {
		t.Errorf("after --clear --all, ip xfrm policy should keep only in and fwd policies:\n%s", ip)
	}
}

// --netns acts on the named namespace from outside it.
func TestNetnsOption(t *testing.T) {
	ns := newNS(t, "")
	out, err := exec.Command(eroutePath, "--netns", ns.Name, "--add", "--src", "10.0.0.0/8",
		"--dst", "10.1.0.0/16", "--said", "%reject").CombinedOutput()
	if err != nil {
		t.Fatalf("eroute --netns: %v: %s", err, out)
	}
	listed, err := exec.Command(eroutePath, "--netns", ns.Name).Output()
	if err != nil || !strings.Contains(string(listed), "=> %reject") {
		t.Errorf("eroute --netns %s listing: %v\n%s", ns.Name, err, listed)
	}
	if !strings.Contains(ns.IPPolicies(), "src 10.0.0.0/8 dst 10.1.0.0/16") {
		t.Errorf("policy not in namespace %s", ns.Name)
	}
	r := runResult(t, eroutePath, "--netns", "eroute-no-such-ns")
	if r.Code != 1 || !strings.Contains(r.Stderr, `network namespace "eroute-no-such-ns" not found`) {
		t.Errorf("unknown namespace: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// Without CAP_NET_ADMIN the message says so.
func TestWithoutPrivilege(t *testing.T) {
	ns := newNS(t, "")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("skipped: needs setpriv(1) from util-linux to drop privileges")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "to read the IPsec policy table."},
		{[]string{"--json"}, "to read the IPsec policy table."},
		{[]string{"--sync", "-", "--dry-run"}, "to read the IPsec policy table."},
		{[]string{"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop"}, "to change the IPsec policy table."},
		{[]string{"--clear"}, "to change the IPsec policy table."},
	} {
		r := ns.Exec("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", eroutePath}, c.args...)...)
		if want := "eroute: access denied.  You must be root (CAP_NET_ADMIN) " + c.want + "\n"; r.Code != 1 || r.Stderr != want {
			t.Errorf("unprivileged eroute %v: exit %d, stderr %q, want %q", c.args, r.Code, r.Stderr, want)
		}
	}
	if strings.Contains(ns.IPPolicies(), "dir out") {
		t.Errorf("an unprivileged command changed the table")
	}
}

// --netns takes CAP_SYS_ADMIN (setns): with CAP_NET_ADMIN alone, which is
// enough for the table of one's own namespace, the message names the
// capability that is missing.
func TestNetnsWithoutSysAdmin(t *testing.T) {
	ns := newNS(t, "")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("skipped: needs setpriv(1) from util-linux to drop privileges")
	}
	netAdminOnly := []string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin"}
	for _, args := range [][]string{{}, {"--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop"}} {
		r := runResult(t, "setpriv", slices.Concat(netAdminOnly, []string{eroutePath, "--netns", ns.Name}, args)...)
		want := "eroute: access denied.  You must be root (CAP_SYS_ADMIN) to enter another network namespace.\n"
		if r.Code != 1 || r.Stderr != want {
			t.Errorf("eroute --netns %v with CAP_NET_ADMIN only: exit %d, stderr %q, want %q", args, r.Code, r.Stderr, want)
		}
	}
	// Inside the namespace, CAP_NET_ADMIN is enough.
	r := ns.Exec("setpriv", slices.Concat(netAdminOnly, []string{eroutePath, "--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%drop"})...)
	if r.Code != 0 || !strings.Contains(ns.IPPolicies(), "src 10.0.0.0/8 dst 10.1.0.0/16") {
		t.Errorf("eroute with CAP_NET_ADMIN inside the namespace: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

func pad18(s string) string {
	for len(s) < 18 {
		s += " "
	}
	return s
}

// --addin writes an inbound policy and the forward policy a gateway needs
// for the subnet behind it; --del and --clear leave them (they act on
// outbound eroutes, as in KLIPS) and --delin removes both.
func TestInboundPolicies(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--addin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8", "--said", "tun0x135@10.0.0.1")
	dir := func(d string) string {
		for _, b := range splitPolicyBlocks(ns.IPPolicies()) {
			if strings.Contains(b, "dir "+d) {
				return strings.Join(strings.Fields(b), " ")
			}
		}
		return ""
	}
	in := func() string { return dir("in") + dir("fwd") }
	for _, d := range []string{"in", "fwd"} {
		if got := dir(d); !strings.Contains(got, "src 10.1.0.0/16 dst 10.0.0.0/8") || !strings.Contains(got, "proto esp spi 0x00000135 reqid 0 mode tunnel") {
			t.Fatalf("ip xfrm policy shows no %s tunnel policy: %q", d, got)
		}
	}
	if got := ns.Listing(); got != "" {
		t.Errorf("inbound policies are not listed, got:\n%s", got)
	}
	r := ns.Eroute("--del", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8")
	if r.Code != 1 || !strings.Contains(r.Stderr, "eroute doesn't exist.  Can't delete.") {
		t.Errorf("--del of an inbound-only selector: exit %d, %q", r.Code, r.Stderr)
	}
	ns.MustEroute("--clear")
	if dir("in") == "" || dir("fwd") == "" {
		t.Fatal("--clear removed the inbound or forward policy")
	}
	ns.MustEroute("--delin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8", "--said", "tun0x135@10.0.0.1")
	if got := in(); got != "" {
		t.Errorf("after --delin: %q", got)
	}
	r = ns.Eroute("--delin", "--src", "10.1.0.0/16", "--dst", "10.0.0.0/8")
	if r.Code != 1 || !strings.Contains(r.Stderr, "eroute doesn't exist.  Can't delete.") {
		t.Errorf("second --delin: exit %d, %q", r.Code, r.Stderr)
	}
}
