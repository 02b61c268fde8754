package cli

import (
	"os"
	"strings"
	"testing"
)

// The eroute(8) page must cover every option the program has.
func TestManPageCoversEveryOption(t *testing.T) {
	page, err := os.ReadFile("../../docs/eroute.8")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range longOptions {
		// roff writes "--name" as "\-\-name".
		if !strings.Contains(string(page), `\-\-`+strings.ReplaceAll(o.name, "-", `\-`)) {
			t.Errorf("docs/eroute.8 does not mention --%s", o.name)
		}
	}
}
