package cli

import (
	"bufio"
	"errors"
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

// Entries is the table as a Snapshot read it: Len policies, Entry(i) in
// the listing's order (by selector, eroute.Compare), and Match, which
// compares selectors with the deletable ones without that order (see
// xfrm.Snapshot.Match).
type Entries interface {
	Len() int
	Entry(i int) Entry
	Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) (repeats bool)
}

// planSync compares the eroutes a file wants with the table, and gives the
// fewest changes that make them equal: an eroute already right is not
// touched, one with another SAID is replaced in place (never deleted and
// added again), and one the file lacks is deleted. Policies eroute did not
// make are left alone unless all is set; a selector the file wants that
// such a policy holds is an error, since changing it would take the policy
// over. want names each selector once (findDuplicate).
//
// A monitor's temporary hold is not one of the file's eroutes: it is never
// deleted (the kernel removes it when its time is up), and never counts as
// a %hold the file wants, which replaces it with a permanent one. Adds and
// deletes are Idempotent: one another process already carried out is no
// failure, the table is as the file wants.
//
// Policies with a mark or an if_id are not in the way of an eroute with
// the same selector (the kernel tells them apart), and a delete by
// selector would not reach them: only deletable ones take part, which is
// what Match compares. It looks each line's selector up in an index of
// the table's (made while the file was checked), so neither side is
// sorted: for 100,000 lines the two sorts took 50 ms and the merge after
// them 20. The adds and replaces come in the file's order, then the
// deletes in the table's, the listing's (only they are sorted).
func planSync(want []Op, have Entries, all bool) (Plan, error) {
	m := syncMerge{want: want, all: all, change: make([]uint8, len(want)), foreign: -1}
	for i := range m.change {
		m.change[i] = syncAdd
	}
	repeats := have.Match(len(want), func(i int) eroute.Selector { return want[i].Eroute.Selector }, m.both, m.tableOnly)
	if repeats || m.repeatedAdd() {
		_, err := bySelector(want)
		return Plan{}, repeatError{err}
	}
	if m.foreign >= 0 {
		return Plan{}, m.foreignError()
	}
	return Plan{Ops: append(m.changes(), m.sortedDeletes()...), Unchanged: m.unchanged}, nil
}

// repeatError is planSync's error for a selector the file gives twice, in
// bySelector's words: it is told before the --addin lines' own faults.
type repeatError struct{ error }

func isRepeat(err error) bool {
	var r repeatError
	return errors.As(err, &r)
}

// repeatedAdd tells whether two lines the table has no policy for name
// one selector: the lines that name one it has are told by Match, so
// only the adds, 1% of a --sync that changes 1%, are looked at again.
func (m *syncMerge) repeatedAdd() bool {
	var adds []Op
	for i, c := range m.change {
		if c == syncAdd {
			adds = append(adds, m.want[i])
		}
	}
	return findDuplicate(adds) != nil
}

// What planSync does with a line of the file.
const (
	syncKeep = iota
	syncAdd
	syncReplace
)

// syncMerge is what planSync notes while it compares the file's eroutes
// with the table's policies.
type syncMerge struct {
	want   []Op
	all    bool
	change []uint8 // by line of want: syncKeep, syncAdd (no policy seen) or syncReplace
	// deletes are the table's eroutes the file lacks, with their keys.
	deletes   []Op
	keys      []keyed
	unchanged int
	// foreign is the earliest line that wants the selector of a policy
	// eroute did not make (without all), -1 for none; foreignSAID is
	// that policy's SAID.
	foreign     int
	foreignSAID eroute.SAID
}

// tableOnly is an entry no line wants: deleted when it is eroute's (or
// with all), but never a monitor's hold.
func (m *syncMerge) tableOnly(e Entry) {
	if (e.Own || m.all) && !e.MonitorHold {
		m.keys = append(m.keys, keyed{e.Selector.Key(), int32(len(m.deletes))})
		m.deletes = append(m.deletes, Op{Kind: eroute.OpDelete, Eroute: e.Eroute, Force: !e.Own, Idempotent: true})
	}
}

// sortedDeletes gives the deletes in the listing's order (by selector: a
// deletable policy is the only one of its selector).
func (m *syncMerge) sortedDeletes() []Op {
	sort.Sort(keyedOrder(m.keys))
	ops := make([]Op, len(m.keys))
	for k, key := range m.keys {
		ops[k] = m.deletes[key.i]
	}
	return ops
}

// both is line i of want and the entry of the same selector: unchanged
// when it is eroute's with the same SAID, replaced in place otherwise
// (a monitor's hold by the file's %hold too), and an error for a policy
// eroute did not make, unless all.
func (m *syncMerge) both(i int, e Entry) {
	op := &m.want[i]
	m.change[i] = syncKeep
	switch {
	case !e.Own && !m.all:
		if m.foreign < 0 || op.Line < m.want[m.foreign].Line {
			m.foreign, m.foreignSAID = i, e.SAID
		}
	case e.SAID == op.Eroute.SAID && e.Own && !e.MonitorHold:
		m.unchanged++
	default:
		m.change[i] = syncReplace
		op.Force = !e.Own
	}
}

func (m *syncMerge) foreignError() error {
	op := m.want[m.foreign]
	return lineError(op.Line, fmt.Errorf("the selector %s belongs to a policy eroute did not make (%s); --all lets --sync change it",
		op.Eroute.Selector, m.foreignSAID))
}

// changes gives the adds and replaces, in the file's order.
func (m *syncMerge) changes() []Op {
	var ops []Op
	for i, c := range m.change {
		w := m.want[i]
		switch c {
		case syncAdd:
			ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: w.Eroute, Line: w.Line, Idempotent: true})
		case syncReplace:
			ops = append(ops, Op{Kind: eroute.OpReplace, Eroute: w.Eroute, Line: w.Line, Force: w.Force})
		}
	}
	return ops
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
			s.IndexSelectors() // while the file is checked

			if in, err = t.InboundEntries(); err != nil {
				s.Close()
			}
		}
		current <- snapshot{s, in, err}
	}()
	want, err := env.Parser.parseBatch(req.File, env.Stdin, syncActions, budget)
	var wantIn []Op
	if err == nil {
		want, wantIn = splitInbound(want)
	}
	have := <-current
	if have.err == nil {
		defer have.snap.Close()
	}
	if err != nil {
		return fileError("--sync", req.File, err)
	}
	if have.err != nil {
		// A file's own fault comes first, as when the table is read.
		if err := findDuplicate(want); err != nil {
			return fileError("--sync", req.File, err)
		}
		if err := findDuplicate(wantIn); err != nil {
			return fileError("--sync", req.File, err)
		}
		return have.err
	}
	plan, planErr := planSync(want, have.snap, req.All)
	if isRepeat(planErr) {
		return fileError("--sync", req.File, planErr)
	}
	if err := findDuplicate(wantIn); err != nil {
		return fileError("--sync", req.File, err)
	}
	if planErr != nil {
		return fileError("--sync", req.File, planErr)
	}
	planIn, err := planInbound(wantIn, have.inbound, req.All)
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
