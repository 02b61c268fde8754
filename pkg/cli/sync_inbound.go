package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/eroute/eroute/pkg/eroute"
)

// ErrChanged is what --sync --detailed-exitcode returns when the table
// needed changes (made, or with --dry-run to be made): Run exits with
// status 2 for it and prints nothing, as `terraform plan
// -detailed-exitcode` does. 0 is "nothing to change", 1 an error.
var ErrChanged = errors.New("the table needed changes")

// ExitChanged is the exit status of ErrChanged.
const ExitChanged = 2

// splitInbound takes a --sync file's --addin lines out of its --add lines:
// the inbound policies are a table of their own, where the same selector
// may be given again.
func splitInbound(ops []Op) (out, in []Op) {
	n := 0
	for _, op := range ops {
		if op.Inbound {
			in = append(in, op)
			continue
		}
		ops[n] = op
		n++
	}
	return ops[:n], in
}

// planInbound plans the inbound table. Removing an inbound policy lets
// that selector's traffic in unencrypted, so --sync is as careful as
// --clear (which never removes one): a file without --addin lines leaves
// the inbound table alone (files written before --sync took --addin lines
// say nothing about it), and a policy eroute did not make is never deleted,
// --all or not; --all only lets an --addin line replace one.
func planInbound(want []Op, have []Entry, all bool) (Plan, error) {
	if len(want) == 0 {
		return Plan{}, nil
	}
	plan, err := planSync(want, entrySlice(have), all)
	if err != nil {
		return Plan{}, err
	}
	n := 0
	for _, op := range plan.Ops {
		if op.Kind == eroute.OpDelete && op.Force {
			continue
		}
		plan.Ops[n] = op
		n++
	}
	plan.Ops = plan.Ops[:n]
	return plan, nil
}

// entrySlice is a list of entries as planSync reads a table.
type entrySlice []Entry

func (l entrySlice) Len() int          { return len(l) }
func (l entrySlice) Entry(i int) Entry { return l[i] }

// Match is xfrm.Snapshot.Match's, with a map: inbound tables are small.
func (l entrySlice) Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) (repeats bool) {
	at := make(map[eroute.Key]int, len(l))
	for k, e := range l {
		if e.Deletable {
			at[e.Selector.Key()] = k
		}
	}
	named := make([]bool, len(l))
	for i := 0; i < n; i++ {
		if k, ok := at[sel(i).Key()]; ok {
			repeats = repeats || named[k]
			named[k] = true
			found(i, l[k])
		}
	}
	for k, e := range l {
		if e.Deletable && !named[k] {
			rest(e)
		}
	}
	return repeats
}

// joinPlans adds the inbound plan to the outbound one: its ops after, each
// marked as inbound.
func joinPlans(out, in Plan) Plan {
	for _, op := range in.Ops {
		op.Inbound = true
		out.Ops = append(out.Ops, op)
	}
	out.Unchanged += in.Unchanged
	return out
}

// applySync carries out a --sync plan all or nothing: the inbound changes
// first, one at a time (a table has a few, one per tunnel), then the
// outbound ones as one batch; when the batch is refused, the inbound
// changes are undone. (Inbound first: the outbound batch then finds the
// snapshot stale and dumps the table again, which costs only when inbound
// policies change.)
func applySync(t Table, snap Snapshot, inbound []Entry, ops []Op, file string) error {
	n := 0
	for n < len(ops) && !ops[n].Inbound {
		n++
	}
	out, in := ops[:n], ops[n:]
	undo, err := applyInbound(t, inbound, in, file)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	if err := applyAll(snap, t, out, "--sync", file); err != nil {
		var be *BatchError
		if uerr := undo(); uerr != nil && errors.As(err, &be) {
			return fmt.Errorf("%v; undoing the inbound changes failed (%v): the table is not as it was", err, uerr)
		}
		return err
	}
	return nil
}

// applyInbound makes the inbound changes, and gives what undoes them. When
// one is refused, those before it are undone and the error names its line.
func applyInbound(t Table, have []Entry, ops []Op, file string) (undo func() error, err error) {
	old := map[eroute.Selector]Entry{}
	for _, e := range have {
		old[e.Selector] = e
	}
	var done []Op
	undo = func() error {
		var errs []error
		for i := len(done) - 1; i >= 0; i-- {
			errs = append(errs, undoInbound(t, done[i], old[done[i].Eroute.Selector].Eroute))
		}
		return errors.Join(errs...)
	}
	for _, op := range ops {
		var err error
		switch op.Kind {
		case eroute.OpAdd:
			err = t.AddInbound(op.Eroute, false)
		case eroute.OpReplace:
			err = t.AddInbound(op.Eroute, true)
		case eroute.OpDelete:
			err = t.DeleteEntries([]Entry{old[op.Eroute.Selector]})
		}
		if err != nil && op.Idempotent && inboundInPlace(t, op) {
			continue // another process did it meanwhile: the goal is reached
		}
		if err != nil {
			what := fmt.Sprintf("the inbound policy of %s", op.Eroute.Selector)
			if op.Line > 0 {
				what = fmt.Sprintf("line %d", op.Line)
			}
			if uerr := undo(); uerr != nil {
				return nil, fileError("--sync", file, fmt.Errorf("%s: %v; undoing the changes before it failed (%v): the table is not as it was", what, err, uerr))
			}
			return nil, fileError("--sync", file, fmt.Errorf("%s: %v (nothing was changed)", what, err))
		}
		done = append(done, op)
	}
	return undo, nil
}

// inboundInPlace tells whether the inbound table already is what op would
// make it: no policy for a delete, eroute's own with op's SAID for an add.
func inboundInPlace(t Table, op Op) bool {
	e, ok, err := t.Lookup(op.Eroute.Selector, true)
	switch {
	case err != nil:
		return false
	case op.Kind == eroute.OpDelete:
		return !ok
	}
	return op.Kind == eroute.OpAdd && ok && e.Own && e.SAID == op.Eroute.SAID
}

// undoInbound puts back what op changed; was is the policy before it.
func undoInbound(t Table, op Op, was eroute.Eroute) error {
	switch op.Kind {
	case eroute.OpAdd:
		e, ok, err := t.Lookup(op.Eroute.Selector, true)
		if err != nil || !ok {
			return err // gone already
		}
		return t.DeleteEntries([]Entry{e})
	case eroute.OpReplace:
		return t.AddInbound(was, true)
	default:
		return t.AddInbound(was, false)
	}
}

// jsonPlan is --sync --json's answer, one object: whether the table
// needed changes, the counts, and every change (a delete's SAID is the
// one it removes).
type jsonPlan struct {
	Changed   bool         `json:"changed"`
	Applied   bool         `json:"applied"` // false with --dry-run
	Add       int          `json:"add"`
	Replace   int          `json:"replace"`
	Delete    int          `json:"delete"`
	Unchanged int          `json:"unchanged"`
	Changes   []jsonChange `json:"changes"`
}

type jsonChange struct {
	Op  string `json:"op"`  // add, replace, delete
	Dir string `json:"dir"` // out, in
	eroute.Eroute
}

// MarshalJSON puts op and dir before the eroute's own fields.
func (c jsonChange) MarshalJSON() ([]byte, error) {
	e, err := json.Marshal(c.Eroute)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf(`{"op":%q,"dir":%q,`, c.Op, c.Dir)
	return append([]byte(head), e[1:]...), nil
}

// printPlanJSON writes the plan as one JSON object and a newline.
func printPlanJSON(out io.Writer, plan Plan, applied bool) error {
	p := jsonPlan{Changed: len(plan.Ops) > 0, Applied: applied, Unchanged: plan.Unchanged, Changes: make([]jsonChange, 0, len(plan.Ops))}
	names := map[eroute.OpKind]string{eroute.OpAdd: "add", eroute.OpReplace: "replace", eroute.OpDelete: "delete"}
	counts := map[eroute.OpKind]*int{eroute.OpAdd: &p.Add, eroute.OpReplace: &p.Replace, eroute.OpDelete: &p.Delete}
	for _, op := range plan.Ops {
		dir := "out"
		if op.Inbound {
			dir = "in"
		}
		*counts[op.Kind]++
		e := op.Eroute
		e.Count = 0
		p.Changes = append(p.Changes, jsonChange{Op: names[op.Kind], Dir: dir, Eroute: e})
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}
