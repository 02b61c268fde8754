package xfrm

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGuardStateOfAnotherNamespace: a state file whose cookie is not the
// namespace's was left by a dead namespace whose inode this one reuses; it
// is removed, not applied.
func TestGuardStateOfAnotherNamespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	body := "# comment\nnetns-cookie 4\n4242 10.1.0.0/16 10.2.0.0/16 0 0 0 %trap\n"
	for _, tt := range []struct {
		cookie uint64
		want   int
	}{{4, 1}, {5, 0}} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		g := &Guard{path: path, cookie: tt.cookie, taken: map[uint32]takeover{}}
		if err := g.load(); err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(path)
		if len(g.taken) != tt.want || (tt.want == 0) != os.IsNotExist(statErr) {
			t.Errorf("cookie %d: %d take-overs read, file: %v; want %d", tt.cookie, len(g.taken), statErr, tt.want)
		}
		if tk := g.taken[4242]; tt.want == 1 && tk.Eroute.SAID.String() != "%trap" {
			t.Errorf("read %v", tk)
		}
	}
}
