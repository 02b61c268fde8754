package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The write lock of a namespace, as internal/nslock names its file.
func writeLockPath(t *testing.T, ns *NS) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", ns.Name), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("/run/eroute/netns-%x-%d.write.lock", st.Dev, st.Ino)
}

// lockHolder is the pid written in the namespace's write lock: the eroute
// that holds it, or 0.
func lockHolder(t *testing.T, ns *NS) int {
	b, _ := os.ReadFile(writeLockPath(t, ns))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// fifo makes a named pipe: a batch or sync file whose lines come when the
// test writes them, so that the test decides when the command goes on.
func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "eroutes.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// feed opens a FIFO for writing, which returns once the reader has opened
// it, and gives the writer.
func feed(t *testing.T, path string) *os.File {
	t.Helper()
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		opened <- f
	}()
	select {
	case f := <-opened:
		return f
	case <-time.After(10 * time.Second):
		t.Fatalf("nobody opened %s within 10s", path)
	}
	return nil
}

// startEroute runs eroute ARGS in ns in the background.
func startEroute(t *testing.T, ns *NS, args ...string) *MonitorProc {
	return spawnMonitor(t, append([]string{"ip", "netns", "exec", ns.Name, eroutePath}, args...))
}

const waitingText = "to finish changing the table (at most 30s)"

// A writer that finds the lock held waits, says so, and goes on once the
// holder is done: a --sync reading its file from a FIFO holds the lock
// from before its snapshot until it has applied, and an --add started
// meanwhile changes the table only after it.
func TestWriterWaitsForSync(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.9.0.0/16", "--said", "%drop")
	file := fifo(t)
	sync := startEroute(t, ns, "--sync", file)
	w := feed(t, file) // --sync has its lock and is reading
	if pid := lockHolder(t, ns); pid == 0 {
		t.Fatal("the write lock names no holder while --sync reads its file")
	}
	add := startEroute(t, ns, "--add", "--src", "10.0.0.0/8", "--dst", "10.2.0.0/16", "--said", "%pass")
	if !add.WaitStderr(waitingText, 10*time.Second) {
		t.Fatalf("the --add did not say it waits; stderr %q", add.Stderr())
	}
	if strings.Contains(ns.IPPolicies(), "10.2.0.0/16") {
		t.Fatal("the --add changed the table while --sync held the lock")
	}
	w.WriteString("--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %reject\n")
	w.Close()
	if st := sync.WaitExit(20 * time.Second); st == nil || !st.Success() {
		t.Fatalf("--sync: %v, stderr %q", st, sync.Stderr())
	}
	if st := add.WaitExit(20 * time.Second); st == nil || !st.Success() {
		t.Fatalf("--add: %v, stderr %q", st, add.Stderr())
	}
	want := "0          10.0.0.0/8         -> 10.1.0.0/16        => %reject\n" +
		"0          10.0.0.0/8         -> 10.2.0.0/16        => %pass\n"
	if got := ns.Listing(); got != want {
		t.Errorf("listing\n%s\nwant (the --sync, then the --add)\n%s", got, want)
	}
	if got := strings.Count(ns.IPPolicies(), "dir out"); got != 2 {
		t.Errorf("ip xfrm policy shows %d outbound policies, want 2", got)
	}
	if pid := lockHolder(t, ns); pid != 0 {
		t.Errorf("the lock still names pid %d when no eroute runs", pid)
	}
}

// Two --sync runs of different files at once: the second plans from the
// table the first left, so the table ends equal to the second file, not
// the union of both.
func TestTwoSyncs(t *testing.T) {
	ns := newNS(t, "")
	first, second := fifo(t), writeLines(t, []string{
		"--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --said %drop",
		"--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %pass",
	})
	a := startEroute(t, ns, "--sync", first)
	w := feed(t, first)
	b := startEroute(t, ns, "--sync", second)
	if !b.WaitStderr(waitingText, 10*time.Second) {
		t.Fatalf("the second --sync did not wait; stderr %q", b.Stderr())
	}
	w.WriteString("--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said %drop\n")
	w.Close()
	for name, p := range map[string]*MonitorProc{"first": a, "second": b} {
		if st := p.WaitExit(20 * time.Second); st == nil || !st.Success() {
			t.Fatalf("%s --sync: %v, stderr %q", name, st, p.Stderr())
		}
	}
	want := "0          10.0.0.0/8         -> 10.2.0.0/16        => %drop\n" +
		"0          10.0.0.0/8         -> 10.3.0.0/16        => %pass\n"
	if got := ns.Listing(); got != want {
		t.Errorf("listing\n%s\nwant the second file's\n%s", got, want)
	}
	ip := ns.IPPolicies()
	if strings.Count(ip, "dir out") != 2 || strings.Contains(ip, "10.1.0.0/16") {
		t.Errorf("ip xfrm policy:\n%s", ip)
	}
}

// A batch that fails on its last line, with --clear started while the
// batch holds the lock: --clear waits, the batch undoes exactly its own
// work, then --clear empties the table. Nothing the clear removed comes
// back.
func TestBatchThenClear(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.200.0.0/16", "--dst", "10.201.0.0/16", "--said", "%pass")
	// The refused line is a delete, which comes last whatever the order in
	// which the driver sends the adds.
	lines := append(batchLines(60000, 0), "--del --src 10.250.0.0/16 --dst 10.251.0.0/16")
	path := writeLines(t, lines)
	batch := startEroute(t, ns, "--batch", path)
	if !waitFor(20*time.Second, func() bool { return lockHolder(t, ns) != 0 || !batch.Running() }) || !batch.Running() {
		t.Fatalf("the batch never held the lock: %v %q", batch.WaitExit(time.Second), batch.Stderr())
	}
	clear := startEroute(t, ns, "--clear")
	bst, cst := batch.WaitExit(60*time.Second), clear.WaitExit(60*time.Second)
	want := "--batch " + path + ": line 60001: eroute doesn't exist.  Can't delete. (nothing was changed)"
	if bst == nil || bst.ExitCode() != 1 || !strings.Contains(batch.Stderr(), want) {
		t.Errorf("batch: %v, stderr %q", bst, batch.Stderr())
	}
	if cst == nil || !cst.Success() {
		t.Errorf("clear: %v, stderr %q", cst, clear.Stderr())
	}
	if got := ns.Listing(); got != "" { // the one there before, and all of the batch
		t.Errorf("after the batch and the clear, %d eroutes listed", strings.Count(got, "\n"))
	}
	if n := strings.Count(ns.IPPolicies(), "dir out"); n != 0 {
		t.Errorf("after the batch and the clear, ip xfrm policy shows %d", n)
	}
}

// ipPolicyOf gives the `ip xfrm policy add` arguments of the very policy
// eroute writes for ARGS (an --add command of a block SAID), made in a
// scratch namespace: a process that is not eroute can make what reads as
// eroute's own.
func ipPolicyOf(t *testing.T, args ...string) []string {
	t.Helper()
	scratch := newNS(t, "")
	scratch.MustEroute(append([]string{"--add"}, args...)...)
	// A block policy (no template) lists as ip takes it back.
	out := strings.Fields(strings.ReplaceAll(scratch.IP("xfrm", "policy", "list"), "ptype main", ""))
	return append([]string{"xfrm", "policy", "add"}, out...)
}

// --sync wants a state: when another process (not eroute: it does not
// wait for the lock) deletes what the plan deletes and makes what the plan
// adds, after the snapshot and before the apply, the sync still succeeds,
// and the table is the file's.
func TestSyncGoalReachedMeanwhile(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.1.0.0/16", "--said", "%pass")
	ns.MustEroute("--add", "--src", "10.0.0.0/8", "--dst", "10.2.0.0/16", "--said", "%drop")
	made := ipPolicyOf(t, "--src", "10.0.0.0/8", "--dst", "10.3.0.0/16", "--said", "%reject")
	file := fifo(t)
	sync := startEroute(t, ns, "--sync", file)
	w := feed(t, file) // the snapshot is taken
	ns.IP("xfrm", "policy", "delete", "src", "10.0.0.0/8", "dst", "10.1.0.0/16", "dir", "out")
	ns.IP(made...)
	w.WriteString("--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --said %drop\n--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %reject\n")
	w.Close()
	if st := sync.WaitExit(20 * time.Second); st == nil || !st.Success() {
		t.Fatalf("--sync: %v, stderr %q", st, sync.Stderr())
	}
	want := "0          10.0.0.0/8         -> 10.2.0.0/16        => %drop\n" +
		"0          10.0.0.0/8         -> 10.3.0.0/16        => %reject\n"
	if got := ns.Listing(); got != want {
		t.Errorf("listing\n%s\nwant\n%s", got, want)
	}
	again := writeLines(t, []string{"--add --src 10.0.0.0/8 --dst 10.2.0.0/16 --said %drop", "--add --src 10.0.0.0/8 --dst 10.3.0.0/16 --said %reject"})
	if plan := ns.MustEroute("--sync", again, "--dry-run"); plan != "# 0 to add, 0 to replace, 0 to delete, 2 unchanged\n" {
		t.Errorf("plan after: %q", plan)
	}
}
