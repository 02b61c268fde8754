package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCommandTable walks the commands so that the table cannot drift from
// what the program and its documents offer: one command per action, each
// chosen by its option, complete for its form, and named in the usage,
// in eroute(8) and in the bash completion.
func TestCommandTable(t *testing.T) {
	page := readDoc(t, "../../docs/eroute.8")
	completion := readDoc(t, erouteCompletion)
	seen := map[Action]bool{}
	for i, c := range commands {
		name := c.name()
		if seen[c.action] {
			t.Errorf("%s: a second command for action %d", name, c.action)
		}
		seen[c.action] = true
		if commandOf(c.action) != &commands[i] {
			t.Errorf("%s: commandOf gives another command", name)
		}
		checkCommandComplete(t, c)
		if c.option == noOption {
			continue
		}
		if o := longOptions[c.option]; o.id != c.option || o.name == "" {
			t.Errorf("%s: its option %d has no entry of its own in longOptions", name, c.option)
		}
		if actionOf[c.option] != c.action {
			t.Errorf("--%s does not choose its command", name)
		}
		if !usageMentions(usage, name) {
			t.Errorf("the usage does not mention --%s", name)
		}
		if !strings.Contains(page, `\-\-`+strings.ReplaceAll(name, "-", `\-`)) {
			t.Errorf("docs/eroute.8 does not mention --%s", name)
		}
		if !regexp.MustCompile(`(?m)compgen -W '[^']*--` + name + `\b[^-]`).MatchString(completion) {
			t.Errorf("the bash completion does not offer --%s", name)
		}
	}
	for a := Action(0); a < numActions; a++ {
		if !seen[a] {
			t.Errorf("action %d has no command", a)
		}
	}
	for id, a := range actionOf {
		if a != List && commandOf(a).option != optID(id) {
			t.Errorf("--%s chooses %s, whose option is another", optID(id), commandOf(a).name())
		}
	}
}

// checkCommandComplete checks that a command has what its form and its
// marks need.
func checkCommandComplete(t *testing.T, c command) {
	t.Helper()
	name := c.name()
	if c.run == nil {
		t.Errorf("%s: nothing runs it", name)
	}
	if (c.inBatch || c.inSync) && c.op == 0 {
		t.Errorf("%s: a batch line without an op", name)
	}
	if c.writes != readsOnly && !c.opensTable {
		t.Errorf("%s: writes a table it does not open", name)
	}
	refuses := c.form == formNone || c.form == formFile
	if c.action != List && c.action != Help && c.action != Version && refuses != (strings.Count(c.refusal, "%s") == 1) {
		t.Errorf("%s: refusal %q does not fit its form", name, c.refusal)
	}
}

// usageMentions tells whether the usage names an option, as --name or in
// a --{name,...} list.
func usageMentions(usage, name string) bool {
	if regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `([^a-z-]|$)`).MatchString(usage) {
		return true
	}
	for _, list := range regexp.MustCompile(`--\{([a-z,-]+)\}`).FindAllStringSubmatch(usage, -1) {
		for _, n := range strings.Split(list[1], ",") {
			if n == name {
				return true
			}
		}
	}
	return false
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
