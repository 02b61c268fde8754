package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/eroute/eroute/cmd/internal/app"
)

// The scripts run the real command lines. Those that need the kernel start
// with `[!kernel] skip`; each script gets a network namespace of its own,
// $NS, whose /etc/netns/$NS/hosts holds the host names of the manual's
// examples, so `exec ip netns exec $NS eroute ...` resolves them there.
func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"eroute": func() int { return app.Eroute(os.Args[1:]) },
		"ipsec":  func() int { return app.Ipsec(os.Args[1:]) },
	}))
}

// manualHosts names the hosts of the manual's examples, with documentation
// addresses (RFC 5737).
const manualHosts = `192.0.2.10	company.com
198.51.100.21	ftp.ngo.org
198.51.100.1	gw.ngo.org
198.51.100.25	mail.ngo.org
203.0.113.80	www.ietf.org
2001:db8::80	v6only.example
`

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:       "testdata/script",
		Setup:     setupNamespace,
		Condition: condition,
		Cmds:      map[string]func(*testscript.TestScript, bool, []string){"status": cmdStatus},
	})
}

// kernelReason is empty when the kernel scripts can run, else why not.
func kernelReason() string {
	if os.Geteuid() != 0 {
		return "needs root (CAP_NET_ADMIN) to create network namespaces"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs ip(8) from iproute2"
	}
	return ""
}

func condition(cond string) (bool, error) {
	if cond == "kernel" {
		return kernelReason() == "", nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

func setupNamespace(env *testscript.Env) error {
	if kernelReason() != "" {
		env.Setenv("NS", "no-namespace")
		return nil
	}
	b := make([]byte, 4)
	rand.Read(b)
	ns := "eroute-ts-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", ns, err, out)
	}
	dir := filepath.Join("/etc/netns", ns)
	env.Defer(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		os.RemoveAll(dir)
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(manualHosts), 0o644); err != nil {
		return err
	}
	env.Setenv("NS", ns)
	return nil
}

// cmdStatus runs a program and checks its exact exit status, keeping its
// output for stdout/stderr/cmp: `status 1 eroute --bogus`.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = exitErr.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
