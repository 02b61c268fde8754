package spi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"time"

	"github.com/eroute/eroute/internal/errline"
	"github.com/eroute/eroute/pkg/eroute"
)

// Kernel is what the SA commands need of the kernel's SA table (the XFRM
// states of one network namespace). xfrm.Table implements it; tests use a
// fake. Every method acts on one SA; the commands compose them (groups,
// deletes of a group) and undo what they did when one fails.
type Kernel interface {
	// SAs gives every ESP, AH and IPCOMP SA, keys included (a regroup
	// adds them again), Inbound not set.
	SAs() ([]SA, error)
	// AddSA adds an SA; ErrSAExists when its SAID is taken.
	AddSA(SA) error
	// DeleteSA deletes one SA by SAID; ErrSANotFound when there is none.
	DeleteSA(eroute.SAID) error
	// FlushSAs deletes every ESP, AH and IPCOMP SA.
	FlushSAs() error
	// LocalAddrs gives the addresses of the namespace's interfaces.
	LocalAddrs() ([]netip.Addr, error)
	// InboundPolicies gives the in policies (eroute --addin) as eroutes:
	// the listing shows each on the tun SA it names, as KLIPS did.
	InboundPolicies() ([]eroute.Eroute, error)
	Close() error
}

// Env is the world a command runs in.
type Env struct {
	Stdout, Stderr io.Writer
	// Open opens the SA table of a network namespace ("" the caller's).
	Open     func(netns string) (Kernel, error)
	Resolver eroute.Resolver
	Now      func() time.Time
	// Lock, when set, serialises the commands that change a namespace's
	// SAs (a regroup reads, deletes and adds): it returns the release.
	Lock func(netns string) (func(), error)
	// Self is the ipsec front end the lines of --save run; "" is ipsec.
	Self string
}

// lock takes env's lock for a change, if there is one. A caller that may
// not take it (not root: the lock directory is root's) goes on without
// it, as eroute's writers do: the kernel then decides whether it may
// change the SAs at all, and says so in the command's words.
func (env Env) lock(netns string) (func(), error) {
	if env.Lock == nil {
		return func() {}, nil
	}
	release, err := env.Lock(netns)
	if errors.Is(err, fs.ErrPermission) {
		return func() {}, nil
	}
	return release, err
}

// VersionString is the release; the Makefile sets it with -ldflags -X.
var VersionString = "1.0.0"

// report writes one error line, as eroute's errors are written.
func report(w io.Writer, prog string, err error) { errline.Write(w, prog, err) }

// progName is the message prefix: prog, or "prog --label TEXT".
func progName(prog, label string) string {
	if label != "" {
		return prog + " --label " + label
	}
	return prog
}

// withSAs runs fn on the SAs of the namespace with their direction set.
func withSAs(k Kernel, fn func([]SA) error) error {
	sas, err := k.SAs()
	if err != nil {
		return err
	}
	local, err := k.LocalAddrs()
	if err != nil {
		return err
	}
	for i := range sas {
		for _, a := range local {
			if sas[i].SAID.Dst == a {
				sas[i].Inbound = true
			}
		}
	}
	return fn(sas)
}

// writeLines writes lines, each ended by a newline, through one buffer.
func writeLines(out io.Writer, lines []string) error {
	w := bufio.NewWriter(out)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	return w.Flush()
}

// apply carries out a plan: each change is a delete of the old SA and an
// add of the new (XFRM cannot change an SA's mode or reqid in place). When
// one fails, what was done is undone, newest first, and the error names
// the SA.
func apply(k Kernel, changes []Change) error {
	for i, c := range changes {
		if err := replaceSA(k, c.Old, c.New); err != nil {
			for j := i - 1; j >= 0; j-- {
				replaceSA(k, changes[j].New, changes[j].Old)
			}
			return fmt.Errorf("%s: %w", c.New.SAID.AFString(), err)
		}
	}
	return nil
}

// replaceSA deletes old and adds new; if the add fails, old goes back.
func replaceSA(k Kernel, old, new SA) error {
	if err := k.DeleteSA(old.SAID); err != nil {
		return err
	}
	if err := k.AddSA(new); err != nil {
		if rerr := k.AddSA(old); rerr != nil {
			return fmt.Errorf("%v; and %s could not be restored: %v", err, old.SAID.AFString(), rerr)
		}
		return err
	}
	return nil
}

// errUsage marks an error after which the usage is worth reading.
var errUsage = errors.New("usage")
