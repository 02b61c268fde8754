package cli

import (
	"bufio"
	"fmt"
	"io"
	"sort"

	"github.com/eroute/eroute/pkg/eroute"
)

// Plan is what --sync will change.
type Plan struct {
	Ops       []Op // adds and replaces first, then deletes
	Unchanged int
}

// planSync compares the eroutes a file wants with the table, and gives the
// fewest changes that make them equal: an eroute already right is not
// touched, one with another SAID is replaced in place (never deleted and
// added again), and one the file lacks is deleted. Policies eroute did not
// make are left alone unless all is set; a selector the file wants that
// such a policy holds is an error, since changing it would take the policy
// over.
func planSync(want []Op, have []Entry, all bool) (Plan, error) {
	current := make(map[eroute.Selector]Entry, len(have))
	for _, e := range have {
		// A policy with a mark or an if_id is not in the way of an eroute
		// with the same selector (the kernel tells them apart), and a
		// delete by selector would not reach it.
		if e.Deletable {
			current[e.Selector] = e
		}
	}
	var plan Plan
	var deletes []Op
	for _, op := range want {
		cur, ok := current[op.Eroute.Selector]
		delete(current, op.Eroute.Selector)
		switch {
		case !ok:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpAdd, Eroute: op.Eroute, Line: op.Line})
		case !cur.Own && !all:
			return Plan{}, lineError(op.Line, fmt.Errorf("the selector %s belongs to a policy eroute did not make (%s); --all lets --sync change it",
				op.Eroute.Selector, cur.SAID))
		case cur.SAID == op.Eroute.SAID && cur.Own:
			plan.Unchanged++
		default:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpReplace, Eroute: op.Eroute, Line: op.Line})
		}
	}
	for _, e := range current {
		if e.Own || all {
			deletes = append(deletes, Op{Kind: eroute.OpDelete, Eroute: e.Eroute})
		}
	}
	sort.Slice(deletes, func(i, j int) bool {
		return eroute.Compare(deletes[i].Eroute.Selector, deletes[j].Eroute.Selector) < 0
	})
	plan.Ops = append(plan.Ops, deletes...)
	return plan, nil
}

// runSync carries out --sync FILE (or prints its plan with --dry-run).
func runSync(req Request, env Env, t Table) error {
	// The table is read while the file is checked: the two take about as
	// long as each other for large tables, and use different cores.
	type entries struct {
		list []Entry
		err  error
	}
	current := make(chan entries, 1)
	go func() {
		list, err := t.Entries()
		current <- entries{list, err}
	}()
	want, err := env.Parser.parseBatch(req.File, env.Stdin, syncActions)
	have := <-current
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	if have.err != nil {
		return have.err
	}
	plan, err := planSync(want, have.list, req.All)
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	if req.DryRun {
		return printPlan(env.Stdout, plan)
	}
	return applyAll(t, plan.Ops, "--sync", req.File)
}

// printPlan writes one line per change, in the batch syntax, and a summary.
func printPlan(out io.Writer, plan Plan) error {
	w := bufio.NewWriter(out)
	counts := map[eroute.OpKind]int{}
	for _, op := range plan.Ops {
		counts[op.Kind]++
		e := op.Eroute
		switch op.Kind {
		case eroute.OpAdd:
			fmt.Fprintf(w, "--add %s --said %s\n", selectorArgs(e.Selector), e.SAID)
		case eroute.OpReplace:
			fmt.Fprintf(w, "--replace %s --said %s\n", selectorArgs(e.Selector), e.SAID)
		case eroute.OpDelete:
			fmt.Fprintf(w, "--del %s\n", selectorArgs(e.Selector))
		}
	}
	fmt.Fprintf(w, "# %d to add, %d to replace, %d to delete, %d unchanged\n",
		counts[eroute.OpAdd], counts[eroute.OpReplace], counts[eroute.OpDelete], plan.Unchanged)
	return w.Flush()
}

// selectorArgs writes a selector back as eroute options.
func selectorArgs(s eroute.Selector) string {
	args := fmt.Sprintf("--src %s --dst %s", s.Src, s.Dst)
	if s.Proto != 0 {
		args += fmt.Sprintf(" --transport-proto %d", s.Proto)
	}
	if s.SrcPort != 0 {
		args += fmt.Sprintf(" --src-port %d", s.SrcPort)
	}
	if s.DstPort != 0 {
		args += fmt.Sprintf(" --dst-port %d", s.DstPort)
	}
	return args
}
