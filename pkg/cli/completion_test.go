package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	bashCompletion   = "/usr/share/bash-completion/bash_completion"
	erouteCompletion = "../../packaging/bash-completion/eroute"
)

// complete runs the bash completion of eroute for a command line whose
// last word is being typed, with bash-completion loaded as in an
// interactive shell, and gives COMPREPLY. setup is shell run first (to
// stand in for ip, or to cd).
func complete(t *testing.T, setup string, words ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Skipf("bash-completion is not installed (%s); scripts/deps.sh installs it", bashCompletion)
	}
	script := `source "$1"; source "$2"; ` + setup + `
shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
_eroute
printf '%s\n' "${COMPREPLY[@]}"`
	args := append([]string{"-c", script, "bash", bashCompletion, erouteCompletion}, words...)
	out, err := exec.Command("bash", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("completing %q: %v: %s", words, err, out)
	}
	var reply []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l != "" {
			reply = append(reply, l)
		}
	}
	return reply
}

// TestBashCompletionOptions: every option eroute takes is offered, and
// only those; a prefix narrows them.
func TestBashCompletionOptions(t *testing.T) {
	var want []string
	for _, o := range longOptions {
		want = append(want, "--"+o.name)
	}
	slices.Sort(want)
	got := complete(t, "", "eroute", "")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("options offered:\n%q\nwant:\n%q", got, want)
	}
	if got := complete(t, "", "eroute", "--add", "--src", "10.0.0.0/8", "--sa"); !slices.Equal(got, []string{"--said", "--save"}) {
		t.Errorf("--sa gives %q", got)
	}
	if got := complete(t, "", "eroute", "--src", ""); len(got) != 0 {
		t.Errorf("after --src (an address of the user's own): %q", got)
	}
}

// TestBashCompletionValues: the magic SAIDs after --said (also as
// --said=), families, protocols.
func TestBashCompletionValues(t *testing.T) {
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{"eroute", "--said", "%pass"}, []string{"%pass", "%passthrough", "%passthrough4", "%passthrough6"}},
		{[]string{"eroute", "--said", "%tr"}, []string{"%trap", "%trapsubnet"}},
		{[]string{"eroute", "--said=%dr"}, []string{"%drop"}},
		{[]string{"eroute", "--eraf", ""}, []string{"inet", "inet6"}},
		{[]string{"eroute", "--proto", "t"}, []string{"tun"}},
	}
	for _, c := range cases {
		got := complete(t, "", c.words...)
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.words, got, c.want)
		}
	}
}

// TestBashCompletionNetns: --netns offers the names ip netns list gives
// (with their "(id: N)" left off).
func TestBashCompletionNetns(t *testing.T) {
	fakeIP := `ip() { [ "$*" = "netns list" ] && printf 'blue (id: 1)\nbluegreen\nred (id: 0)\n'; }`
	if got := complete(t, fakeIP, "eroute", "--netns", "bl"); !slices.Equal(got, []string{"blue", "bluegreen"}) {
		t.Errorf("--netns bl: %q", got)
	}
	if got := complete(t, fakeIP, "eroute", "--netns", ""); len(got) != 3 {
		t.Errorf("--netns: %q", got)
	}
	if os.Geteuid() != 0 {
		return // the real ip needs root to make a namespace
	}
	name := fmt.Sprintf("eroute-comp-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	if got := complete(t, "", "eroute", "--netns", name[:len(name)-1]); !slices.Contains(got, name) {
		t.Errorf("--netns with the real ip: %q, want %s among them", got, name)
	}
}

// TestBashCompletionFiles: file names after --batch and --sync, and "-"
// (standard input) when nothing is typed yet.
func TestBashCompletionFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"eroutes.conf", "eroutes.old", "other"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cd := "cd " + dir
	for _, opt := range []string{"--batch", "--sync"} {
		got := complete(t, cd, "eroute", opt, "ero")
		slices.Sort(got)
		if !slices.Equal(got, []string{"eroutes.conf", "eroutes.old"}) {
			t.Errorf("%s ero: %q", opt, got)
		}
		if got := complete(t, cd, "eroute", opt, ""); !slices.Contains(got, "-") || !slices.Contains(got, "other") {
			t.Errorf("%s: %q", opt, got)
		}
	}
}
