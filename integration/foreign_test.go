package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// daemonPolicies are policies an IKE daemon could have made, written with
// ip xfrm: charon's trap (a tunnel template with a reqid and no SPI, at
// strongSwan's priority), pluto's (transport, no addresses) and its ICMPv6
// neighbour-discovery bypass, a GRE key, a Mobility Header type, a selector
// with host bits, a marked policy.
var daemonPolicies = []string{
	"src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 367231 tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel",
	"src 10.3.0.0/16 dst 10.4.0.0/16 dir out priority 1750000 tmpl proto esp reqid 16389 mode transport",
	"src ::/0 dst ::/0 proto ipv6-icmp type 135 dir out priority 1750000",
	"src ::/0 dst ::/0 proto ipv6-icmp type 136 code 0 dir out priority 1750000",
	"src 10.5.0.0/16 dst 10.6.0.0/16 proto gre key 5 dir out",
	"src ::/0 dst 3049::/16 proto 135 type 5 dir out",
	"src 10.7.1.2/16 dst 10.8.0.0/16 dir out priority 367231",
	"src 10.9.0.0/16 dst 10.10.0.0/16 dir out mark 1 mask 0xff tmpl proto esp mode transport",
}

const daemonListing = `0          10.1.0.0/16        -> 10.2.0.0/16        => %trap
0          10.3.0.0/16        -> 10.4.0.0/16        => %trap
0          10.5.0.0/16        -> 10.6.0.0/16        => %pass:47 gre-key 5
0          10.7.1.2/16        -> 10.8.0.0/16        => %pass
0          10.9.0.0/16        -> 10.10.0.0/16       => %trap
0          ::/0               -> ::/0               => %pass:58 icmp-type 135
0          ::/0               -> ::/0               => %pass:58 icmp-type 136
0          ::/0               -> 3049::/16          => %pass:135 mh-type 5
`

// giveBack is, for each listed daemon policy, its selector as options.
var giveBack = []string{
	"--src 10.1.0.0/16 --dst 10.2.0.0/16",
	"--src 10.3.0.0/16 --dst 10.4.0.0/16",
	"--src 10.5.0.0/16 --dst 10.6.0.0/16 --transport-proto 47 --gre-key 5",
	"--src 10.7.1.2/16 --dst 10.8.0.0/16",
	"--src 10.9.0.0/16 --dst 10.10.0.0/16",
	"--src ::/0 --dst ::/0 --transport-proto ipv6-icmp --icmp-type 135",
	"--src ::/0 --dst ::/0 --transport-proto 58 --icmp-type 136",
	"--src ::/0 --dst 3049::/16 --transport-proto 135 --mh-type 5",
}

func daemonNS(t *testing.T) *NS {
	ns := newNS(t, "")
	for _, p := range daemonPolicies {
		ns.IP(append([]string{"xfrm", "policy", "add"}, strings.Fields(p)...)...)
	}
	return ns
}

// The listing tells the truth about the daemons' policies, and every
// listed selector given back to --del is refused, naming the policy, with
// nothing changed; with --force it deletes that policy and only it.
func TestForeignListedAndRefused(t *testing.T) {
	ns := daemonNS(t)
	if diff := cmp.Diff(daemonListing, ns.Listing()); diff != "" {
		t.Fatalf("listing (-want +got):\n%s", diff)
	}
	ns.MustEroute("--add", "--src", "10.8.0.0/16", "--dst", "10.9.0.0/16", "--said", "%drop")
	listed := strings.Split(strings.TrimSuffix(daemonListing, "\n"), "\n")
	for i, sel := range giveBack {
		holder := "(" + strings.Join(strings.Fields(listed[i])[1:], " ") + ", priority "
		assertUnchanged(t, ns, holder, append([]string{"--del"}, strings.Fields(sel)...)...)
	}
	for i, sel := range giveBack {
		before := len(splitPolicyBlocks(ns.IPPolicies()))
		ns.MustEroute(append([]string{"--del", "--force"}, strings.Fields(sel)...)...)
		if after := len(splitPolicyBlocks(ns.IPPolicies())); after != before-1 {
			t.Errorf("--del --force %s: %d policies before, %d after", sel, before, after)
		}
		if strings.Contains(ns.Listing(), listed[i]+"\n") {
			t.Errorf("--del --force %s left %q", sel, listed[i])
		}
	}
	if got := ns.Listing(); got != "0          10.8.0.0/16        -> 10.9.0.0/16        => %drop\n" {
		t.Errorf("after deleting the daemon's policies:\n%s", got)
	}
}

// --replace and --add over a daemon's trap: refused, nothing changed; the
// JSON listing says whose each policy is; --replace --force takes it.
func TestForeignReplaceAddJSON(t *testing.T) {
	ns := daemonNS(t)
	sel := []string{"--src", "10.1.0.0/16", "--dst", "10.2.0.0/16"}
	assertUnchanged(t, ns, "the selector 10.1.0.0/16 -> 10.2.0.0/16 belongs to a policy eroute did not make (10.1.0.0/16 -> 10.2.0.0/16 => %trap, priority 367231); --force lets --replace change it",
		append(append([]string{"--replace"}, sel...), "--said", "%pass")...)
	assertUnchanged(t, ns, "eroute already in use.  Delete old one first. (the selector belongs to a policy eroute did not make: 10.1.0.0/16 -> 10.2.0.0/16 => %trap, priority 367231)",
		append(append([]string{"--add"}, sel...), "--said", "%pass")...)

	var seen int
	for _, line := range strings.Split(strings.TrimSpace(ns.MustEroute("--json")), "\n") {
		var m struct {
			Src, Dst, Owner string
			Priority        uint32
			Index           uint32
			Templates       []struct {
				Mode  string
				Reqid uint32
			}
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m.Owner != "foreign" || m.Index == 0 {
			t.Errorf("%s: owner %q index %d", line, m.Owner, m.Index)
		}
		if m.Src == "10.1.0.0/16" {
			seen++
			if m.Priority != 367231 || len(m.Templates) != 1 || m.Templates[0].Mode != "tunnel" || m.Templates[0].Reqid != 1 {
				t.Errorf("charon's trap as JSON: %s", line)
			}
		}
	}
	if seen != 1 {
		t.Errorf("charon's trap listed %d times", seen)
	}
	ns.MustEroute(append(append([]string{"--replace", "--force"}, sel...), "--said", "%pass")...)
	if !strings.Contains(ns.Listing(), "0          10.1.0.0/16        -> 10.2.0.0/16        => %pass\n") {
		t.Errorf("--replace --force did not take the trap:\n%s", ns.Listing())
	}
	if !strings.Contains(ns.MustEroute("--json"), `"src":"10.1.0.0/16","dst":"10.2.0.0/16","src_port":0,"dst_port":0,"proto":0,"said":"%pass","owner":"eroute"`) {
		t.Errorf("after --replace --force the policy is not eroute's:\n%s", ns.MustEroute("--json"))
	}
}

// An --addin policy is eroute's: --delin takes it; a foreign inbound
// policy is refused without --force.
func TestForeignInbound(t *testing.T) {
	ns := newNS(t, "")
	ns.IP("xfrm", "policy", "add", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "in", "priority", "367231",
		"tmpl", "src", "10.0.0.2", "dst", "10.0.0.1", "proto", "esp", "reqid", "1", "mode", "tunnel")
	ns.MustEroute("--addin", "--src", "10.3.0.0/16", "--dst", "10.4.0.0/16", "--said", "tun0x200@10.0.0.2")
	assertUnchanged(t, ns, "--force lets --delin change it", "--delin", "--src", "10.1.0.0/16", "--dst", "10.2.0.0/16")
	assertUnchanged(t, ns, "--force lets --replacein change it", "--replacein", "--src", "10.1.0.0/16", "--dst", "10.2.0.0/16", "--said", "%pass")
	ns.MustEroute("--delin", "--src", "10.3.0.0/16", "--dst", "10.4.0.0/16")
	ns.MustEroute("--delin", "--force", "--src", "10.1.0.0/16", "--dst", "10.2.0.0/16")
	if ip := ns.IPPolicies(); strings.TrimSpace(ip) != "" {
		t.Errorf("inbound policies left:\n%s", ip)
	}
}

// --clear leaves the daemons' policies and eroute's inbound ones; --clear
// --all takes every outbound policy; a batch follows the same rules.
func TestForeignClearAndBatch(t *testing.T) {
	ns := daemonNS(t)
	ns.MustEroute("--add", "--src", "10.8.0.0/16", "--dst", "10.9.0.0/16", "--said", "%drop")
	ns.MustEroute("--addin", "--src", "10.8.0.0/16", "--dst", "10.9.0.0/16", "--said", "%pass")
	batch := filepath.Join(t.TempDir(), "b")
	write := func(text string) {
		if err := os.WriteFile(batch, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("--add --src 10.11.0.0/16 --dst 10.12.0.0/16 --said %pass\n--replace --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %pass\n")
	assertUnchanged(t, ns, "line 2: the selector 10.1.0.0/16 -> 10.2.0.0/16 belongs to a policy eroute did not make (10.1.0.0/16 -> 10.2.0.0/16 => %trap, priority 367231); --force lets --replace change it (nothing was changed)",
		"--batch", batch)

	ns.MustEroute("--clear")
	if diff := cmp.Diff(daemonListing, ns.Listing()); diff != "" {
		t.Errorf("after --clear (-want +got):\n%s", diff)
	}
	if !strings.Contains(ns.IP("xfrm", "policy", "list", "dir", "in"), "10.8.0.0/16") {
		t.Error("--clear took the --addin policy")
	}
	write("--clear --all\n--add --src 10.11.0.0/16 --dst 10.12.0.0/16 --said %pass\n")
	ns.MustEroute("--batch", batch)
	if got := ns.Listing(); got != "0          10.11.0.0/16       -> 10.12.0.0/16       => %pass\n" {
		t.Errorf("after --clear --all in a batch:\n%s", got)
	}
}

// Every --sync --all --dry-run line is a command: the plan, given back to
// --batch, makes the table what --sync would.
func TestForeignDryRunAsBatch(t *testing.T) {
	ns := daemonNS(t)
	dir := t.TempDir()
	want := filepath.Join(dir, "want")
	if err := os.WriteFile(want, []byte("--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %drop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan := ns.MustEroute("--sync", want, "--all", "--dry-run")
	if !strings.Contains(plan, "--del --src ::/0 --dst ::/0 --transport-proto 58 --icmp-type 135 --force\n") ||
		!strings.Contains(plan, "--replace --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %drop --force\n") {
		t.Errorf("plan:\n%s", plan)
	}
	file := filepath.Join(dir, "plan")
	if err := os.WriteFile(file, []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.MustEroute("--batch", file)
	viaBatch := ns.Listing()

	other := daemonNS(t)
	other.MustEroute("--sync", want, "--all")
	if diff := cmp.Diff(other.Listing(), viaBatch); diff != "" {
		t.Errorf("the plan as a batch differs from --sync (-sync +batch):\n%s", diff)
	}
}

// An eroute added under a daemon's policy that covers it is noted on
// stderr (exit status 0), and the JSON listing gives shadowed_by.
func TestShadowedByDaemon(t *testing.T) {
	ns := daemonNS(t)
	r := ns.Eroute("--add", "--src", "10.1.2.0/24", "--dst", "10.2.3.0/24", "--said", "%pass")
	want := "eroute: note: 10.1.2.0/24 -> 10.2.3.0/24 => %pass will not match while a policy eroute did not make covers it with a lower priority value (10.1.0.0/16 -> 10.2.0.0/16 => %trap, priority 367231)\n"
	if r.Code != 0 || r.Stderr != want {
		t.Errorf("status %d, stderr %q, want %q", r.Code, r.Stderr, want)
	}
	// Not covered (the marked policy does not take unmarked packets).
	if r := ns.Eroute("--add", "--src", "10.9.1.0/24", "--dst", "10.10.0.0/16", "--said", "%pass"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("status %d, stderr %q", r.Code, r.Stderr)
	}
	js := ns.MustEroute("--json")
	if !strings.Contains(js, `"src":"10.1.2.0/24","dst":"10.2.3.0/24","src_port":0,"dst_port":0,"proto":0,"said":"%pass","owner":"eroute","priority":`) ||
		!strings.Contains(js, `"shadowed_by":{"src":"10.1.0.0/16","dst":"10.2.0.0/16","said":"%trap","owner":"foreign","priority":367231,"index":`) {
		t.Errorf("JSON listing:\n%s", js)
	}
	if strings.Count(js, "shadowed_by") != 1 {
		t.Errorf("shadowed_by %d times, want once:\n%s", strings.Count(js, "shadowed_by"), js)
	}
}

// --sync never takes an inbound policy away that the file does not manage:
// a daemon's, --all or not, and none at all when the file has no --addin
// line; an inbound policy of eroute's that a file with --addin lines lacks
// is deleted. Read back with ip xfrm.
func TestSyncInboundKeepsOthers(t *testing.T) {
	ns := newNS(t, "")
	ns.IP("xfrm", "policy", "add", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "in", "priority", "367231",
		"tmpl", "src", "10.0.0.2", "dst", "10.0.0.1", "proto", "esp", "reqid", "1", "mode", "tunnel")
	ns.MustEroute("--addin", "--src", "10.3.0.0/16", "--dst", "10.4.0.0/16", "--said", "tun0x200@10.0.0.2")
	dir := t.TempDir()
	outOnly := filepath.Join(dir, "out")
	withIn := filepath.Join(dir, "in")
	os.WriteFile(outOnly, []byte("--add --src 10.5.0.0/16 --dst 10.6.0.0/16 --said %pass\n"), 0o644)
	os.WriteFile(withIn, []byte("--add --src 10.5.0.0/16 --dst 10.6.0.0/16 --said %pass\n"+
		"--addin --src 10.7.0.0/16 --dst 10.8.0.0/16 --said tun0x201@10.0.0.2\n"), 0o644)
	inbound := func() string { return ns.IP("xfrm", "policy", "list", "dir", "in") }

	ns.MustEroute("--sync", outOnly, "--all")
	if in := inbound(); !strings.Contains(in, "src 10.1.0.0/16 dst 10.2.0.0/16") || !strings.Contains(in, "src 10.3.0.0/16 dst 10.4.0.0/16") {
		t.Fatalf("a file without --addin lines changed the inbound policies:\n%s", in)
	}
	ns.MustEroute("--sync", withIn, "--all")
	in := inbound()
	if !strings.Contains(in, "src 10.1.0.0/16 dst 10.2.0.0/16") {
		t.Errorf("--sync --all deleted the daemon's inbound policy:\n%s", in)
	}
	if strings.Contains(in, "src 10.3.0.0/16 dst 10.4.0.0/16") || !strings.Contains(in, "src 10.7.0.0/16 dst 10.8.0.0/16") {
		t.Errorf("eroute's inbound policies not as the file says:\n%s", in)
	}
}

// TestSyncInboundRefusalNamesFile: an --addin line the kernel refuses
// (a daemon's forward policy holds its selector) is reported as every
// other refusal of a --sync is, with the file's name and the line.
func TestSyncInboundRefusalNamesFile(t *testing.T) {
	ns := newNS(t, "")
	ns.IP("xfrm", "policy", "add", "src", "10.1.0.0/16", "dst", "10.2.0.0/16", "dir", "fwd")
	file := filepath.Join(t.TempDir(), "in")
	os.WriteFile(file, []byte("--addin --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %drop\n"), 0o644)
	assertUnchanged(t, ns, "eroute: --sync "+file+": line 1: eroute already in use.  Delete old one first. (nothing was changed)\n",
		"--sync", file)
}
