package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// A policy eroute did not make (an IKE daemon's, one written with ip xfrm)
// is foreign. Every command that changes the table acts on eroute's own
// policies only, unless told otherwise (--force, --clear --all, --sync
// --all): a daemon's policy is changed only on the user's explicit word.

// The table's entries, their templates and the refusal of a change to a
// foreign policy are package eroute's, shared with the driver (xfrm).
type (
	// Entry is one policy of the table as the listing shows it, with who
	// made it and what the kernel holds of it besides the eroute.
	Entry = eroute.Entry
	// Template is one template of a policy: the SA a packet must go through.
	Template = eroute.Template
	// ForeignError refuses a change to a policy eroute did not make; the
	// table is unchanged. Its Option names the action refused, for the
	// hint that --force lets it through.
	ForeignError = eroute.ForeignError
)

// Messages the table's own errors carry (KLIPS's texts).
const (
	msgInUse    = "eroute already in use.  Delete old one first."
	msgNotThere = "eroute doesn't exist.  Can't delete."
)

// addOwn carries out --add and --addin: one exclusive add, and only when
// the kernel refuses it as in use, a look at who holds the selector, so
// that an --add costs what it did.
func addOwn(t Table, req Request, note func(string)) error {
	e := req.Eroute
	inbound := req.Action == AddInbound
	var err error
	if inbound {
		err = t.AddInbound(e, false)
	} else {
		err = t.Add(e)
	}
	if err != nil {
		if strings.HasPrefix(err.Error(), msgInUse) {
			if h, ok, lerr := t.Lookup(e.Selector, inbound); lerr == nil && ok && !h.Own {
				return fmt.Errorf("%v (the selector belongs to a policy eroute did not make: %s)", err, h.ListingText())
			}
		}
		return err
	}
	if !inbound {
		noteShadow(t, e, note)
	}
	return nil
}

// replaceOwn carries out --replace and --replacein: refused when the
// policy it would replace is foreign, unless --force.
func replaceOwn(t Table, req Request, note func(string)) error {
	e := req.Eroute
	inbound := req.Action == ReplaceInbound
	if !req.Force {
		h, ok, err := t.Lookup(e.Selector, inbound)
		if err != nil {
			return err
		}
		if ok && !h.Own {
			return &ForeignError{Holder: h, Option: "--" + actionName(req.Action)}
		}
	}
	if inbound {
		return t.AddInbound(e, true)
	}
	if err := t.Replace(e); err != nil {
		return err
	}
	noteShadow(t, e, note)
	return nil
}

// deleteOwn carries out --del and --delin. It deletes what the listing
// shows with the selector given: with host bits, the policy with those
// bits if there is one (eroute's own never have any); else the one a
// delete by selector reaches; else, from a dump, those with a mark, an
// if_id or port masks. Refused when one is foreign, unless --force.
func deleteOwn(t Table, req Request) error {
	inbound := req.Action == DeleteInbound
	sel := req.Eroute.Selector
	var found []Entry
	for _, s := range []eroute.Selector{req.Exact, sel} {
		if s == (eroute.Selector{}) {
			continue
		}
		h, ok, err := t.Lookup(s, inbound)
		if err != nil {
			return err
		}
		if ok {
			found = []Entry{h}
			break
		}
	}
	if found == nil {
		if req.Exact != (eroute.Selector{}) {
			sel = req.Exact
		}
		var err error
		if found, err = t.Find(sel, inbound); err != nil {
			return err
		}
	}
	if len(found) == 0 {
		return errors.New(msgNotThere)
	}
	if !req.Force {
		for _, h := range found {
			if !h.Own {
				return &ForeignError{Holder: h, Option: "--" + actionName(req.Action)}
			}
		}
	}
	return t.DeleteEntries(found)
}

// noteShadow tells, on standard error, when an eroute just added will not
// match because a foreign policy covers it with a lower priority value
// (the IKE daemons' priorities are all lower than eroute's). The eroute
// stays: the note is not an error.
func noteShadow(t Table, e eroute.Eroute, note func(string)) {
	h, err := t.Shadow(e)
	if err != nil || h == nil {
		return
	}
	note(fmt.Sprintf("note: %s => %s will not match while a policy eroute did not make covers it with a lower priority value (%s)",
		e.Selector, e.SAID, h.ListingText()))
}

// noter gives what writes a note line on w, as messages are written.
func noter(w io.Writer, prog string) func(string) {
	return func(msg string) { report(w, prog, errors.New(msg)) }
}
