package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/google/go-cmp/cmp"
)

// foreignWorld has eroute's own %drop on 10.1.0.0/16, and a daemon's trap
// on 10.4.0.0/16 (foreign, as charon's start_action=trap is).
func foreignWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	w.mustRun(t, strings.Fields("--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop")...)
	w.mustRun(t, strings.Fields("--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %trap")...)
	w.mustRun(t, strings.Fields("--addin --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %pass")...)
	w.table.foreign = map[eroute.Selector]bool{msel("10.0.0.0/8", "10.4.0.0/16", 0, 0, 0): true}
	return w
}

const foreignHolder = "10.0.0.0/8 -> 10.4.0.0/16 => %trap, priority 367231"

// Every command that would change the foreign policy is refused with one
// line naming it, exit status 1 and the table unchanged; --force acts.
func TestForeignRefused(t *testing.T) {
	sel := " --src 10.0.0.0/8 --dst 10.4.0.0/16"
	for _, c := range []struct {
		args, option string
	}{
		{"--del" + sel, "--del"},
		{"--replace" + sel + " --said %pass", "--replace"},
	} {
		w := foreignWorld(t)
		before := w.table.snapshot()
		want := "eroute: the selector 10.0.0.0/8 -> 10.4.0.0/16 belongs to a policy eroute did not make (" +
			foreignHolder + "); --force lets " + c.option + " change it\n"
		if code := w.run(strings.Fields(c.args)...); code != 1 || w.stderr.String() != want || w.stdout.Len() != 0 {
			t.Errorf("%s: status %d, stderr %q, want %q", c.args, code, w.stderr.String(), want)
		}
		if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
			t.Errorf("%s changed the table:\n%s", c.args, diff)
		}
		w.mustRun(t, strings.Fields(c.args+" --force")...)
		if diff := cmp.Diff(before, w.table.snapshot()); diff == "" {
			t.Errorf("%s --force changed nothing", c.args)
		}
	}
	// --add keeps KLIPS's message and names the foreign holder.
	w := foreignWorld(t)
	want := "eroute: eroute already in use.  Delete old one first. (the selector belongs to a policy eroute did not make: " + foreignHolder + ")\n"
	if code := w.run(strings.Fields("--add" + sel + " --said %pass")...); code != 1 || w.stderr.String() != want {
		t.Errorf("--add: status %d, stderr %q, want %q", code, w.stderr.String(), want)
	}
	// ... and only then: an own eroute in the way is not looked up.
	w.table.lookups = 0
	if code := w.run(strings.Fields("--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %pass")...); code != 1 || w.stderr.String() != "eroute: "+errInUse+"\n" {
		t.Errorf("--add over an own eroute: status %d, stderr %q", code, w.stderr.String())
	}
	w.mustRun(t, strings.Fields("--add --src 10.0.0.0/8 --dst 10.9.0.0/16 --said %pass")...)
	if w.table.lookups != 1 {
		t.Errorf("two --add commands looked up %d times, want once (after the refusal only)", w.table.lookups)
	}
	// --force goes with the commands that change a policy only.
	for _, args := range []string{"--add" + sel + " --said %pass --force", "--clear --force", "--force"} {
		if code := w.run(strings.Fields(args)...); code != 1 || !strings.Contains(w.stderr.String(), "--force goes with --del, --delin, --replace and --replacein only") {
			t.Errorf("%s: status %d, stderr %q", args, code, w.stderr.String())
		}
	}
}

// The inbound policies follow the same rules: eroute's own --addin policy
// on the foreign outbound selector is eroute's, and --delin takes it.
func TestInboundOwnership(t *testing.T) {
	w := foreignWorld(t)
	w.mustRun(t, strings.Fields("--replacein --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %drop")...)
	w.mustRun(t, strings.Fields("--delin --src 10.0.0.0/8 --dst 10.4.0.0/16")...)
	if len(w.table.in) != 0 {
		t.Errorf("--delin left %v", w.table.in)
	}
}

// --clear leaves the foreign policy and the inbound ones; --clear --all
// takes every outbound policy.
func TestClearOwnOnly(t *testing.T) {
	w := foreignWorld(t)
	w.mustRun(t, "--clear")
	w.mustRun(t)
	if got, want := w.stdout.String(), "0          10.0.0.0/8         -> 10.4.0.0/16        => %trap\n"; got != want {
		t.Errorf("after --clear: %q, want %q", got, want)
	}
	if len(w.table.in) != 1 {
		t.Errorf("--clear took the inbound policy: %v", w.table.in)
	}
	w.mustRun(t, "--clear", "--all")
	if w.mustRun(t); w.stdout.Len() != 0 || len(w.table.in) != 1 {
		t.Errorf("after --clear --all: %q, inbound %v", w.stdout.String(), w.table.in)
	}
}

// A batch line follows the same rules, --force per line, all or nothing.
func TestBatchForeign(t *testing.T) {
	w := foreignWorld(t)
	before := w.table.snapshot()
	path := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.5.0.0/16 --said %pass\n--del --src 10.0.0.0/8 --dst 10.4.0.0/16\n")
	want := "eroute: --batch " + path + ": line 2: the selector 10.0.0.0/8 -> 10.4.0.0/16 belongs to a policy eroute did not make (" +
		foreignHolder + "); --force lets --del change it (nothing was changed)\n"
	if code := w.run("--batch", path); code != 1 || w.stderr.String() != want {
		t.Errorf("status %d, stderr %q, want %q", code, w.stderr.String(), want)
	}
	if diff := cmp.Diff(before, w.table.snapshot()); diff != "" {
		t.Errorf("refused batch changed the table:\n%s", diff)
	}
	path = writeFile(t, "--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %pass\n")
	want = "eroute: --batch " + path + ": line 1: " + errInUse + " (the selector belongs to a policy eroute did not make: " + foreignHolder + ") (nothing was changed)\n"
	if code := w.run("--batch", path); code != 1 || w.stderr.String() != want {
		t.Errorf("status %d, stderr %q, want %q", code, w.stderr.String(), want)
	}
	w.mustRun(t, "--batch", writeFile(t, "--clear\n--replace --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %pass --force\n"))
	w.mustRun(t)
	if got, want := w.stdout.String(), "0          10.0.0.0/8         -> 10.4.0.0/16        => %pass\n"; got != want {
		t.Errorf("after the forced batch: %q, want %q", got, want)
	}
	w.mustRun(t, "--batch", writeFile(t, "--clear --all\n"))
	if w.mustRun(t); w.stdout.Len() != 0 {
		t.Errorf("after --clear --all in a batch: %q", w.stdout.String())
	}
}

// An eroute added under a foreign policy that covers it is noted on
// stderr, and the exit status stays 0; the JSON listing names the policy.
func TestShadowNote(t *testing.T) {
	w := foreignWorld(t)
	args := strings.Fields("--add --src 10.0.0.0/16 --dst 10.4.1.0/24 --said %hold")
	if code := w.run(args...); code != 0 || w.stderr.String() != "eroute: note: 10.0.0.0/16 -> 10.4.1.0/24 => %hold will not match while a policy eroute did not make covers it with a lower priority value ("+foreignHolder+")\n" {
		t.Errorf("status %d, stderr %q", code, w.stderr.String())
	}
	w.mustRun(t, "--json")
	var shadowed map[string]any
	for _, line := range strings.Split(strings.TrimSpace(w.stdout.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if m["owner"] != "eroute" && m["owner"] != "foreign" || m["priority"] == nil || m["index"] == nil || m["templates"] == nil {
			t.Errorf("JSON line lacks owner, priority, index or templates: %s", line)
		}
		if m["dst"] == "10.4.1.0/24" {
			shadowed = m
		} else if m["shadowed_by"] != nil {
			t.Errorf("%s: shadowed_by set", line)
		}
	}
	want := map[string]any{"src": "10.0.0.0/8", "dst": "10.4.0.0/16", "said": "%trap", "owner": "foreign", "priority": 367231.0, "index": 0.0}
	if diff := cmp.Diff(want, shadowed["shadowed_by"]); diff != "" {
		t.Errorf("shadowed_by (-want +got):\n%s", diff)
	}
	// Not covered: no note.
	w.mustRun(t, strings.Fields("--add --src 10.0.0.0/8 --dst 10.6.0.0/16 --said %hold")...)
}

// Every --sync --all --dry-run line is a command --batch takes, and
// applied as a batch it does what --sync does: the selectors of foreign
// policies, ICMP types, GRE keys and MH types included.
func TestDryRunLinesAreCommands(t *testing.T) {
	w := newWorld(t)
	for _, args := range []string{
		"--add --src ::/0 --dst ::/0 --transport-proto 58 --icmp-type 135 --said %pass",
		"--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --transport-proto 1 --icmp-type 3 --icmp-code 4 --said %drop",
		"--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --transport-proto 47 --gre-key 65538 --said %trap",
		"--add --src ::/0 --dst 3049::/16 --transport-proto 135 --mh-type 5 --said %pass",
		"--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --transport-proto 132 --src-port 5000 --dst-port 5001 --said %hold",
		"--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %hold",
		"--add --src 10.0.0.0/8 --dst 10.5.0.0/16 --said %pass",
	} {
		w.mustRun(t, strings.Fields(args)...)
	}
	w.table.foreign = map[eroute.Selector]bool{}
	for sel := range w.table.out {
		if sel.Dst.String() != "10.5.0.0/16" {
			w.table.foreign[sel] = true
		}
	}
	path := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.5.0.0/16 --said %drop\n--add --src 10.0.0.0/8 --dst 10.4.0.0/16 --said %drop\n")
	w.mustRun(t, "--sync", path, "--all", "--dry-run")
	plan := w.stdout.String()
	lines := strings.Split(strings.TrimSuffix(plan, "\n"), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[7], "# 0 to add, 2 to replace, 5 to delete") {
		t.Fatalf("plan:\n%s", plan)
	}
	for _, line := range lines[:7] {
		if _, err := w.env().Parser.Parse(strings.Fields(line)); err != nil {
			t.Errorf("dry-run line %q is not a command: %v", line, err)
		}
	}
	w.mustRun(t, "--batch", writeFile(t, plan))
	w.mustRun(t)
	want := "0          10.0.0.0/8         -> 10.4.0.0/16        => %drop\n0          10.0.0.0/8         -> 10.5.0.0/16        => %drop\n"
	if got := w.stdout.String(); got != want {
		t.Errorf("after the plan as a batch:\n%s\nwant\n%s", got, want)
	}
}

// The listing shows the fields of protocols without ports as what they are.
func TestListingFields(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, strings.Fields("--add --src ::/0 --dst ::/0 --transport-proto 58 --icmp-type 135 --said %pass")...)
	w.mustRun(t, strings.Fields("--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --transport-proto 47 --gre-key 7 --said %drop")...)
	w.mustRun(t)
	want := "0          10.0.0.0/8         -> 10.2.0.0/16        => %drop:47 gre-key 7\n" +
		"0          ::/0               -> ::/0               => %pass:58 icmp-type 135\n"
	if got := w.stdout.String(); got != want {
		t.Errorf("listing:\n%s\nwant\n%s", got, want)
	}
	w.mustRun(t, "--json")
	if !strings.Contains(w.stdout.String(), `"src_port":0,"dst_port":0,"proto":58,"said":"%pass","icmp_type":135,"owner"`) ||
		!strings.Contains(w.stdout.String(), `"proto":47,"said":"%drop","gre_key":7,"owner"`) {
		t.Errorf("JSON listing:\n%s", w.stdout.String())
	}
	for args, want := range map[string]string{
		"--add --src ::/0 --dst ::/0 --transport-proto 6 --icmp-type 1 --said %pass":    "--icmp-type needs --transport-proto icmp or ipv6-icmp (1 or 58) (--transport-proto is 6)",
		"--add --src ::/0 --dst ::/0 --transport-proto 58 --icmp-code 256 --said %pass": `Invalid --icmp-code parameter "256"`,
		"--add --src ::/0 --dst ::/0 --transport-proto 58 --src-port 1 --said %pass":    "--transport-proto with either UDP or TCP must be specified",
		"--add --src ::/0 --dst ::/0 --gre-key 1 --said %pass":                          "--gre-key needs --transport-proto gre (47)",
		"--add --src ::/0 --dst ::/0 --transport-proto 47 --mh-type 1 --said %pass":     "--mh-type needs --transport-proto ipv6-mh (135)",
	} {
		if code := w.run(strings.Fields(args)...); code != 1 || !strings.Contains(w.stderr.String(), want) {
			t.Errorf("%s: status %d, stderr %q, want %q", args, code, w.stderr.String(), want)
		}
	}
}
