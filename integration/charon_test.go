package integration

// A real IKE daemon next to eroute: strongSwan's charon, one per namespace.
//
// Each charon runs inside its test's network namespace and in a mount
// namespace of its own with a private /run (`ip netns exec NS unshare -m sh
// -c 'mount -t tmpfs x /run && exec charon'`), so its pid file and default
// sockets are its own and a charon of the host (strongswan-starter's
// service, for one) is neither seen nor disturbed. Its configuration is a
// directory of the test's own: STRONGSWAN_CONF (strongswan.conf: the
// plugins, the vici socket, the log file) and SWANCTL_DIR (swanctl.conf and
// conf.d/). swanctl runs on the host and talks to that charon's vici socket
// only (`--uri unix://DIR/charon.vici`); the host's /etc/swanctl and /run
// are never read or written. The charon is stopped when its test ends,
// whatever happened.
//
// Facts of Debian's strongSwan 5.9.8 these tests rely on:
//   - charon sets net.core.xfrm_acq_expires to 165 in its namespace at start
//     (kernel-netlink's default) and leaves it.
//   - Its policies have priorities around 375,000: below eroute's band
//     (2^24 and up), so they win where both match.
//   - When it installs a policy on a selector that has one (eroute's, say),
//     the kernel says EEXIST; charon logs "policy already exists, try to
//     update it" and replaces it. When it removes its own, it deletes by
//     selector, whoever was there before.
//   - An IKE SA needs no kernel support but the UDP sockets; a CHILD SA needs
//     ESP in the kernel. On a kernel without it (the development machines)
//     the responder fails to add its SAs ("unable to add SAD entry ...
//     Protocol not supported"), answers NO_PROPOSAL_CHOSEN, and both keep
//     the IKE SA without a CHILD SA. The whole chain with ESP is proved in
//     the VM suite (scripts/vm/suite.d/charon.sh).

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// charonPaths are where distributions put charon: Debian and Ubuntu first.
var charonPaths = []string{
	"/usr/lib/ipsec/charon",
	"/usr/libexec/ipsec/charon",
	"/usr/libexec/strongswan/charon",
}

// requireCharon skips a test that cannot run charon and swanctl here, and
// gives charon's path.
func requireCharon(t *testing.T) string {
	t.Helper()
	requireKernel(t)
	const hint = " (scripts/deps.sh installs strongswan-charon and strongswan-swanctl)"
	if _, err := exec.LookPath("swanctl"); err != nil {
		t.Skip("skipped: needs strongSwan's swanctl" + hint)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: needs unshare(1) for charon's private /run")
	}
	for _, p := range charonPaths {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Skip("skipped: needs strongSwan's charon in " + strings.Join(charonPaths, " or ") + hint)
	return ""
}

// charonPlugins are the plugins charon loads: what PSK IKEv2 with AES,
// SHA-2 and MODP groups needs, the kernel interface and vici. No openssl, no
// resolve (it would write resolv.conf), no stroke (its socket).
const charonPlugins = "random nonce aes sha1 sha2 hmac kdf gmp pem pkcs1 x509 pubkey kernel-netlink socket-default vici"

// swanctlPlugins are swanctl's: the same, less those of the daemon.
const swanctlPlugins = "random nonce aes sha1 sha2 hmac gmp pem pkcs1 x509 pubkey"

// Charon is a running charon of one namespace.
type Charon struct {
	t      *testing.T
	ns     *NS
	Dir    string // its configuration, vici socket and log
	cmd    *exec.Cmd
	exited chan struct{}
	state  *os.ProcessState
}

// startCharon runs a charon in ns with its own configuration and a private
// /run, waits until its vici socket answers, and stops it when the test
// ends (after what the test started later, such as a monitor, has ended).
func startCharon(t *testing.T, ns *NS) *Charon {
	t.Helper()
	charonPath := requireCharon(t)
	// Not t.TempDir: a unix socket path has room for 107 bytes, and test
	// names make long directories.
	dir, err := os.MkdirTemp("", "eroute-charon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &Charon{t: t, ns: ns, Dir: dir, exited: make(chan struct{})}
	c.writeConf()

	var out bytes.Buffer
	// ip netns exec, unshare and sh each exec the next: the process is charon.
	c.cmd = exec.Command("ip", "netns", "exec", ns.Name, "unshare", "--mount", "--propagation", "private",
		"sh", "-c", `mount -t tmpfs charon-run /run && exec "$0"`, charonPath)
	c.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+c.conf())
	c.cmd.Stdout, c.cmd.Stderr = &out, &out
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting charon: %v", err)
	}
	go func() {
		c.cmd.Wait()
		c.state = c.cmd.ProcessState
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("charon of %s, output:\n%s\nlog (last 60 lines):\n%s", ns.Name, out.String(), lastLines(c.Log(), 60))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-c.exited:
			t.Fatalf("charon in %s ended at start (%v):\n%s\n%s", ns.Name, c.state, out.String(), c.Log())
		default:
		}
		if _, err := os.Stat(c.socket()); err == nil {
			if r := c.Swanctl("--stats"); r.Code == 0 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon in %s: no answer on %s within 15s:\n%s", ns.Name, c.socket(), c.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends charon with SIGTERM (it removes its policies and SAs then), and
// with SIGKILL if that takes more than 10 seconds.
func (c *Charon) stop() {
	pid := c.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-c.exited:
		return
	case <-time.After(10 * time.Second):
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.t.Errorf("charon (pid %d) did not end on SIGKILL", pid)
	}
}

// Pid is charon's process id.
func (c *Charon) Pid() int { return c.cmd.Process.Pid }

func (c *Charon) conf() string       { return filepath.Join(c.Dir, "strongswan.conf") }
func (c *Charon) swanctlDir() string { return filepath.Join(c.Dir, "swanctl") }
func (c *Charon) socket() string     { return filepath.Join(c.Dir, "charon.vici") }
func (c *Charon) logPath() string    { return filepath.Join(c.Dir, "charon.log") }

// URI is the vici socket as swanctl's --uri takes it.
func (c *Charon) URI() string { return "unix://" + c.socket() }

// writeConf writes strongswan.conf and an empty swanctl directory.
func (c *Charon) writeConf() {
	c.t.Helper()
	conf := fmt.Sprintf(`charon {
	load = %s
	plugins {
		vici {
			socket = %s
		}
	}
	filelog {
		test {
			path = %s
			time_format = %%T
			default = 1
			knl = 2
			flush_line = yes
		}
	}
	syslog {
		daemon {
			default = -1
		}
	}
}
swanctl {
	load = %s
}
`, charonPlugins, c.URI(), c.logPath(), swanctlPlugins)
	// The credential directories swanctl --load-all reads, so that it reads
	// them here and says nothing about missing ones.
	for _, d := range []string{"conf.d", "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl",
		"pubkey", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"} {
		if err := os.MkdirAll(filepath.Join(c.swanctlDir(), d), 0o700); err != nil {
			c.t.Fatal(err)
		}
	}
	c.writeFile(c.conf(), conf)
	c.writeFile(filepath.Join(c.swanctlDir(), "swanctl.conf"), "include conf.d/*.conf\n")
}

func (c *Charon) writeFile(path, text string) {
	c.t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// swanctlEnv is the environment of swanctl for this charon: its own
// strongswan.conf and swanctl directory.
func (c *Charon) swanctlEnv() []string {
	return append(os.Environ(), "STRONGSWAN_CONF="+c.conf(), "SWANCTL_DIR="+c.swanctlDir())
}

// Swanctl runs `swanctl ARGS --uri URI` against this charon.
func (c *Charon) Swanctl(args ...string) Result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("swanctl", append(args, "--uri", c.URI())...)
	cmd.Env = c.swanctlEnv()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		exitErr, ok := err.(*exec.ExitError)
		if !ok {
			c.t.Fatalf("swanctl: %v", err)
		}
		code = exitErr.ExitCode()
	}
	return Result{stdout.String(), stderr.String(), code}
}

// MustSwanctl runs swanctl and fails the test unless it exits 0.
func (c *Charon) MustSwanctl(args ...string) string {
	c.t.Helper()
	r := c.Swanctl(args...)
	if r.Code != 0 {
		c.t.Fatalf("swanctl %s: exit %d:\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// SwanctlCommand is a shell command line that runs `swanctl ARGS` against
// this charon, for eroute --monitor --exec.
func (c *Charon) SwanctlCommand(args ...string) string {
	return fmt.Sprintf("STRONGSWAN_CONF=%s swanctl %s --uri %s", c.conf(), strings.Join(args, " "), c.URI())
}

// Load writes the connections to conf.d/NAME.conf (NAME: the first
// connection's) and has charon load the whole configuration.
func (c *Charon) Load(conns ...IKEConn) {
	c.t.Helper()
	var b strings.Builder
	for _, conn := range conns {
		b.WriteString(conn.swanctlConf())
	}
	c.writeFile(filepath.Join(c.swanctlDir(), "conf.d", conns[0].Name+".conf"), b.String())
	c.MustSwanctl("--load-all")
}

// Log is charon's log so far.
func (c *Charon) Log() string {
	b, _ := os.ReadFile(c.logPath())
	return string(b)
}

// WaitLog waits until charon's log matches the regular expression.
func (c *Charon) WaitLog(re string, d time.Duration) bool {
	r := regexp.MustCompile(re)
	return waitFor(d, func() bool { return r.MatchString(c.Log()) })
}

// IKEConn is one swanctl connection, IKEv2 with a pre-shared key.
type IKEConn struct {
	Name              string
	Local, Remote     netip.Addr
	LocalID, RemoteID string
	Children          []IKEChild
	PSK               string // "" for the tests' own
}

// IKEChild is a CHILD SA of a connection, in tunnel mode.
type IKEChild struct {
	Name              string
	LocalTS, RemoteTS string
	StartAction       string // "trap", "start" or "" (none)
}

// testPSK is the tests' pre-shared key (a test value, not a secret).
const testPSK = "eroute-test-psk-0123456789"

func (conn IKEConn) swanctlConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connections {\n  %s {\n    version = 2\n    local_addrs = %s\n    remote_addrs = %s\n",
		conn.Name, conn.Local, conn.Remote)
	b.WriteString("    proposals = aes128-sha256-modp2048\n")
	fmt.Fprintf(&b, "    local {\n      auth = psk\n      id = %s\n    }\n", conn.LocalID)
	fmt.Fprintf(&b, "    remote {\n      auth = psk\n      id = %s\n    }\n", conn.RemoteID)
	b.WriteString("    children {\n")
	for _, ch := range conn.Children {
		fmt.Fprintf(&b, "      %s {\n        local_ts = %s\n        remote_ts = %s\n        mode = tunnel\n        esp_proposals = aes128-sha256\n",
			ch.Name, ch.LocalTS, ch.RemoteTS)
		if ch.StartAction != "" {
			fmt.Fprintf(&b, "        start_action = %s\n", ch.StartAction)
		}
		b.WriteString("      }\n")
	}
	b.WriteString("    }\n  }\n}\n")
	psk := conn.PSK
	if psk == "" {
		psk = testPSK
	}
	fmt.Fprintf(&b, "secrets {\n  ike-%s {\n    id-1 = %s\n    id-2 = %s\n    secret = %q\n  }\n}\n",
		conn.Name, conn.LocalID, conn.RemoteID, psk)
	return b.String()
}

// The IKE topology: two gateways joined by a veth (newPair's addresses,
// IKE between pairA4 and pairB4), each with a host of its protected subnet
// on its loopback: ikeLeftHost in ikeLeftNet behind a, ikeRightHost in
// ikeRightNet behind b. ikeOtherNet is routed to b too and is protected by
// no connection.
var (
	ikeLeftHost  = netip.MustParseAddr("10.77.1.1")
	ikeRightHost = netip.MustParseAddr("10.77.2.1")
	ikeOtherHost = netip.MustParseAddr("10.77.3.1")
)

const (
	ikeLeftNet  = "10.77.1.0/24"
	ikeRightNet = "10.77.2.0/24"
	ikeOtherNet = "10.77.3.0/24"
)

// ikePair makes the topology (no charon yet).
func ikePair(t *testing.T) (a, b *NS) {
	t.Helper()
	a, b = newPair(t)
	a.IP("addr", "add", ikeLeftHost.String()+"/32", "dev", "lo")
	b.IP("addr", "add", ikeRightHost.String()+"/32", "dev", "lo")
	b.IP("addr", "add", ikeOtherHost.String()+"/32", "dev", "lo")
	a.IP("route", "add", ikeRightNet, "via", pairB4.String())
	a.IP("route", "add", ikeOtherNet, "via", pairB4.String())
	b.IP("route", "add", ikeLeftNet, "via", pairA4.String())
	return a, b
}

// tunnelConns are the two ends of one connection NAME with one CHILD SA of
// the same name, ikeLeftNet <-> ikeRightNet; start is the left end's
// start_action (the right end only answers).
func tunnelConns(name, start string) (left, right IKEConn) {
	left = IKEConn{Name: name, Local: pairA4, Remote: pairB4, LocalID: "left", RemoteID: "right",
		Children: []IKEChild{{Name: name, LocalTS: ikeLeftNet, RemoteTS: ikeRightNet, StartAction: start}}}
	right = IKEConn{Name: name, Local: pairB4, Remote: pairA4, LocalID: "right", RemoteID: "left",
		Children: []IKEChild{{Name: name, LocalTS: ikeRightNet, RemoteTS: ikeLeftNet}}}
	return left, right
}

// ikeCapture watches the veth of a for IPv4: IKE (ikePackets) and anything
// else that crosses.
func ikeCapture(t *testing.T, a, b *NS) *Capture {
	t.Helper()
	return capture(t, a, vethName(a, b), "ip")
}

// ikePackets counts the IKE messages tcpdump saw: on port 500 (IKE_SA_INIT)
// and on 4500 (IKE_AUTH and later, after NAT detection moved them).
func ikePackets(c *Capture) (port500, port4500 int) {
	c500 := c.Count(func(p Packet) bool { return p.SrcPort == 500 && p.DstPort == 500 && strings.Contains(p.What, "isakmp") })
	c4500 := c.Count(func(p Packet) bool {
		return p.SrcPort == 4500 && p.DstPort == 4500 && strings.Contains(p.What, "isakmp")
	})
	return c500, c4500
}

// kernelHasESP tells whether this kernel can make an ESP SA, trying in a
// namespace of its own.
func kernelHasESP(t *testing.T) bool {
	t.Helper()
	ns := newNS(t, "")
	r := runResult(t, "ip", "-n", ns.Name, "xfrm", "state", "add", "src", "10.9.9.1", "dst", "10.9.9.2",
		"proto", "esp", "spi", "0x9001", "mode", "tunnel",
		"enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff",
		"auth-trunc", "hmac(sha256)", "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "128")
	return r.Code == 0
}

// sysctlValue reads a sysctl inside ns.
func sysctlValue(t *testing.T, ns *NS, name string) int {
	t.Helper()
	out := run(t, "ip", "netns", "exec", ns.Name, "sysctl", "-n", name)
	v, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("sysctl %s in %s: %q", name, ns.Name, out)
	}
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
