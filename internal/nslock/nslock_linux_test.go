package nslock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// useDir points the package at a fresh lock directory for one test.
func useDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nslock needs a root-owned directory: run as root")
	}
	dir := filepath.Join(t.TempDir(), "eroute")
	old := Dir
	Dir = dir
	t.Cleanup(func() { Dir = old })
	return dir
}

func TestSecondHolderIsBusy(t *testing.T) {
	useDir(t)
	l, err := Acquire("", "write", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire("", "write", 0)
	var busy *BusyError
	if !errors.As(err, &busy) || !errors.Is(err, ErrBusy) {
		t.Fatalf("second Acquire: %v, want a *BusyError", err)
	}
	if busy.PID != os.Getpid() {
		t.Errorf("holder pid %d, want %d", busy.PID, os.Getpid())
	}
	if _, err := Acquire("", "monitor", 0); err != nil {
		t.Errorf("another purpose is another lock: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	l2, err := Acquire("", "write", 0)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

func TestAcquireWaitsForRelease(t *testing.T) {
	useDir(t)
	l, err := Acquire("", "write", 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		l.Release()
	}()
	l2, err := Acquire("", "write", 10*time.Second)
	if err != nil {
		t.Fatalf("waiting Acquire: %v", err)
	}
	l2.Release()
}

func TestAcquireGivesUpAfterWait(t *testing.T) {
	useDir(t)
	l, err := Acquire("", "write", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	start := time.Now()
	_, err = Acquire("", "write", 150*time.Millisecond)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("gave up after %v, before the wait was over", d)
	}
}

// A lock dies with its holder, however the holder dies.
func TestLockDiesWithProcess(t *testing.T) {
	dir := useDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHolder$")
	cmd.Env = append(os.Environ(), "NSLOCK_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	_, err = Acquire("", "write", 0)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.PID != cmd.Process.Pid {
		t.Errorf("while the helper holds it: %v, want busy with pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire("", "write", 0)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// TestHelperHolder is the holder process of TestLockDiesWithProcess.
func TestHelperHolder(t *testing.T) {
	dir := os.Getenv("NSLOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	Dir = dir
	if _, err := Acquire("", "write", 0); err != nil {
		os.Stdout.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("held\n")
	time.Sleep(time.Minute)
}

func TestDirectoryOthersControlIsRefused(t *testing.T) {
	dir := useDir(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire("", "write", 0); err == nil || !strings.Contains(err.Error(), "not root") {
		t.Errorf("directory owned by uid 65534: %v", err)
	}
	os.Chown(dir, 0, 0)
	os.Chmod(dir, 0o777)
	if _, err := Acquire("", "write", 0); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("world-writable directory: %v", err)
	}
}

func TestNamespaceNames(t *testing.T) {
	useDir(t)
	for _, name := range []string{"no-such-netns-eroute-test", "../net", "a/b"} {
		_, err := Acquire(name, "write", 0)
		if err == nil || errors.Is(err, ErrBusy) {
			t.Errorf("Acquire(%q): %v, want an error that is not busy", name, err)
		}
	}
	if _, err := Acquire("", "Write", 0); err == nil {
		t.Error("purpose with a capital letter accepted")
	}
}

// The same namespace reached by its ip netns name and from inside is one lock.
func TestNamedNamespaceIsTheSameLock(t *testing.T) {
	useDir(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip missing")
	}
	name := "nslock-test-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	l, err := Acquire(name, "write", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := Acquire("", "write", 0); err != nil {
		t.Errorf("the caller's own namespace is another lock: %v", err)
	}
	cmd := exec.Command("ip", "netns", "exec", name, os.Args[0], "-test.run=^TestHelperProbe$")
	cmd.Env = append(os.Environ(), "NSLOCK_HELPER_DIR="+Dir)
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "busy") {
		t.Errorf("a process inside the namespace: %s, want busy", out)
	}
}

// TestHelperProbe tries the caller's namespace lock once and says what happened.
func TestHelperProbe(t *testing.T) {
	dir := os.Getenv("NSLOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	Dir = dir
	_, err := Acquire("", "write", 0)
	switch {
	case errors.Is(err, ErrBusy):
		os.Stdout.WriteString("busy\n")
	case err != nil:
		os.Stdout.WriteString(err.Error() + "\n")
	default:
		os.Stdout.WriteString("free\n")
	}
}

// TestFile: a lock holder's file sits beside its lock, named alike, in a
// directory File makes root's.
func TestFile(t *testing.T) {
	dir := useDir(t)
	path, err := File("", "monitor", "takeovers")
	if err != nil {
		t.Fatal(err)
	}
	l, err := Acquire("", "monitor", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if want := strings.TrimSuffix(l.f.Name(), ".lock") + ".takeovers"; path != want || filepath.Dir(path) != dir {
		t.Errorf("File = %q, want %q in %s", path, want, dir)
	}
	for _, bad := range [][2]string{{"monitor", "take-overs"}, {"", "x"}, {"Monitor", "x"}} {
		if p, err := File("", bad[0], bad[1]); err == nil {
			t.Errorf("File(%q, %q) = %q, want an error", bad[0], bad[1], p)
		}
	}
}
