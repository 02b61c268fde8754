package integration

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// eroutePath is the binary under test, built once by TestMain.
var eroutePath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eroute-integration")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	eroutePath = filepath.Join(dir, "eroute")
	build := exec.Command("go", "build", "-o", eroutePath, "../cmd/eroute")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building eroute: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireKernel skips a test that cannot make network namespaces here.
func requireKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipped: needs ip(8) from iproute2")
	}
}

// NS is a throwaway network namespace.
type NS struct {
	t    *testing.T
	Name string
}

// newNS makes a namespace that is removed when the test ends. hosts, when
// not empty, becomes its /etc/netns/NAME/hosts, which `ip netns exec` mounts
// over /etc/hosts for the commands it runs.
func newNS(t *testing.T, hosts string) *NS {
	t.Helper()
	requireKernel(t)
	b := make([]byte, 4)
	rand.Read(b)
	ns := &NS{t: t, Name: "eroute-it-" + hex.EncodeToString(b)}
	run(t, "ip", "netns", "add", ns.Name)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns.Name).Run()
		os.RemoveAll(filepath.Join("/etc/netns", ns.Name))
	})
	if hosts != "" {
		dir := filepath.Join("/etc/netns", ns.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// Result is what a command did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Eroute runs eroute inside the namespace, through `ip netns exec` as an
// admin would (so the namespace's hosts file is used).
func (ns *NS) Eroute(args ...string) Result {
	ns.t.Helper()
	return runResult(ns.t, "ip", append([]string{"netns", "exec", ns.Name, eroutePath}, args...)...)
}

// MustEroute runs eroute and fails the test unless it exits 0.
func (ns *NS) MustEroute(args ...string) string {
	ns.t.Helper()
	r := ns.Eroute(args...)
	if r.Code != 0 {
		ns.t.Fatalf("eroute %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	return r.Stdout
}

// Listing is eroute's table listing.
func (ns *NS) Listing() string {
	ns.t.Helper()
	return ns.MustEroute()
}

// IPPolicies is the independent reader: `ip xfrm policy list` of the namespace.
func (ns *NS) IPPolicies() string {
	ns.t.Helper()
	return run(ns.t, "ip", "-n", ns.Name, "xfrm", "policy", "list")
}

// IP runs `ip -n NS ARGS` and fails the test if it fails.
func (ns *NS) IP(args ...string) string {
	ns.t.Helper()
	return run(ns.t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// Exec runs a command inside the namespace.
func (ns *NS) Exec(name string, args ...string) Result {
	ns.t.Helper()
	return runResult(ns.t, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	r := runResult(t, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %s: exit %d: %s%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

func runResult(t *testing.T, name string, args ...string) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		code = exitErr.ExitCode()
	}
	return Result{stdout.String(), stderr.String(), code}
}
