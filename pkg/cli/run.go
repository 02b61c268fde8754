package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// Table is what the command needs of the kernel's policy table. xfrm.Table
// implements it; tests use a fake.
type Table interface {
	Add(eroute.Eroute) error
	Replace(eroute.Eroute) error
	Delete(eroute.Selector) error
	Clear() error
	List() ([]eroute.Eroute, error)
	// Walk gives the listing one eroute at a time, in List's order, without
	// holding the table as eroutes.
	Walk(fn func(eroute.Eroute) error) error
	AddInbound(e eroute.Eroute, replace bool) error
	DeleteInbound(eroute.Selector) error
	// Apply carries out a batch, all or nothing; a *BatchError names the
	// op the kernel refused.
	Apply(ops []Op) error
	// Snapshot reads the whole table once, for --sync to plan from and
	// apply against.
	Snapshot() (Snapshot, error)
	Close() error
}

// Snapshot is the table as one reading saw it: the listing with, for each
// policy, whether eroute made it, and Apply as the table's, which takes
// what it must know of the table (to undo) from the snapshot rather than
// reading the whole table again.
type Snapshot interface {
	Entries
	Apply(ops []Op) error
	Close() error
}

// Env is the world the command runs in.
type Env struct {
	Stdin          io.Reader // for --batch - and --sync -
	Stdout, Stderr io.Writer
	// Open opens the table of a network namespace ("" for the caller's own).
	Open func(netns string) (Table, error)
	// OpenMonitor starts listening for ACQUIREs in a namespace (rcvbuf 0:
	// the kernel's default socket buffer).
	OpenMonitor func(netns string, rcvbuf int) (MonitorKernel, error)
	Parser      Parser
	// LockTable takes the write lock of a namespace's table (see
	// lockWriters), trying for up to wait; a *nslock.BusyError when
	// another process holds it. Nil: writers take no lock.
	LockTable func(netns string, wait time.Duration) (release func() error, err error)
}

// Prog is the name messages start with.
const Prog = "eroute"

// Run carries out one command line (without the program name) and gives the
// exit status: 0 for success, 1 for any error, which is reported as one line
// on Stderr.
func Run(args []string, env Env) int {
	req, err := env.Parser.Parse(args)
	prog := progName(req)
	if err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	switch req.Action {
	case Help:
		io.WriteString(env.Stdout, usage)
		return 0
	case Version:
		fmt.Fprintf(env.Stdout, "ipsec eroute %s\n%s\n", VersionString, versionNote)
		return 0
	}
	if req.Debug {
		// On standard error, so that what standard output carries (the
		// listing, JSON lines, a --dry-run plan) stays valid.
		fmt.Fprintf(env.Stderr, "%s: DEBUG: %s\n", Prog, describe(req))
	}
	if req.Action == Monitor {
		err = runMonitor(req, env, prog)
	} else {
		err = execute(req, env)
	}
	if err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	return 0
}

// report writes the one line of an error. Messages quote the values they
// refuse, which may hold any byte: control characters are written as Go
// escapes (\n, \t, \x1b), so that the message stays one line and cannot
// drive the terminal.
func report(w io.Writer, prog string, err error) {
	line := prog + ": " + err.Error()
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

func execute(req Request, env Env) error {
	t, err := env.Open(req.Netns)
	if err != nil {
		return err
	}
	defer t.Close()
	if writes(req) && req.Action != Batch { // a batch locks once its file is checked
		unlock, err := lockWriters(req, env)
		if err != nil {
			return err
		}
		defer unlock()
	}
	e := req.Eroute
	switch req.Action {
	case Add:
		return t.Add(e)
	case Replace:
		return t.Replace(e)
	case Delete:
		return t.Delete(e.Selector)
	case Clear:
		return t.Clear()
	case AddInbound, ReplaceInbound:
		return t.AddInbound(e, req.Action == ReplaceInbound)
	case DeleteInbound:
		return t.DeleteInbound(e.Selector)
	case Batch:
		return runBatch(req, env, t)
	case Sync:
		return runSync(req, env, t)
	}
	return list(t, env.Stdout, req.JSON)
}

// list prints the table: the KLIPS lines, or with --json one JSON object a
// line with the same fields. It streams: a table of 100,000 eroutes is never
// held as text.
func list(t Table, out io.Writer, asJSON bool) error {
	w := bufio.NewWriterSize(out, 64*1024)
	enc := json.NewEncoder(w)
	var line []byte
	err := t.Walk(func(e eroute.Eroute) error {
		if asJSON {
			return enc.Encode(e)
		}
		line = append(e.AppendLine(line[:0]), '\n')
		_, err := w.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// describe says what a request will send, for --debug.
func describe(req Request) string {
	s := "list"
	if req.Action != List {
		s = actionName(req.Action)
	}
	switch req.Action {
	case Add, Replace, AddInbound, ReplaceInbound:
		s += " " + req.Eroute.Selector.String() + " => " + req.Eroute.SAID.String()
	case Delete, DeleteInbound:
		s += " " + req.Eroute.Selector.String()
	case Batch, Sync:
		s += " " + req.File
		if req.DryRun {
			s += " (dry run)"
		}
	case Monitor:
		s += fmt.Sprintf(" (holds for %v)", req.HoldTimeout)
	}
	if req.Netns != "" {
		s += " in network namespace " + req.Netns
	}
	return s
}
