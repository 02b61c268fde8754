package cli

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// withInbound adds two inbound policies to a world with the manual's table.
func withInbound(tb testing.TB) *world {
	tb.Helper()
	w := withManualTable(tb)
	w.mustRun(tb, "--addin", "--src", "192.168.2.0/24", "--dst", "192.168.0.1/32", "--said", "tun0x136@192.168.0.1")
	w.mustRun(tb, "--addin", "--src", "3049:2::/64", "--dst", "3049:1::1/128", "--said", "tun0x146@3049:1::1")
	return w
}

const manualSave = `# eroute --save: load with eroute --sync FILE
--add --src 192.0.2.0/24 --dst 198.51.100.21/32 --said tun0x135@198.51.100.1
--add --src 192.0.2.0/24 --dst 198.51.100.25/32 --said %pass
--add --src 192.0.2.0/24 --dst 198.51.100.25/32 --transport-proto 6 --dst-port 110 --said tun0x135@198.51.100.25
--add --src 192.168.0.1/32 --dst 192.168.2.0/24 --said tun0x135@192.168.0.2
--add --src 3049:1::1/128 --dst 3049:2::/64 --said tun0x145@3049:1::2
--addin --src 192.168.2.0/24 --dst 192.168.0.1/32 --said tun0x136@192.168.0.1
--addin --src 3049:2::/64 --dst 3049:1::1/128 --said tun0x146@3049:1::1
`

// TestSaveRoundTrip: --save writes the table, inbound policies included;
// --clear, --delin and a --sync of the saved file give back the same
// table, and a second save the same bytes.
func TestSaveRoundTrip(t *testing.T) {
	w := withInbound(t)
	before := w.table.snapshot()
	w.mustRun(t, "--save")
	saved := w.stdout.String()
	if saved != manualSave {
		t.Fatalf("--save:\n%s\nwant:\n%s", saved, manualSave)
	}
	w.mustRun(t, "--clear")
	clear(w.table.in)
	w.stdin = saved
	w.mustRun(t, "--sync", "-")
	if got := w.table.snapshot(); got != before {
		t.Fatalf("after --sync of the saved file:\n%s\nwant:\n%s", got, before)
	}
	w.mustRun(t, "--save")
	if w.stdout.String() != saved {
		t.Fatalf("second --save:\n%s\nwant:\n%s", w.stdout.String(), saved)
	}
}

// TestSaveLeavesOut: monitor holds and foreign policies are not written
// as lines, and comments count them; --all writes a foreign policy an
// eroute line can give back, and a comment for one it cannot.
func TestSaveLeavesOut(t *testing.T) {
	w := newWorld(t)
	w.mustRun(t, "--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%trap")
	w.mustRun(t, "--add", "--src", "10.0.0.7/32", "--dst", "10.1.0.9/32", "--said", "%hold")
	w.mustRun(t, "--add", "--src", "10.0.0.8/32", "--dst", "10.1.0.9/32", "--said", "%hold")
	w.mustRun(t, "--add", "--src", "10.5.0.0/16", "--dst", "10.6.0.0/16", "--said", "%drop")
	foreignSA := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.7.0.0/16"), Dst: netip.MustParsePrefix("10.8.0.0/16")},
		SAID: eroute.SAID{Proto: eroute.ProtoTun, Dst: netip.MustParseAddr("192.0.2.9")}} // SPI 0: an IKE daemon's
	w.table.out[foreignSA.Selector] = foreignSA
	w.table.foreign = map[eroute.Selector]bool{mustPrefixSel("10.5.0.0/16", "10.6.0.0/16"): true, foreignSA.Selector: true}
	w.table.holds = map[eroute.Selector]bool{mustPrefixSel("10.0.0.7/32", "10.1.0.9/32"): true}

	w.mustRun(t, "--save")
	want := `# eroute --save: load with eroute --sync FILE
--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %trap
--add --src 10.0.0.8/32 --dst 10.1.0.9/32 --said %hold
# 1 %hold of eroute --monitor left out: holds time out, a restored one would not
# 2 policies not made by eroute left out (eroute --save --all writes the outbound ones)
`
	if got := w.stdout.String(); got != want {
		t.Errorf("--save:\n%s\nwant:\n%s", got, want)
	}
	w.mustRun(t, "--save", "--all")
	want = `# eroute --save --all: load with eroute --sync FILE --all
--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %trap
--add --src 10.0.0.8/32 --dst 10.1.0.9/32 --said %hold
# not made by eroute: --sync makes it an eroute (eroute's priority, no mark)
--add --src 10.5.0.0/16 --dst 10.6.0.0/16 --said %drop
# not made by eroute, and no eroute line can give it (Error, values less than 0x100 are reserved converting --said argument: tun0x0@192.0.2.9): 10.7.0.0/16 -> 10.8.0.0/16 => tun0x0@192.0.2.9
# 1 %hold of eroute --monitor left out: holds time out, a restored one would not
`
	if got := w.stdout.String(); got != want {
		t.Errorf("--save --all:\n%s\nwant:\n%s", got, want)
	}
	if code := w.run("--save", "--src", "10.0.0.0/8"); code != 1 || w.stderr.String() != "eroute: --save writes the whole table and takes no --src\n" {
		t.Errorf("--save --src: status %d, stderr %q", code, w.stderr.String())
	}
}

func mustPrefixSel(src, dst string) eroute.Selector {
	return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst)}
}

// TestSyncInbound: --addin lines of a --sync file make the inbound table
// equal to them; a file without them deletes the inbound policies eroute
// made; when the outbound batch is refused, the inbound changes are undone.
func TestSyncInbound(t *testing.T) {
	w := withInbound(t)
	file := strings.Replace(manualSave, "tun0x146@3049:1::1", "%drop", 1)
	file = strings.Replace(file, "--addin --src 192.168.2.0/24 --dst 192.168.0.1/32 --said tun0x136@192.168.0.1\n", "", 1)
	file += "--addin --src 10.9.0.0/16 --dst 10.8.0.0/16 --said %pass\n"
	w.stdin = file
	w.mustRun(t, "--sync", "-", "--dry-run")
	wantPlan := `--replacein --src 3049:2::/64 --dst 3049:1::1/128 --said %drop
--addin --src 10.9.0.0/16 --dst 10.8.0.0/16 --said %pass
--delin --src 192.168.2.0/24 --dst 192.168.0.1/32
# 1 to add, 1 to replace, 1 to delete, 5 unchanged
`
	if got := w.stdout.String(); got != wantPlan {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, wantPlan)
	}

	// The outbound batch refused: the inbound table is as it was.
	before := w.table.snapshot()
	w.stdin = file + "--add --src 10.20.0.0/16 --dst 10.21.0.0/16 --said %pass\n"
	w.table.failApply = errors.New("refused")
	if code := w.run("--sync", "-"); code != 1 || !strings.Contains(w.stderr.String(), "refused (nothing was changed)") {
		t.Fatalf("refused --sync: status %d, stderr %q", code, w.stderr.String())
	}
	if got := w.table.snapshot(); got != before {
		t.Fatalf("after a refused --sync:\n%s\nwant:\n%s", got, before)
	}
	w.table.failApply = nil

	w.stdin = file
	w.mustRun(t, "--sync", "-")
	want := "in 0          10.9.0.0/16        -> 10.8.0.0/16        => %pass\n" +
		"in 0          3049:2::/64        -> 3049:1::1/128      => %drop\n"
	if got := w.table.snapshot(); !strings.HasSuffix(got, want) || strings.Contains(got, "in 192.168.2.0/24") {
		t.Fatalf("after --sync:\n%s\nwant the inbound part:\n%s", got, want)
	}
	// A file without --addin lines says nothing of the inbound table (as
	// the files written before --sync took them): it stays, since taking
	// an inbound policy away lets its traffic in unencrypted.
	inbound := w.table.snapshot()
	w.stdin = strings.Join(strings.SplitAfter(file, "\n")[:6], "") // --add lines only
	w.mustRun(t, "--sync", "-")
	if got := w.table.snapshot(); got != inbound {
		t.Fatalf("a file without --addin lines changed the inbound policies:\n%s\nwant:\n%s", got, inbound)
	}
}

// TestSyncKeepsForeignInbound: an IKE daemon's inbound policy is never
// deleted by --sync, --all or not (as --clear --all keeps it); --all
// lets an --addin line replace it.
func TestSyncKeepsForeignInbound(t *testing.T) {
	w := withInbound(t)
	daemon := eroute.Selector{Src: netip.MustParsePrefix("10.50.0.0/16"), Dst: netip.MustParsePrefix("10.60.0.0/16")}
	w.table.in[daemon] = eroute.Eroute{Selector: daemon, SAID: eroute.Trap}
	w.table.foreignIn = map[eroute.Selector]bool{daemon: true}
	w.stdin = manualSave
	w.mustRun(t, "--sync", "-", "--all")
	if _, ok := w.table.in[daemon]; !ok {
		t.Fatalf("--sync --all deleted the daemon's inbound policy:\n%s", w.table.snapshot())
	}
	w.stdin = manualSave + "--addin --src 10.50.0.0/16 --dst 10.60.0.0/16 --said %drop\n"
	w.mustRun(t, "--sync", "-", "--all")
	if got := w.table.in[daemon]; got.SAID != eroute.Drop {
		t.Fatalf("--all and an --addin line: the daemon's inbound policy is %v, want %%drop", got)
	}
}

// TestSyncJSONAndExitCode: --json gives the plan as one object, and
// --detailed-exitcode exits 2 while changes are needed, 0 once none are.
func TestSyncJSONAndExitCode(t *testing.T) {
	w := withManualTable(t)
	w.stdin = strings.Replace(manualSave, "%pass", "%drop", 1)
	w.stdin = strings.Replace(w.stdin, "--add --src 3049:1::1/128 --dst 3049:2::/64 --said tun0x145@3049:1::2\n", "", 1)
	w.stdin = strings.Split(w.stdin, "--addin")[0]
	file := w.stdin
	before := w.table.snapshot()
	if code := w.run("--sync", "-", "--dry-run", "--json", "--detailed-exitcode"); code != 2 || w.stderr.Len() != 0 {
		t.Fatalf("--dry-run --json --detailed-exitcode: status %d, stderr %q", code, w.stderr.String())
	}
	if w.table.snapshot() != before {
		t.Fatal("--dry-run changed the table")
	}
	want := `{"changed":true,"applied":false,"add":0,"replace":1,"delete":1,"unchanged":3,"changes":[` +
		`{"op":"replace","dir":"out","count":0,"src":"192.0.2.0/24","dst":"198.51.100.25/32","src_port":0,"dst_port":0,"proto":0,"said":"%drop"},` +
		`{"op":"delete","dir":"out","count":0,"src":"3049:1::1/128","dst":"3049:2::/64","src_port":0,"dst_port":0,"proto":0,"said":"tun0x145@3049:1::2"}]}` + "\n"
	if got := w.stdout.String(); got != want {
		t.Fatalf("--json plan:\n%s\nwant:\n%s", got, want)
	}
	var decoded struct{ Changes []map[string]any }
	if err := json.Unmarshal(w.stdout.Bytes(), &decoded); err != nil || len(decoded.Changes) != 2 {
		t.Fatalf("the plan does not decode: %v", err)
	}
	w.stdin = file
	if code := w.run("--sync", "-", "--detailed-exitcode"); code != 2 || w.stdout.Len() != 0 || w.stderr.Len() != 0 {
		t.Fatalf("--sync --detailed-exitcode with changes: status %d, stdout %q, stderr %q", code, w.stdout.String(), w.stderr.String())
	}
	w.stdin = file
	if code := w.run("--sync", "-", "--detailed-exitcode", "--json"); code != 0 || w.stderr.Len() != 0 {
		t.Fatalf("--sync --detailed-exitcode, nothing to change: status %d, stderr %q", code, w.stderr.String())
	}
	if got := w.stdout.String(); !strings.HasPrefix(got, `{"changed":false,"applied":true,"add":0,"replace":0,"delete":0,"unchanged":4,"changes":[]}`) {
		t.Errorf("--json with nothing to change: %s", got)
	}
	w.stdin = "--add --src 10.0.0.0/8\n"
	if code := w.run("--sync", "-", "--detailed-exitcode"); code != 1 {
		t.Errorf("a bad file with --detailed-exitcode: status %d, want 1", code)
	}
	if code := w.run("--detailed-exitcode"); code != 1 || w.stderr.String() != "eroute: --detailed-exitcode goes with --sync only\n" {
		t.Errorf("--detailed-exitcode alone: status %d, stderr %q", code, w.stderr.String())
	}
}
