package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/eroute/eroute/internal/errline"
	"github.com/eroute/eroute/pkg/eroute"
)

// Table is what the command needs of the kernel's policy table. xfrm.Table
// implements it; tests use a fake.
type Table interface {
	Add(eroute.Eroute) error
	Replace(eroute.Eroute) error
	// Clear deletes eroute's own outbound policies; all: every outbound
	// policy the listing shows.
	Clear(all bool) error
	List() ([]eroute.Eroute, error)
	// Walk gives the listing one eroute at a time, in List's order, without
	// holding the table as eroutes.
	Walk(fn func(eroute.Eroute) error) error
	// WalkEntries is Walk with who made each policy and what the kernel
	// holds of it (the JSON listing).
	WalkEntries(fn func(Entry) error) error
	AddInbound(e eroute.Eroute, replace bool) error
	// Lookup gives the policy a delete or replace by this exact selector
	// reaches (no mark), false when there is none.
	Lookup(sel eroute.Selector, inbound bool) (Entry, bool, error)
	// Find gives every policy listed with this selector (marks too).
	Find(sel eroute.Selector, inbound bool) ([]Entry, error)
	// DeleteEntries deletes policies Lookup or Find gave.
	DeleteEntries([]Entry) error
	// Shadow gives the foreign policy that takes an eroute's packets
	// before it, if it can tell cheaply; nil when none.
	Shadow(eroute.Eroute) (*Entry, error)
	// Apply carries out a batch, all or nothing; a *BatchError names the
	// op the kernel refused (or a *ForeignError, the op refused before
	// anything was sent).
	Apply(ops []Op) error
	// Snapshot reads the whole table once, for --sync to plan from and
	// apply against.
	Snapshot() (Snapshot, error)
	// InboundEntries gives the inbound policies, sorted as the listing
	// is; Own for those --addin made.
	InboundEntries() ([]Entry, error)
	// Holds gives the holds eroute --monitor put.
	Holds() ([]Hold, error)
	Close() error
}

// Snapshot is the table as one reading saw it: the listing with, for each
// policy, whether eroute made it, and Apply as the table's, which takes
// what it must know of the table (to undo) from the snapshot rather than
// reading the whole table again.
type Snapshot interface {
	Entries
	// IndexSelectors prepares Match, so that the goroutine that took
	// the snapshot does that work rather than the one that matches.
	IndexSelectors()
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
// on Stderr, and 2 for --sync --detailed-exitcode when the table needed
// changes.
func Run(args []string, env Env) int {
	req, err := env.Parser.Parse(args)
	prog := progName(req)
	if err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	if req.Debug {
		// On standard error, so that what standard output carries (the
		// listing, JSON lines, a --dry-run plan) stays valid.
		fmt.Fprintf(env.Stderr, "%s: DEBUG: %s\n", Prog, describe(req))
	}
	err = execute(req, env, noter(env.Stderr, prog))
	if errors.Is(err, ErrChanged) {
		return ExitChanged
	}
	if err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	return 0
}

// report writes the one line of an error (see errline.Write: control
// characters as Go escapes, so that it stays one line).
func report(w io.Writer, prog string, err error) { errline.Write(w, prog, err) }

// Report is report for the other commands of the suite (ipsec spi and
// spigrp): the same one line, the same escapes.
func Report(w io.Writer, prog string, err error) { errline.Write(w, prog, err) }

// execute runs the request's command (see commands): on the namespace's
// table, opened for it, and locked first for a writer that does not take
// the lock itself.
func execute(req Request, env Env, note func(string)) error {
	cmd := commandOf(req.Action)
	if !cmd.opensTable {
		return cmd.run(req, env, nil, note)
	}
	t, err := env.Open(req.Netns)
	if err != nil {
		return err
	}
	defer t.Close()
	if writes(req) && cmd.writes == writesLocked {
		unlock, err := lockWriters(req, env)
		if err != nil {
			return err
		}
		defer unlock()
	}
	return cmd.run(req, env, t, note)
}

// listingWriter is a Table that writes the listing's text itself, faster
// than Walk and AppendLine (xfrm.Table does).
type listingWriter interface {
	WriteListing(w io.Writer) error
}

// list prints the table, the KLIPS lines. It streams: a table of 100,000
// eroutes is never held as text.
func list(t Table, out io.Writer) error {
	if lw, ok := t.(listingWriter); ok {
		return lw.WriteListing(out)
	}
	w := bufio.NewWriterSize(out, 64*1024)
	var line []byte
	err := t.Walk(func(e eroute.Eroute) error {
		line = append(e.AppendLine(line[:0]), '\n')
		_, err := w.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// listJSON prints the table as JSON lines: the listing's fields, and what
// the kernel holds of each policy (see entryJSON).
func listJSON(t Table, out io.Writer) error {
	w := bufio.NewWriterSize(out, 64*1024)
	enc := json.NewEncoder(w)
	err := t.WalkEntries(func(e Entry) error {
		return enc.Encode(jsonOf(e))
	})
	if err != nil {
		return err
	}
	return w.Flush()
}

// entryJSON is one object of the JSON listing: the eroute's fields, then
// who made the policy ("eroute" or "foreign"), the kernel's priority and
// index, the mark and if_id when set, each template, and for an eroute a
// foreign policy would take its packets first from, that policy.
type entryJSON struct {
	eroute.JSON
	Owner      string         `json:"owner"`
	Priority   uint32         `json:"priority"`
	Index      uint32         `json:"index"`
	Mark       *markJSON      `json:"mark,omitempty"`
	IfID       uint32         `json:"if_id,omitempty"`
	Templates  []templateJSON `json:"templates"`
	ShadowedBy *holderJSON    `json:"shadowed_by,omitempty"`
}

type markJSON struct {
	Value uint32 `json:"value"`
	Mask  uint32 `json:"mask"`
}

type templateJSON struct {
	Proto uint8  `json:"proto"`
	Mode  string `json:"mode"`
	SPI   uint32 `json:"spi"`
	Reqid uint32 `json:"reqid"`
	Src   string `json:"src"`
	Dst   string `json:"dst"`
}

type holderJSON struct {
	Src      string `json:"src"`
	Dst      string `json:"dst"`
	SAID     string `json:"said"`
	Owner    string `json:"owner"`
	Priority uint32 `json:"priority"`
	Index    uint32 `json:"index"`
}

func ownerName(own bool) string {
	if own {
		return "eroute"
	}
	return "foreign"
}

func jsonOf(e Entry) entryJSON {
	j := entryJSON{JSON: e.Eroute.JSON(), Owner: ownerName(e.Own), Priority: e.Priority, Index: e.Index,
		IfID: e.IfID, Templates: []templateJSON{}}
	if e.Mark != 0 || e.Mask != 0 {
		j.Mark = &markJSON{e.Mark, e.Mask}
	}
	for _, t := range e.Tmpls {
		j.Templates = append(j.Templates, templateJSON{Proto: t.Proto, Mode: t.ModeName(), SPI: t.SPI, Reqid: t.Reqid,
			Src: addrJSON(t.Src), Dst: addrJSON(t.Dst)})
	}
	if h := e.ShadowedBy; h != nil {
		j.ShadowedBy = &holderJSON{Src: h.Src.String(), Dst: h.Dst.String(), SAID: h.SAID.String(),
			Owner: ownerName(h.Own), Priority: h.Priority, Index: h.Index}
	}
	return j
}

func addrJSON(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// describe says what a request will send, for --debug.
func describe(req Request) string {
	cmd := commandOf(req.Action)
	s := cmd.name()
	if cmd.detail != nil {
		s += cmd.detail(req)
	}
	if req.Netns != "" {
		s += " in network namespace " + req.Netns
	}
	return s
}
