package cli

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// A policy eroute did not make (an IKE daemon's, one written with ip xfrm)
// is foreign. Every command that changes the table acts on eroute's own
// policies only, unless told otherwise (--force, --clear --all, --sync
// --all): a daemon's policy is changed only on the user's explicit word.

// Entry is one policy of the table as the listing shows it, with who made
// it and what the kernel holds of it besides the eroute.
type Entry struct {
	eroute.Eroute
	Own       bool // eroute wrote it: --sync may change it
	Deletable bool // no mark nor if_id: a delete by selector removes it
	Inbound   bool // direction in (--addin), else out
	// MonitorHold: a monitor's temporary %hold (Own too). --sync neither
	// counts it as the file's %hold nor deletes it.
	MonitorHold bool
	Priority    uint32
	Index       uint32 // the kernel's name for the policy
	Mark        uint32 // the mark and mask it matches; both 0 for none
	Mask        uint32
	IfID        uint32
	Templates   []Template
	// ShadowedBy is a foreign policy that covers this eroute's selector
	// with a lower priority value: the kernel takes it first, and this
	// eroute never matches. Nil when none does.
	ShadowedBy *Entry
}

// Template is one template of a policy: the SA a packet must go through.
type Template struct {
	Proto    uint8 // 50 ESP, 51 AH, 108 IPComp
	Mode     uint8 // 0 transport, 1 tunnel, 2 route optimisation, 3 in trigger, 4 BEET
	SPI      uint32
	Reqid    uint32
	Src, Dst netip.Addr
}

// modeNames are the names ip xfrm gives the template modes.
var modeNames = []string{"transport", "tunnel", "ro", "in_trigger", "beet"}

// ModeName gives the name of a template's mode.
func (t Template) ModeName() string {
	if int(t.Mode) < len(modeNames) {
		return modeNames[t.Mode]
	}
	return fmt.Sprintf("mode(%d)", t.Mode)
}

// holderText names a policy as the listing shows it (its line without the
// count and the padding), with its priority.
func holderText(e Entry) string {
	e.Count = 0
	line := strings.Fields(string(e.AppendLine(nil)))
	return fmt.Sprintf("%s, priority %d", strings.Join(line[1:], " "), e.Priority)
}

// ForeignError refuses a change to a policy eroute did not make; the table
// is unchanged.
type ForeignError struct {
	Holder Entry
	Option string // the action refused, for the hint: --del, --replace...
}

func (e *ForeignError) Error() string {
	msg := fmt.Sprintf("the selector %s belongs to a policy eroute did not make (%s)", e.Holder.Selector, holderText(e.Holder))
	if e.Option != "" {
		msg += "; --force lets " + e.Option + " change it"
	}
	return msg
}

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
				return fmt.Errorf("%v (the selector belongs to a policy eroute did not make: %s)", err, holderText(h))
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
		e.Selector, e.SAID, holderText(*h)))
}

// noter gives what writes a note line on w, as messages are written.
func noter(w io.Writer, prog string) func(string) {
	return func(msg string) { report(w, prog, errors.New(msg)) }
}
