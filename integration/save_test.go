package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// policyBlocks is `ip xfrm policy` output as its policies, each block of
// lines one string, sorted: the kernel lists policies in the order it
// made them, which a restore cannot keep, and nothing else.
func policyBlocks(out string) []string {
	var blocks []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, " ") || len(blocks) == 0 {
			blocks = append(blocks, line)
			continue
		}
		blocks[len(blocks)-1] += "\n" + line
	}
	slices.Sort(blocks)
	return blocks
}

// TestSaveRestoreInKernel: a table of every kind of eroute, inbound
// policies and a monitor-free %hold; --save, --clear (and --delin),
// --sync of the saved file: eroute's listing is the same bytes, and ip
// xfrm shows the same policies, byte for byte (in another order); a
// second --save is the same file.
func TestSaveRestoreInKernel(t *testing.T) {
	ns := newNS(t, "")
	lines := batchLines(300, 0)
	ns.MustEroute("--batch", writeLines(t, lines))
	ns.MustEroute("--addin", "--src", "172.16.0.0/16", "--dst", "10.0.0.0/8", "--said", "tun0x136@10.9.9.1")
	ns.MustEroute("--addin", "--src", "fd01::/64", "--dst", "fd00::/64", "--said", "%pass")
	listing, policies := ns.Listing(), ns.IPPolicies()

	saved := ns.MustEroute("--save")
	if n := strings.Count(saved, "\n--add "); n != 300 {
		t.Fatalf("--save wrote %d --add lines, want 300", n)
	}
	if n := strings.Count(saved, "\n--addin "); n != 2 {
		t.Fatalf("--save wrote %d --addin lines, want 2", n)
	}
	file := filepath.Join(t.TempDir(), "eroutes.conf")
	if err := os.WriteFile(file, []byte(saved), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.MustEroute("--clear")
	ns.MustEroute("--delin", "--src", "172.16.0.0/16", "--dst", "10.0.0.0/8")
	ns.MustEroute("--delin", "--src", "fd01::/64", "--dst", "fd00::/64")
	if got := ns.IPPolicies(); got != "" {
		t.Fatalf("after --clear and --delin, ip xfrm policy shows:\n%s", got)
	}

	ns.MustEroute("--sync", file)
	if got := ns.Listing(); got != listing {
		t.Errorf("listing after the restore differs:\n%s\nwant:\n%s", got, listing)
	}
	if got, want := policyBlocks(ns.IPPolicies()), policyBlocks(policies); !slices.Equal(got, want) {
		t.Errorf("ip xfrm policy after the restore differs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if again := ns.MustEroute("--save"); again != saved {
		t.Errorf("a second --save differs from the first")
	}
	if r := ns.Eroute("--sync", file, "--detailed-exitcode"); r.Code != 0 {
		t.Errorf("--sync of the saved file again: exit %d (%s), want 0: nothing to change", r.Code, r.Stderr)
	}
}

// TestSaveForeignInKernel: a policy ip made is left out of --save, and
// --save --all writes it back as an eroute (a block policy as %drop) or,
// when no eroute line can say it (a mark), as a comment.
func TestSaveForeignInKernel(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.1.0.0/16", "--dst", "10.2.0.0/16", "--said", "%trap")
	ns.IP("xfrm", "policy", "add", "src", "10.7.0.0/16", "dst", "10.8.0.0/16", "dir", "out", "action", "block")
	ns.IP("xfrm", "policy", "add", "src", "10.9.0.0/16", "dst", "10.8.0.0/16", "dir", "out", "mark", "7", "action", "block")
	saved := ns.MustEroute("--save")
	want := "# eroute --save: load with eroute --sync FILE\n" +
		"--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %trap\n" +
		"# 2 policies not made by eroute left out (eroute --save --all writes the outbound ones)\n"
	if saved != want {
		t.Errorf("--save:\n%s\nwant:\n%s", saved, want)
	}
	all := ns.MustEroute("--save", "--all")
	if !strings.Contains(all, "\n--add --src 10.7.0.0/16 --dst 10.8.0.0/16 --said %drop\n") ||
		!strings.Contains(all, "# not made by eroute, and it has a mark") {
		t.Errorf("--save --all:\n%s", all)
	}
}

// TestSyncJSONInKernel: --sync --dry-run --json gives the plan as JSON and
// changes nothing; --detailed-exitcode exits 2 while changes are needed.
func TestSyncJSONInKernel(t *testing.T) {
	ns := newNS(t, "")
	file := writeLines(t, []string{"--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %drop"})
	r := ns.Eroute("--sync", file, "--dry-run", "--json", "--detailed-exitcode")
	var plan struct {
		Changed bool
		Add     int
		Changes []struct{ Op, Dir, Src, Said string }
	}
	if r.Code != 2 || json.Unmarshal([]byte(r.Stdout), &plan) != nil || !plan.Changed || plan.Add != 1 ||
		len(plan.Changes) != 1 || plan.Changes[0].Op != "add" || plan.Changes[0].Said != "%drop" {
		t.Fatalf("--dry-run --json: exit %d, %q %s", r.Code, r.Stdout, r.Stderr)
	}
	if got := ns.IPPolicies(); got != "" {
		t.Fatalf("--dry-run changed the table:\n%s", got)
	}
	if r := ns.Eroute("--sync", file, "--detailed-exitcode"); r.Code != 2 {
		t.Errorf("--sync with a change: exit %d, want 2 (%s)", r.Code, r.Stderr)
	}
	if !strings.Contains(ns.IPPolicies(), "src 10.1.0.0/16 dst 10.2.0.0/16") {
		t.Errorf("the eroute is not in the kernel:\n%s", ns.IPPolicies())
	}
	if r := ns.Eroute("--sync", file, "--detailed-exitcode"); r.Code != 0 {
		t.Errorf("--sync with nothing to change: exit %d, want 0 (%s)", r.Code, r.Stderr)
	}
}
