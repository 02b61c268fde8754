package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const playbook = "../docs/examples/ansible/eroutes.yml"

// ansibleRun is one ansible-playbook run as its default output tells it
// (ansible-core has no json callback; ansible.posix's is not in Debian's
// ansible-core): each task's result on localhost, and whether the play
// failed.
type ansibleRun struct {
	tasks  map[string]ansibleResult
	failed bool
	output string
}

type ansibleResult struct {
	Status  string // ok, changed, fatal, skipping
	Changed bool
	Failed  bool
	Msg     string `json:"msg"`
	Stderr  string `json:"stderr"`
}

// runPlaybook runs the example playbook against localhost (-c local), on
// namespace ns, with src as the eroutes file and dest as the gateway's copy.
func runPlaybook(t *testing.T, ns *NS, src, dest string) ansibleRun {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command("ansible-playbook", "-c", "local", "-i", "localhost,", playbook,
		"-e", "eroute_hosts=localhost", "-e", "eroute_become=false",
		"-e", "eroute_netns="+ns.Name, "-e", "eroute_src="+src, "-e", "eroute_dest="+dest,
		"-e", "eroute_bin="+eroutePath)
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0",
		"ANSIBLE_LOCALHOST_WARNING=False", "ANSIBLE_LOCAL_TEMP="+filepath.Join(tmp, "local"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(tmp, "remote"), "ANSIBLE_RETRY_FILES_ENABLED=False")
	out, err := cmd.CombinedOutput()
	r := ansibleRun{tasks: map[string]ansibleResult{}, failed: err != nil, output: string(out)}
	task := ""
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(line, "TASK ["); ok {
			task, _, _ = strings.Cut(name, "] ")
			continue
		}
		status, rest, ok := strings.Cut(line, ": [localhost]")
		if task == "" || !ok || strings.Contains(status, " ") {
			continue
		}
		res := ansibleResult{Status: status, Changed: status == "changed", Failed: status == "fatal"}
		if _, result, ok := strings.Cut(rest, "=> "); ok && res.Failed {
			if jerr := json.Unmarshal([]byte(result), &res); jerr != nil {
				t.Fatalf("the result of %q does not decode: %v: %s", task, jerr, result)
			}
		}
		r.tasks[task] = res
		task = ""
	}
	if len(r.tasks) == 0 {
		t.Fatalf("ansible-playbook: %v; no task results in its output:\n%s", err, out)
	}
	return r
}

const (
	taskCopy = "the eroutes file, checked by eroute before it replaces the old one"
	taskSync = "eroute --sync"
)

// TestAnsiblePlaybook runs docs/examples/ansible/eroutes.yml with Debian's
// ansible-core against a namespace: the first run changes the table, the
// second changes nothing and says so, a new file changes it again, and a
// file eroute refuses fails the play with eroute's message, leaving the
// table and the gateway's file as they were.
func TestAnsiblePlaybook(t *testing.T) {
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		t.Skip("skipped: ansible-playbook is not installed (Debian's ansible-core; scripts/deps.sh installs it)")
	}
	ns := newNS(t, "")
	dir := t.TempDir()
	src := filepath.Join(dir, "eroutes.conf")
	dest := filepath.Join(dir, "gateway", "etc", "eroute", "eroutes.conf")
	write := func(text string) {
		if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first := "--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said tun0x135@192.0.2.2\n" +
		"--add --src 10.1.0.0/16 --dst 10.3.0.0/16 --said %drop\n" +
		"--addin --src 10.2.0.0/16 --dst 10.1.0.0/16 --said tun0x136@192.0.2.1\n"
	listing := "0          10.1.0.0/16        -> 10.2.0.0/16        => tun0x135@192.0.2.2\n" +
		"0          10.1.0.0/16        -> 10.3.0.0/16        => %drop\n"
	write(first)

	r := runPlaybook(t, ns, src, dest)
	if r.failed || !r.tasks[taskSync].Changed || !r.tasks[taskCopy].Changed {
		t.Fatalf("first run: failed %v, sync changed %v, copy changed %v\n%s", r.failed, r.tasks[taskSync].Changed, r.tasks[taskCopy].Changed, r.output)
	}
	if got := ns.Listing(); got != listing {
		t.Fatalf("after the first run:\n%s\nwant:\n%s", got, listing)
	}
	if in := ns.IP("xfrm", "policy", "list", "dir", "in"); !strings.Contains(in, "src 10.2.0.0/16 dst 10.1.0.0/16") {
		t.Fatalf("after the first run, no inbound policy:\n%s", in)
	}

	r = runPlaybook(t, ns, src, dest)
	if r.failed || r.tasks[taskSync].Changed || r.tasks[taskCopy].Changed {
		t.Fatalf("second run: failed %v, sync changed %v, copy changed %v, want ok and unchanged\n%s", r.failed, r.tasks[taskSync].Changed, r.tasks[taskCopy].Changed, r.output)
	}
	if got := ns.Listing(); got != listing {
		t.Fatalf("after the second run:\n%s\nwant:\n%s", got, listing)
	}

	// One SAID changed, one eroute gone.
	write("--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %pass\n" +
		"--addin --src 10.2.0.0/16 --dst 10.1.0.0/16 --said tun0x136@192.0.2.1\n")
	r = runPlaybook(t, ns, src, dest)
	listing = "0          10.1.0.0/16        -> 10.2.0.0/16        => %pass\n"
	if r.failed || !r.tasks[taskSync].Changed {
		t.Fatalf("third run: failed %v, sync changed %v\n%s", r.failed, r.tasks[taskSync].Changed, r.output)
	}
	if got := ns.Listing(); got != listing {
		t.Fatalf("after the third run:\n%s\nwant:\n%s", got, listing)
	}
	good, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	policies := ns.IPPolicies()

	// A file eroute refuses: the play fails with eroute's message.
	write("--add --src 10.1.0.0/16 --dst 10.2.0.0/16 --said %pass\n--add --src 10.9.0.0/16 --said %drop\n")
	r = runPlaybook(t, ns, src, dest)
	copyResult := r.tasks[taskCopy]
	wantMsg := "eroute: --sync "
	if !r.failed || !copyResult.Failed || !strings.Contains(copyResult.Stderr+copyResult.Msg, wantMsg) ||
		!strings.Contains(copyResult.Stderr+copyResult.Msg, ": line 2: ") {
		t.Fatalf("a bad file: failed %v, copy failed %v, stderr %q, msg %q; want eroute's message about line 2\n%s",
			r.failed, copyResult.Failed, copyResult.Stderr, copyResult.Msg, r.output)
	}
	if _, ran := r.tasks[taskSync]; ran {
		t.Errorf("eroute --sync ran after the copy failed")
	}
	if got := ns.IPPolicies(); got != policies {
		t.Errorf("a bad file changed the table:\n%s\nwant:\n%s", got, policies)
	}
	if now, _ := os.ReadFile(dest); string(now) != string(good) {
		t.Errorf("a bad file replaced the gateway's file:\n%s", now)
	}
}
