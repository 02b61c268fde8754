package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// VM_SUITE names the script the VM runs, and only that: building the image
// for a custom suite on a fresh machine must debootstrap the Debian release
// (VM_DEBIAN_SUITE, bookworm by default), not the script's name (issue 10,
// item 12). A stand-in debootstrap records its arguments and stops the build.
func TestVMImageIgnoresSuiteScript(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: build-image.sh runs only as root")
	}
	for _, tool := range []string{"mkfs.ext4", "chroot", "flock"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s missing (scripts/deps-vm.sh installs it)", tool)
		}
	}
	for _, tc := range []struct{ env, want string }{
		{"", "bookworm"},
		{"VM_DEBIAN_SUITE=trixie", "trixie"},
	} {
		dir := t.TempDir()
		args := filepath.Join(dir, "debootstrap.args")
		fake := filepath.Join(dir, "bin", "debootstrap")
		os.MkdirAll(filepath.Dir(fake), 0o755)
		script := "#!/bin/sh\necho \"$@\" >" + args + "\nexit 1\n"
		if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("../scripts/vm/build-image.sh")
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Dir(fake)+":"+os.Getenv("PATH"),
			"VM_CACHE="+filepath.Join(dir, "cache"),
			"VM_MIRROR=http://mirror.invalid/debian",
			"VM_SUITE=my-suite.sh")
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("build-image.sh succeeded with a debootstrap that fails:\n%s", out)
		}
		got, rerr := os.ReadFile(args)
		if rerr != nil {
			t.Fatalf("debootstrap was not run (%v):\n%s", rerr, out)
		}
		fields := strings.Fields(string(got))
		if !slices.Contains(fields, tc.want) || slices.Contains(fields, "my-suite.sh") {
			t.Errorf("%s: debootstrap %s, want the release %s and never the suite script", tc.env, got, tc.want)
		}
	}
}
