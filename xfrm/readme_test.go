package xfrm

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The program of the README's "Using the Go packages" builds against the
// API as it is.
func TestReadmeProgramBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Using the Go packages")
	_, code, ok2 := strings.Cut(section, "```go\n")
	code, _, ok3 := strings.Cut(code, "```")
	if !ok || !ok2 || !ok3 || !strings.Contains(code, "package main") {
		t.Fatal("README.md has no Go program under \"Using the Go packages\"")
	}
	// Inside the module, so that the program builds against this tree.
	dir, err := os.MkdirTemp("..", ".readme-program-")
	if errors.Is(err, fs.ErrPermission) {
		t.Skip("cannot write into the module:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool, "vet", ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("the README's program does not build: %v\n%s", err, out)
	}
}

// A program that uses the library does not take the command lines with
// it: xfrm imports neither pkg/cli nor pkg/spi (the SA model is pkg/sadb).
func TestLibraryWithoutTheCommandLine(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/pkg/cli") || strings.HasSuffix(dep, "/pkg/spi") {
			t.Errorf("xfrm depends on %s", dep)
		}
	}
}
