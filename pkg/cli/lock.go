package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/eroute/eroute/internal/nslock"
)

// Writers of one namespace's table take its "write" lock (internal/nslock)
// for the whole of their change, so that two eroute processes never
// interleave: a --sync plans from a table no other eroute changes before
// it applies, and an undo never puts back what another eroute removed
// meanwhile. See "Serialised writers" in DESIGN.md.
const (
	// lockQuietWait is how long a writer waits for the lock before it
	// says so: a moment's contention (parallel single commands) is not
	// worth a line on stderr.
	lockQuietWait = time.Second
	// LockWait is how long a writer waits for the lock in all, after
	// which it gives up without having changed anything.
	LockWait = 30 * time.Second
)

// writes tells whether a request changes the table (and so takes the
// lock). A --sync --dry-run only reads it; the monitor manages its own.
func writes(req Request) bool {
	return commandOf(req.Action).writes != readsOnly && !req.DryRun
}

// lockWriters takes the namespace's write lock through env.LockTable (none
// set: nothing to take), telling on stderr when it has to wait. A process
// that may not take it (not root: the lock directory is root's) goes on
// without it, as any other writer that is not eroute does: the kernel
// then decides whether it may change the table at all. It gives what
// releases the lock.
func lockWriters(req Request, env Env) (release func(), err error) {
	if env.LockTable == nil {
		return func() {}, nil
	}
	unlock, err := env.LockTable(req.Netns, lockQuietWait)
	var busy *nslock.BusyError
	if errors.As(err, &busy) {
		fmt.Fprintf(env.Stderr, "%s: waiting for %s to finish changing the table (at most %v)\n", progName(req), holder(busy), LockWait)
		unlock, err = env.LockTable(req.Netns, LockWait-lockQuietWait)
	}
	switch {
	case err == nil:
		return func() { unlock() }, nil
	case errors.Is(err, os.ErrPermission):
		return func() {}, nil
	case errors.As(err, &busy):
		return nil, fmt.Errorf("%s is still changing the table after %v; nothing was changed, try again later", holder(busy), LockWait)
	}
	return nil, fmt.Errorf("cannot take the lock that serialises eroute's writers: %v", err)
}

// holder names the process that holds the lock.
func holder(busy *nslock.BusyError) string {
	if busy.PID > 0 {
		return fmt.Sprintf("another eroute (pid %d)", busy.PID)
	}
	return "another eroute"
}

// progName is what messages start with: eroute, or eroute --label TEXT.
func progName(req Request) string {
	if req.Label != "" {
		return Prog + " --label " + req.Label
	}
	return Prog
}
