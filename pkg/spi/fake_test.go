package spi

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// fakeKernel is an SA table in memory, with XFRM's rules: SAIDs unique,
// and optionally an add that fails (failAdd names the SAID; only its
// grouped form fails, so that an undo can put the old one back).
type fakeKernel struct {
	sas     []SA
	local   []netip.Addr
	failAdd eroute.SAID
	ops     []string
	inbound []eroute.Eroute
}

func (k *fakeKernel) SAs() ([]SA, error) {
	out := make([]SA, len(k.sas))
	copy(out, k.sas)
	return out, nil
}

func (k *fakeKernel) AddSA(sa SA) error {
	if sa.SAID == k.failAdd && sa.Reqid != 0 {
		return errors.New("refused")
	}
	for _, s := range k.sas {
		if s.SAID == sa.SAID {
			return ErrSAExists
		}
	}
	sa.Inbound = false
	k.sas = append(k.sas, sa)
	k.ops = append(k.ops, "add "+sa.SAID.String())
	return nil
}

func (k *fakeKernel) DeleteSA(id eroute.SAID) error {
	for i, s := range k.sas {
		if s.SAID == id {
			k.sas = append(k.sas[:i], k.sas[i+1:]...)
			k.ops = append(k.ops, "del "+id.String())
			return nil
		}
	}
	return ErrSANotFound
}

func (k *fakeKernel) FlushSAs() error                           { k.sas = nil; return nil }
func (k *fakeKernel) LocalAddrs() ([]netip.Addr, error)         { return k.local, nil }
func (k *fakeKernel) Close() error                              { return nil }
func (k *fakeKernel) InboundPolicies() ([]eroute.Eroute, error) { return k.inbound, nil }

// byID gives the SA with this SAID text.
func (k *fakeKernel) byID(t *testing.T, text string) *SA {
	t.Helper()
	id := said(t, text)
	for i := range k.sas {
		if k.sas[i].SAID == id {
			return &k.sas[i]
		}
	}
	return nil
}

func said(t *testing.T, text string) eroute.SAID {
	t.Helper()
	id, err := eroute.ParseSAID(text, nil)
	if err != nil {
		t.Fatalf("ParseSAID(%q): %v", text, err)
	}
	return id
}

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// run runs a command line (spi or spigrp first) against k.
func run(k *fakeKernel, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	env := Env{
		Stdout: &out, Stderr: &errb,
		Open: func(string) (Kernel, error) { return k, nil },
		Now:  func() time.Time { return testNow },
	}
	if args[0] == "spigrp" {
		code = RunSpigrp(args[1:], env)
	} else {
		code = RunSpi(args[1:], env)
	}
	return code, out.String(), errb.String()
}

// must runs a command line that must succeed.
func must(t *testing.T, k *fakeKernel, line string) string {
	t.Helper()
	code, out, errs := run(k, strings.Fields(line)...)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", line, code, errs)
	}
	return out
}

// A caller that may not take the SA lock (not root: the lock directory is
// root's) goes on without it, and the kernel decides, as eroute's writers
// do; any other failure of the lock stops the change.
func TestLockRefusedForNonRoot(t *testing.T) {
	for _, c := range []struct {
		lockErr  error
		code     int
		inStderr string
	}{
		{fmt.Errorf("nslock: /run/eroute/x.sa.lock: %w", fs.ErrPermission), 0, ""},
		{errors.New("nslock: busy"), 1, "nslock: busy"},
	} {
		k := &fakeKernel{}
		var out, errb bytes.Buffer
		env := Env{
			Stdout: &out, Stderr: &errb,
			Open: func(string) (Kernel, error) { return k, nil },
			Now:  func() time.Time { return testNow },
			Lock: func(string) (func(), error) { return nil, c.lockErr },
		}
		code := RunSpi(strings.Fields("--clear"), env)
		if code != c.code || !strings.Contains(errb.String(), c.inStderr) {
			t.Errorf("lock %v: exit %d, stderr %q; want %d with %q", c.lockErr, code, errb.String(), c.code, c.inStderr)
		}
	}
}
