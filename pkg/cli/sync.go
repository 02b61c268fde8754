package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/eroute/eroute/pkg/eroute"
)

// Plan is what --sync will change.
type Plan struct {
	Ops       []Op // adds and replaces first, then deletes
	Unchanged int
}

// Entries is the table as a Snapshot read it: Len policies, Entry(i) in
// the listing's order (by selector, eroute.Compare).
type Entries interface {
	Len() int
	Entry(i int) Entry
}

// planSync compares the eroutes a file wants with the table, and gives the
// fewest changes that make them equal: an eroute already right is not
// touched, one with another SAID is replaced in place (never deleted and
// added again), and one the file lacks is deleted. Policies eroute did not
// make are left alone unless all is set; a selector the file wants that
// such a policy holds is an error, since changing it would take the policy
// over. sorted is want by selector (bySelector), without repeats.
//
// A monitor's temporary hold is not one of the file's eroutes: it is never
// deleted (the kernel removes it when its time is up), and never counts as
// a %hold the file wants, which replaces it with a permanent one. Adds and
// deletes are Idempotent: one another process already carried out is no
// failure, the table is as the file wants.
//
// Both sides are in selector order, so one merge compares them: no map of
// 100,000 selectors. The adds and replaces come in the file's order, then
// the deletes in the table's.
func planSync(want []Op, sorted []keyed, have Entries, all bool) (Plan, error) {
	const (
		keep = iota
		add
		replace
	)
	change := make([]uint8, len(want))
	var plan Plan
	var deletes []Op
	foreign, foreignSAID := -1, eroute.SAID{}
	// A policy with a mark or an if_id is not in the way of an eroute
	// with the same selector (the kernel tells them apart), and a delete
	// by selector would not reach it: only deletable ones take part.
	j, n := 0, have.Len()
	next := func() (Entry, eroute.Key, bool) {
		for ; j < n; j++ {
			if e := have.Entry(j); e.Deletable {
				j++
				return e, e.Selector.Key(), true
			}
		}
		return Entry{}, eroute.Key{}, false
	}
	cur, curKey, ok := next()
	for _, w := range sorted {
		for ok && bytes.Compare(curKey[:], w.key[:]) < 0 {
			if (cur.Own || all) && !cur.MonitorHold { // in the table only
				deletes = append(deletes, Op{Kind: eroute.OpDelete, Eroute: cur.Eroute, Force: !cur.Own, Idempotent: true})
			}
			cur, curKey, ok = next()
		}
		op := &want[w.i]
		if !ok || curKey != w.key {
			change[w.i] = add
			continue
		}
		switch {
		case !cur.Own && !all:
			if foreign < 0 || op.Line < want[foreign].Line {
				foreign, foreignSAID = int(w.i), cur.SAID
			}
		case cur.SAID == op.Eroute.SAID && cur.Own && !cur.MonitorHold:
			plan.Unchanged++
		default:
			change[w.i] = replace
			op.Force = !cur.Own
		}
		cur, curKey, ok = next()
	}
	for ; ok; cur, curKey, ok = next() {
		if (cur.Own || all) && !cur.MonitorHold {
			deletes = append(deletes, Op{Kind: eroute.OpDelete, Eroute: cur.Eroute, Force: !cur.Own, Idempotent: true})
		}
	}
	if foreign >= 0 {
		op := want[foreign]
		return Plan{}, lineError(op.Line, fmt.Errorf("the selector %s belongs to a policy eroute did not make (%s); --all lets --sync change it",
			op.Eroute.Selector, foreignSAID))
	}
	for i, c := range change {
		switch c {
		case add:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpAdd, Eroute: want[i].Eroute, Line: want[i].Line, Idempotent: true})
		case replace:
			plan.Ops = append(plan.Ops, Op{Kind: eroute.OpReplace, Eroute: want[i].Eroute, Line: want[i].Line, Force: want[i].Force})
		}
	}
	plan.Ops = append(plan.Ops, deletes...)
	return plan, nil
}

// runSync carries out --sync FILE (or prints its plan with --dry-run).
func runSync(req Request, env Env, t Table) error {
	budget := startBudget(syncMemoryPerLine, true)
	defer budget.stop()
	// The table is read (a dump: mostly the kernel's time) while the file
	// is checked (on every core): neither waits for the other.
	type snapshot struct {
		snap    Snapshot
		inbound []Entry
		err     error
	}
	current := make(chan snapshot, 1)
	go func() {
		s, err := t.Snapshot()
		var in []Entry
		if err == nil {
			if in, err = t.InboundEntries(); err != nil {
				s.Close()
			}
		}
		current <- snapshot{s, in, err}
	}()
	want, err := env.Parser.parseBatch(req.File, env.Stdin, syncActions, budget)
	var wantIn []Op
	var sorted, sortedIn []keyed
	if err == nil {
		want, wantIn = splitInbound(want)
		sorted, err = bySelector(want)
	}
	if err == nil {
		sortedIn, err = bySelector(wantIn)
	}
	have := <-current
	if have.err == nil {
		defer have.snap.Close()
	}
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	if have.err != nil {
		return have.err
	}
	plan, err := planSync(want, sorted, have.snap, req.All)
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	planIn, err := planInbound(wantIn, sortedIn, have.inbound, req.All)
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	plan = joinPlans(plan, planIn)
	if !req.DryRun {
		if err := applySync(t, have.snap, have.inbound, plan.Ops, req.File); err != nil {
			return err
		}
	}
	switch {
	case req.JSON:
		err = printPlanJSON(env.Stdout, plan, !req.DryRun)
	case req.DryRun:
		err = printPlan(env.Stdout, plan)
	}
	if err == nil && req.DetailedExit && len(plan.Ops) > 0 {
		err = ErrChanged
	}
	return err
}

// printPlan writes one line per change, in the batch syntax (each a
// command --batch takes, with --force where the policy is not eroute's),
// and a summary.
func printPlan(out io.Writer, plan Plan) error {
	w := bufio.NewWriter(out)
	counts := map[eroute.OpKind]int{}
	for _, op := range plan.Ops {
		counts[op.Kind]++
		w.WriteString(planLine(op))
		w.WriteByte('\n')
	}
	fmt.Fprintf(w, "# %d to add, %d to replace, %d to delete, %d unchanged\n",
		counts[eroute.OpAdd], counts[eroute.OpReplace], counts[eroute.OpDelete], plan.Unchanged)
	return w.Flush()
}

// planLine gives one change as a batch line.
func planLine(op Op) string {
	e := op.Eroute
	in := "" // --addin, --replacein, --delin for the inbound policies
	if op.Inbound {
		in = "in"
	}
	var line string
	switch op.Kind {
	case eroute.OpAdd:
		line = fmt.Sprintf("--add%s %s --said %s", in, selectorArgs(e.Selector), e.SAID)
	case eroute.OpReplace:
		line = fmt.Sprintf("--replace%s %s --said %s", in, selectorArgs(e.Selector), e.SAID)
	case eroute.OpDelete:
		line = "--del" + in + " " + selectorArgs(e.Selector)
	}
	if op.Force {
		line += " --force"
	}
	return line
}

// selectorArgs writes a selector back as eroute options, the fields of
// protocols without ports as what they are (--icmp-type, --gre-key...).
func selectorArgs(s eroute.Selector) string {
	args := fmt.Sprintf("--src %s --dst %s", s.Src, s.Dst)
	if s.Proto != 0 {
		args += fmt.Sprintf(" --transport-proto %d", s.Proto)
	}
	field := func(name string, v uint32) {
		if v != 0 {
			args += fmt.Sprintf(" --%s %d", name, v)
		}
	}
	switch eroute.FieldsOf(s.Proto) {
	case eroute.PortFields:
		field("src-port", uint32(s.SrcPort))
		field("dst-port", uint32(s.DstPort))
	case eroute.ICMPFields:
		field("icmp-type", uint32(s.SrcPort))
		field("icmp-code", uint32(s.DstPort))
	case eroute.GREFields:
		field("gre-key", s.GREKey())
	case eroute.MHFields:
		field("mh-type", uint32(s.SrcPort))
	}
	return args
}
