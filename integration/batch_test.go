package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// batchLines gives n --add lines: host-to-host and subnet selectors, IPv4
// and IPv6, with every kind of SAID.
func batchLines(n, base int) []string {
	saids := []string{"%drop", "%pass", "%reject", "%hold", "%trap", "tun0x135@10.9.9.9", "esp0x200@10.1.1.1"}
	lines := make([]string, n)
	for i := range lines {
		k := base + i
		switch i % 3 {
		case 0:
			lines[i] = fmt.Sprintf("--add --src 10.%d.%d.1/32 --dst 172.16.%d.%d/32 --said %s", k>>16&255, k>>8&255, k>>8&255, k&255, saids[k%len(saids)])
		case 1:
			lines[i] = fmt.Sprintf("--add --src 10.%d.%d.0/24 --dst 172.17.%d.0/24 --transport-proto udp --dst-port %d --said %%drop", k>>16&255, k>>8&255, k&255, 1+k%1000)
		default:
			lines[i] = fmt.Sprintf("--add --src fd00:%x::/64 --dst fd01:%x::1/128 --said %%pass", k, k)
		}
	}
	return lines
}

func writeLines(t *testing.T, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "eroutes")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tableState is what both readers see: eroute's listing and ip xfrm's, one
// policy a line, sorted (an undo puts back each policy with its index, but
// last in the kernel's order).
func tableState(ns *NS) string {
	lines := strings.Split(run(ns.t, "ip", "-o", "-n", ns.Name, "xfrm", "policy", "list"), "\n")
	slices.Sort(lines)
	return ns.Listing() + "\n---\n" + strings.Join(lines, "\n")
}

func TestBatchLoadsAndLists(t *testing.T) {
	ns := newNS(t, "")
	lines := batchLines(3000, 0)
	ns.MustEroute("--batch", writeLines(t, lines))
	listing := strings.Split(strings.TrimSpace(ns.Listing()), "\n")
	if len(listing) != len(lines) {
		t.Fatalf("listing has %d lines after a batch of %d", len(listing), len(lines))
	}
	if n := strings.Count(ns.IPPolicies(), "dir out"); n != len(lines) {
		t.Errorf("ip xfrm policy shows %d policies, want %d", n, len(lines))
	}
	// --json: one object per eroute.
	js := strings.Split(strings.TrimSpace(ns.MustEroute("--json")), "\n")
	if len(js) != len(lines) || !strings.HasPrefix(js[0], `{"count":0,"src":`) {
		t.Errorf("--json gave %d lines, first %q", len(js), js[0])
	}
}

// Bad files and refused lines change nothing, as both readers see.
func TestBatchAllOrNothingInKernel(t *testing.T) {
	ns := newNS(t, "")
	ns.MustEroute("--add", "--src", "10.200.0.0/16", "--dst", "10.201.0.0/16", "--said", "%pass")
	ns.IP("xfrm", "policy", "add", "src", "10.202.0.0/16", "dst", "10.203.0.0/16", "dir", "out", "mark", "7", "action", "block")
	good := batchLines(500, 0)
	before := tableState(ns)
	for name, c := range map[string]struct {
		lines []string
		want  string
	}{
		"kernel refuses line 401": {append(append(append([]string{}, good[:400]...),
			"--add --src 10.200.0.0/16 --dst 10.201.0.0/16 --said %drop"), good[400:]...), "line 401: eroute already in use.  Delete old one first. (nothing was changed)"},
		"delete of a missing selector": {append(append([]string{}, good...), "--del --src 10.250.0.0/16 --dst 10.251.0.0/16"), "line 501: eroute doesn't exist.  Can't delete."},
		"clear then a refused line":    {append([]string{"--clear"}, append(good[:100], "--del --src 10.250.0.0/16 --dst 10.251.0.0/16")...), "line 102: eroute doesn't exist.  Can't delete."},
		"bad line":                     {append(append([]string{}, good...), "--add --src 10.0.0.0/8 --dst 10.1.0.0/16 --said esp0x12@1.2.3.4"), "line 501: Error, values less than 0x100 are reserved"},
		"duplicate selector":           {append(append([]string{}, good...), good[7]), "line 501: selector"},
		"line over 64 KiB":             {append(append([]string{}, good...), "--clear "+strings.Repeat("#", 70000)), "line 501: line longer than 65536 bytes"},
		"invalid UTF-8":                {append(append([]string{}, good...), "--add --src \xc3\x28 --dst 10.1.0.0/16 --said %drop"), "line 501: not valid UTF-8 text"},
		"binary garbage":               {append(append([]string{}, good...), "\x00\x01\x02\xff"), "line 501: binary data"},
	} {
		path := writeLines(t, c.lines)
		r := ns.Eroute("--batch", path)
		if r.Code != 1 || !strings.Contains(r.Stderr, "--batch "+path+": "+c.want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q, want one line with %q", name, r.Code, r.Stderr, c.want)
		}
		if diff := cmp.Diff(before, tableState(ns)); diff != "" {
			t.Errorf("%s: the table changed:\n%s", name, diff)
		}
	}
	r := ns.Eroute("--batch", "/nonexistent/file")
	if r.Code != 1 || !strings.Contains(r.Stderr, "cannot read") {
		t.Errorf("unreadable file: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// A batch interrupted by SIGINT or SIGTERM while it is being applied (the
// kernel has some of it) stops, undoes what it applied, says so and exits
// 1: the table is as before, as both readers see.
func TestBatchInterrupted(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ns := newNS(t, "")
		ns.MustEroute("--add", "--src", "10.200.0.0/16", "--dst", "10.201.0.0/16", "--said", "%pass")
		ns.IP("xfrm", "policy", "add", "src", "10.202.0.0/16", "dst", "10.203.0.0/16", "dir", "in", "limit", "time-hard", "30")
		path := writeLines(t, batchLines(60000, 0))
		before := tableState(ns)
		p := spawnMonitor(t, []string{"ip", "netns", "exec", ns.Name, eroutePath, "--batch", path})
		applying := waitFor(30*time.Second, func() bool {
			out := runResult(t, "ip", "-n", ns.Name, "xfrm", "policy", "count").Stdout
			return !strings.Contains(out, "OUT 1 ") || !p.Running()
		})
		if !applying || !p.Running() {
			t.Fatalf("%v: the batch was not seen applying: %v %q", sig, p.WaitExit(time.Second), p.Stderr())
		}
		p.Signal(sig)
		st := p.WaitExit(30 * time.Second)
		want := fmt.Sprintf("eroute: --batch %s: %s received while applying: stopped, and what was applied was undone (nothing was changed)\n", path, map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[sig])
		if st == nil || st.ExitCode() != 1 || p.Stderr() != want {
			t.Errorf("%v: %v, stderr %q, want %q", sig, st, p.Stderr(), want)
		}
		if diff := cmp.Diff(before, tableState(ns)); diff != "" {
			t.Errorf("%v: the table changed:\n%s", sig, diff)
		}
	}
}

// Several processes on disjoint selectors end with exactly their union.
func TestConcurrentBatches(t *testing.T) {
	ns := newNS(t, "")
	const procs, each = 4, 1500
	var wg sync.WaitGroup
	errs := make([]Result, procs)
	for p := 0; p < procs; p++ {
		path := writeLines(t, batchLines(each, p*each))
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			errs[p] = ns.Eroute("--batch", path)
		}(p)
	}
	// Single commands at the same time, on their own selectors.
	for i := 0; i < 20; i++ {
		ns.MustEroute("--add", "--src", "192.168.77.0/24", "--dst", fmt.Sprintf("192.168.%d.0/24", 100+i), "--said", "%drop")
	}
	wg.Wait()
	for p, r := range errs {
		if r.Code != 0 {
			t.Errorf("process %d: exit %d: %s", p, r.Code, r.Stderr)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(ns.Listing()), "\n")); n != procs*each+20 {
		t.Errorf("listing has %d eroutes, want %d", n, procs*each+20)
	}
}

func TestSyncInKernel(t *testing.T) {
	ns := newNS(t, "")
	lines := batchLines(1000, 0)
	ns.MustEroute("--batch", writeLines(t, lines))
	ns.IP("xfrm", "policy", "add", "src", "10.210.0.0/16", "dst", "10.211.0.0/16", "dir", "out", "action", "block")
	// The file: 10 eroutes dropped, 10 with another SAID, 10 new.
	want := append([]string{}, lines[10:]...)
	for i := 10; i < 20; i++ {
		want[i-10] = strings.Replace(lines[i], "--said", "--said %reject #", 1)
	}
	want = append(want, batchLines(10, 5000)...)
	for i := range want {
		if j := strings.Index(want[i], " #"); j >= 0 {
			want[i] = want[i][:j]
		}
	}
	path := writeLines(t, want)
	plan := ns.MustEroute("--sync", path, "--dry-run")
	if !strings.HasSuffix(plan, "# 10 to add, 10 to replace, 10 to delete, 980 unchanged\n") {
		t.Errorf("plan ends %q", plan[max(0, len(plan)-80):])
	}
	monitor := exec.Command("ip", "-n", ns.Name, "xfrm", "monitor", "policy")
	out, _ := monitor.StdoutPipe()
	monitor.Start()
	time.Sleep(200 * time.Millisecond)
	ns.MustEroute("--sync", path)
	time.Sleep(200 * time.Millisecond)
	monitor.Process.Kill()
	buf := make([]byte, 1<<20)
	n, _ := out.Read(buf)
	monitor.Wait()
	events := string(buf[:n])
	// Independent reader: exactly 30 changes, replaced in place (updated), never deleted and re-added.
	if d := strings.Count(events, "Deleted "); d != 10 {
		t.Errorf("ip xfrm monitor saw %d deletions, want 10", d)
	}
	if u := strings.Count(events, "Updated "); u != 10 {
		t.Errorf("ip xfrm monitor saw %d updates, want 10", u)
	}
	if strings.Count(ns.IPPolicies(), "dir out") != 1000+1 {
		t.Errorf("after --sync: %d policies, want 1001 (the foreign one stays)", strings.Count(ns.IPPolicies(), "dir out"))
	}
	if again := ns.MustEroute("--sync", path, "--dry-run"); again != "# 0 to add, 0 to replace, 0 to delete, 1000 unchanged\n" {
		t.Errorf("second plan: %q", again)
	}
}
