package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/eroute/eroute/internal/nslock"
)

// fakeLock stands for the namespace's write lock: busy tries fail with a
// *nslock.BusyError, then it answers err (nil: taken). It records the
// waits asked for, and the table when the lock was taken and released.
type fakeLock struct {
	busy      int
	err       error
	waits     []time.Duration
	held      bool
	netns     []string
	table     *fakeTable
	atAcquire []string
	atRelease []string
}

// acquire is Env.LockTable.
func (l *fakeLock) acquire(netns string, wait time.Duration) (func() error, error) {
	l.waits = append(l.waits, wait)
	l.netns = append(l.netns, netns)
	if l.busy > 0 {
		l.busy--
		return nil, &nslock.BusyError{Purpose: "write", PID: 4242}
	}
	if l.err != nil {
		return nil, l.err
	}
	if l.held {
		return nil, errors.New("taken twice")
	}
	l.held = true
	l.atAcquire = append(l.atAcquire, l.table.snapshot())
	return func() error {
		l.held = false
		l.atRelease = append(l.atRelease, l.table.snapshot())
		return nil
	}, nil
}

func lockedWorld(t *testing.T, l *fakeLock) *world {
	w := withManualTable(t)
	l.table = w.table
	w.lock = l
	return w
}

// Every command that changes the table takes the lock, once, and changes
// the table only while it holds it; the listing and a --sync --dry-run
// take none.
func TestWritersTakeTheLock(t *testing.T) {
	batch := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --said %drop\n")
	sync := writeFile(t, "--add --src 10.0.0.0/8 --dst 10.7.0.0/16 --said %drop\n")
	for _, c := range []struct {
		args  []string
		locks bool
	}{
		{[]string{"--add", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%drop"}, true},
		{[]string{"--replace", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%drop"}, true},
		{[]string{"--del", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24"}, true},
		{[]string{"--clear"}, true},
		{[]string{"--addin", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%pass"}, true},
		{[]string{"--replacein", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%pass"}, true},
		{[]string{"--batch", batch}, true},
		{[]string{"--sync", sync}, true},
		{[]string{"--sync", sync, "--dry-run"}, false},
		{[]string{}, false},
		{[]string{"--json"}, false},
	} {
		l := &fakeLock{}
		w := lockedWorld(t, l)
		start := w.table.snapshot()
		w.mustRun(t, append(c.args, "--netns", "blue")...)
		end := w.table.snapshot()
		if got := len(l.atRelease); c.locks && got != 1 || !c.locks && len(l.waits) != 0 {
			t.Fatalf("%q: %d tries for the lock, %d releases", c.args, len(l.waits), got)
		}
		if c.locks && (l.atAcquire[0] != start || l.atRelease[0] != end || start == end && c.args[0] != "--replacein") {
			t.Errorf("%q: the table changed without the lock held (or not at all)", c.args)
		}
		if c.locks && (l.netns[0] != "blue" || l.waits[0] != lockQuietWait) {
			t.Errorf("%q: lock asked for namespace %q, wait %v", c.args, l.netns[0], l.waits[0])
		}
		if l.held {
			t.Errorf("%q: lock not released", c.args)
		}
	}
}

// A busy lock: the writer says once that it waits, for how long at most,
// and for whom; then it goes on, or gives up with the table untouched.
func TestWriterWaitsForTheLock(t *testing.T) {
	add := []string{"--label", "up", "--add", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%drop"}
	l := &fakeLock{busy: 1}
	w := lockedWorld(t, l)
	if code := w.run(add...); code != 0 {
		t.Fatalf("status %d, stderr %q", code, w.stderr.String())
	}
	if got, want := w.stderr.String(), "eroute --label up: waiting for another eroute (pid 4242) to finish changing the table (at most 30s)\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
	if want := []time.Duration{lockQuietWait, LockWait - lockQuietWait}; !cmp.Equal(l.waits, want) {
		t.Errorf("waits %v, want %v", l.waits, want)
	}

	l = &fakeLock{busy: 2}
	w = lockedWorld(t, l)
	before := w.table.snapshot()
	if code := w.run(add...); code != 1 {
		t.Fatalf("status %d with the lock held throughout", code)
	}
	want := "eroute --label up: waiting for another eroute (pid 4242) to finish changing the table (at most 30s)\n" +
		"eroute --label up: another eroute (pid 4242) is still changing the table after 30s; nothing was changed, try again later\n"
	if got := w.stderr.String(); got != want {
		t.Errorf("stderr %q\nwant %q", got, want)
	}
	if w.table.snapshot() != before {
		t.Error("the table changed without the lock")
	}
}

// Without the right to the lock directory (not root), a writer goes on as
// a writer that is not eroute would, and the kernel decides; any other
// trouble with the lock (a directory someone else owns) stops it.
func TestWriterLockErrors(t *testing.T) {
	add := []string{"--add", "--src", okSrc, "--dst", "10.7.0.0/16", "--said", "%drop"}
	w := lockedWorld(t, &fakeLock{err: fmt.Errorf("nslock: /run/eroute: %w", os.ErrPermission)})
	w.mustRun(t, add...)
	w = lockedWorld(t, &fakeLock{err: errors.New("nslock: refusing /run/eroute: owned by uid 1000, not root")})
	before := w.table.snapshot()
	if code := w.run(add...); code != 1 || !strings.Contains(w.stderr.String(), "cannot take the lock that serialises eroute's writers: nslock: refusing /run/eroute") {
		t.Errorf("status %d, stderr %q", code, w.stderr.String())
	}
	if w.table.snapshot() != before {
		t.Error("the table changed")
	}
}

// A batch checks its file before it takes the lock: a bad file never
// waits, and never holds up other writers while it is read.
func TestBatchLocksAfterChecking(t *testing.T) {
	l := &fakeLock{}
	w := lockedWorld(t, l)
	if code := w.run("--batch", writeFile(t, "--add --src 10.0.0.0/33 --dst 10.1.0.0/16 --said %drop\n")); code != 1 {
		t.Fatalf("status %d", code)
	}
	if len(l.waits) != 0 {
		t.Errorf("a bad batch file took the lock")
	}
}
