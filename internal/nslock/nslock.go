// Package nslock serialises eroute processes that act on the XFRM tables of
// one network namespace.
//
// A lock is an flock(2) on a file in a directory only root can enter
// (/run/eroute, mode 0700), named after the namespace's nsfs inode and a
// purpose ("write", "monitor"). So only a process that could change the
// namespace's tables can hold it, and the kernel releases it when the
// process dies, however it dies: there is never a stale lock to clear.
// Processes that are not eroute (ip xfrm, IKE daemons) do not take it.
package nslock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Dir is where lock files live. /run is a tmpfs that only root may write,
// and goes away at reboot with the tables the locks are about.
var Dir = "/run/eroute"

// ErrBusy is returned, wrapped in a *BusyError, when another process holds
// the lock and waiting did not get it.
var ErrBusy = errors.New("held by another eroute process")

// BusyError says who holds a lock that could not be had.
type BusyError struct {
	Purpose string
	PID     int // 0 when the holder could not be told
}

func (e *BusyError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("the %s lock of this network namespace is held by another eroute process (pid %d)", e.Purpose, e.PID)
	}
	return fmt.Sprintf("the %s lock of this network namespace is held by another eroute process", e.Purpose)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

// Lock is a held lock. Release it, or let the process end.
type Lock struct {
	f *os.File
}

// Acquire takes the lock named purpose (lower-case letters) of the network
// namespace netns: "" for the caller's own, otherwise a name as `ip netns`
// knows it. It tries for up to wait (once when wait is 0). An error other
// than *BusyError means the lock cannot be had at all here (no such
// namespace; not root: errors.Is(err, os.ErrPermission)).
func Acquire(netns, purpose string, wait time.Duration) (*Lock, error) {
	if !validPurpose(purpose) {
		return nil, fmt.Errorf("nslock: bad purpose %q", purpose)
	}
	id, err := namespaceID(netns)
	if err != nil {
		return nil, err
	}
	if err := ensureDir(Dir); err != nil {
		return nil, err
	}
	path := filepath.Join(Dir, "netns-"+id+"."+purpose+".lock")
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 100*time.Millisecond) {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("nslock: %s: %w", path, err)
		}
		if ok {
			writePID(f)
			return &Lock{f: f}, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			pid := readPID(f)
			f.Close()
			return nil, &BusyError{Purpose: purpose, PID: pid}
		}
		time.Sleep(min(pause, left))
	}
}

// Release gives the lock up. Releasing twice is harmless.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	f.Truncate(0) // the pid in it is no longer the holder's
	return f.Close()
}

func validPurpose(p string) bool {
	if p == "" {
		return false
	}
	for _, c := range p {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// ensureDir makes dir (0700) if it is missing, and refuses one that someone
// other than root could have planted or could write into.
func ensureDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("nslock: %w", err)
	}
	return checkDir(dir)
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func writePID(f *os.File) {
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
}

// File gives the path of a file a lock holder keeps beside its lock,
// Dir/netns-<id>.<purpose>.<suffix> (purpose and suffix in a to z), after
// making sure Dir exists and only root controls it. The monitor keeps its
// remembered take-overs there.
func File(netns, purpose, suffix string) (string, error) {
	if !validPurpose(purpose) || !validPurpose(suffix) {
		return "", fmt.Errorf("nslock: bad file name %q.%q", purpose, suffix)
	}
	id, err := namespaceID(netns)
	if err != nil {
		return "", err
	}
	if err := ensureDir(Dir); err != nil {
		return "", err
	}
	return filepath.Join(Dir, "netns-"+id+"."+purpose+"."+suffix), nil
}
