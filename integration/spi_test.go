package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	ipsecOnce sync.Once
	ipsecPath string
	ipsecErr  error
)

// Ipsec runs bin/ipsec (built once, beside the eroute under test) inside
// the namespace.
func (ns *NS) Ipsec(args ...string) Result {
	ns.t.Helper()
	ipsecOnce.Do(func() {
		ipsecPath = filepath.Join(filepath.Dir(eroutePath), "ipsec")
		build := exec.Command("go", "build", "-o", ipsecPath, "../cmd/ipsec")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			ipsecErr = err
			ns.t.Logf("%s", out)
		}
	})
	if ipsecErr != nil {
		ns.t.Fatalf("building ipsec: %v", ipsecErr)
	}
	return runResult(ns.t, "ip", append([]string{"netns", "exec", ns.Name, ipsecPath}, args...)...)
}

// ipsec spi against the kernel, as an administrator runs it: on a kernel
// with ESP the SA is made, listed by both ipsec spi and ip xfrm, grouped
// and deleted with its group; on one without (the development kernels:
// no esp4 module, and no state of any protocol can exist there, not even
// route2, hao or IP-in-IP) the refusal names the module, exits 1 and
// leaves ip xfrm state empty.
func TestSpiAgainstKernel(t *testing.T) {
	ns := newNS(t, "")
	ns.IP("link", "set", "lo", "up")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "lo")
	add := []string{"spi", "--af", "inet", "--edst", "192.0.2.2", "--spi", "0x201", "--proto", "esp", "--src", "192.0.2.1",
		"--esp", "aes-sha2_256", "--enckey", "0x00112233445566778899aabbccddeeff",
		"--authkey", "0s0123456789abcdefghijklmnopqrstuvwxyzABCDEFE="}
	r := ns.Ipsec(add...)
	if r.Code != 0 {
		want := "spi: esp.201@192.0.2.2: the kernel has no ESP for IPv4: load the kernel module esp4 (CONFIG_INET_ESP)\n"
		if r.Code != 1 || r.Stderr != want || r.Stdout != "" {
			t.Fatalf("ipsec spi --esp: exit %d, %q %q; want 1, %q", r.Code, r.Stdout, r.Stderr, want)
		}
		if got := ns.IP("xfrm", "state"); got != "" {
			t.Errorf("a refused add left states:\n%s", got)
		}
		if r := ns.Ipsec("spi"); r.Code != 0 || r.Stdout != "" {
			t.Errorf("listing of no SAs: exit %d, %q %q", r.Code, r.Stdout, r.Stderr)
		}
		return
	}
	// The kernel has ESP: the SA is there for ip xfrm and for ipsec spi.
	state := strings.Join(strings.Fields(ns.IP("xfrm", "state")), " ")
	for _, want := range []string{"src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x00000201 reqid 0 mode transport",
		"auth-trunc hmac(sha256)", "128", "enc cbc(aes)"} {
		if !strings.Contains(state, want) {
			t.Errorf("ip xfrm state lacks %q:\n%s", want, state)
		}
	}
	if r := ns.Ipsec("spi"); !strings.HasPrefix(r.Stdout, "esp0x201@192.0.2.2 ESP_AES_HMAC_SHA2_256: dir=out src=192.0.2.1 iv_bits=128bits alen=256 aklen=256 eklen=128 ") {
		t.Errorf("listing: %q", r.Stdout)
	}
	if r := ns.Ipsec(add...); r.Code != 1 || !strings.Contains(r.Stderr, "SA already in use.  Delete old one first.") {
		t.Errorf("second add: exit %d, %q", r.Code, r.Stderr)
	}
	if r := ns.Ipsec("spigrp", "inet", "192.0.2.2", "0x200", "tun", "inet", "192.0.2.2", "0x201", "esp"); r.Code != 0 {
		t.Fatalf("spigrp: %d %q", r.Code, r.Stderr)
	}
	if state := ns.IP("xfrm", "state"); !strings.Contains(state, "reqid 512 mode tunnel") {
		t.Errorf("after spigrp, ip xfrm state:\n%s", state)
	}
	if r := ns.Ipsec("spi", "--said", "tun.200@192.0.2.2", "--del"); r.Code != 0 || ns.IP("xfrm", "state") != "" {
		t.Errorf("--del of the group: %d %q", r.Code, r.Stderr)
	}
}

// Without CAP_NET_ADMIN, ipsec spi and spigrp changes say so in the
// command's words, not with the permission error of the lock file only
// root may take, and change nothing.
func TestSpiWithoutPrivilege(t *testing.T) {
	ns := newNS(t, "")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("skipped: needs setpriv(1) from util-linux to drop privileges")
	}
	ns.Ipsec("spi", "--version") // builds bin/ipsec
	for _, args := range [][]string{
		{"spi", "--clear"},
		{"spigrp", "inet", "192.0.2.1", "0x200", "esp", "inet", "192.0.2.1", "0x201", "ah"},
	} {
		r := ns.Exec("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", ipsecPath}, args...)...)
		if want := args[0] + ": access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.\n"; r.Code != 1 || r.Stderr != want {
			t.Errorf("unprivileged ipsec %v: exit %d, stderr %q, want %q", args, r.Code, r.Stderr, want)
		}
	}
	if got := ns.IP("xfrm", "state"); got != "" {
		t.Errorf("an unprivileged command changed the SAs:\n%s", got)
	}
}
