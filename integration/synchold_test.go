package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listedHolds gives, as --sync lines of %hold, the monitor holds (or any
// %hold) the JSON listing shows.
func listedHolds(t *testing.T, ns *NS) []string {
	t.Helper()
	var holds []string
	for _, line := range strings.Split(strings.TrimSpace(ns.MustEroute("--json")), "\n") {
		var e struct {
			Src, Dst, SAID string
			Proto          uint8
			S              uint16 `json:"src_port"`
			D              uint16 `json:"dst_port"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		if e.SAID != "%hold" {
			continue
		}
		l := fmt.Sprintf("--add --src %s --dst %s", e.Src, e.Dst)
		if e.Proto != 0 {
			l += fmt.Sprintf(" --transport-proto %d", e.Proto)
		}
		if e.S != 0 {
			l += fmt.Sprintf(" --src-port %d", e.S)
		}
		if e.D != 0 {
			l += fmt.Sprintf(" --dst-port %d", e.D)
		}
		holds = append(holds, l+" --said %hold")
	}
	return holds
}

// --sync and a monitor's holds: a file without the hold leaves it in place
// (it is not counted as, nor deleted as, one of the file's eroutes); a
// file with a %hold on its selector makes it a permanent %hold, which the
// kernel no longer times out and the monitor no longer removes.
func TestSyncKeepsMonitorHolds(t *testing.T) {
	ns := trapNS(t)
	mon := startMonitor(t, ns, "--hold-timeout", "60")
	send1(t, ns, netip.AddrPortFrom(trapLocal4, 40001), netip.AddrPortFrom(in4(7), 53))
	if !mon.WaitLines(1, 5*time.Second) {
		t.Fatalf("no ACQUIRE line; stderr:\n%s", mon.Stderr())
	}
	holds := listedHolds(t, ns)
	if len(holds) != 1 {
		t.Fatalf("the listing shows %d holds, want 1:\n%s", len(holds), ns.Listing())
	}
	hold := strings.Fields(holds[0])
	src, dst := hold[2], hold[4]
	if exp := addExpiry(t, ns, src, dst); exp != "hard 60(sec)" {
		t.Fatalf("the monitor's hold has add expiry %q, want hard 60(sec)", exp)
	}
	traps := []string{
		"--add --src " + trapNet4 + " --dst " + trapNet4 + " --said %trap",
		"--add --src " + trapNet6 + " --dst " + trapNet6 + " --said %trap",
	}
	file := writeLines(t, traps)
	if plan := ns.MustEroute("--sync", file, "--dry-run"); plan != "# 0 to add, 0 to replace, 0 to delete, 2 unchanged\n" {
		t.Errorf("plan without the hold: %q", plan)
	}
	ns.MustEroute("--sync", file)
	wantListed(t, ns, src, dst, "%hold", "after a --sync of a file without it")
	if exp := addExpiry(t, ns, src, dst); exp != "hard 60(sec)" {
		t.Errorf("after a --sync of a file without it, the hold's add expiry is %q", exp)
	}

	withHold := writeLines(t, append(traps, holds[0]))
	if plan := ns.MustEroute("--sync", withHold, "--dry-run"); plan != strings.Replace(holds[0], "--add", "--replace", 1)+"\n# 0 to add, 1 to replace, 0 to delete, 2 unchanged\n" {
		t.Errorf("plan with the hold: %q", plan)
	}
	ns.MustEroute("--sync", withHold)
	wantListed(t, ns, src, dst, "%hold", "after a --sync of a file with it")
	if exp := addExpiry(t, ns, src, dst); exp != "hard 0(sec)" {
		t.Errorf("after a --sync of a file with it, the %%hold's add expiry is %q, want none (hard 0)", exp)
	}
	if plan := ns.MustEroute("--sync", withHold, "--dry-run"); plan != "# 0 to add, 0 to replace, 0 to delete, 3 unchanged\n" {
		t.Errorf("plan once the %%hold is the file's: %q", plan)
	}
	// The monitor, ended, leaves the permanent %hold.
	mon.Signal(syscall.SIGTERM)
	if st := mon.WaitExit(10 * time.Second); st == nil {
		t.Fatal("the monitor did not end on SIGTERM")
	}
	wantListed(t, ns, src, dst, "%hold", "after the monitor ended")
}
