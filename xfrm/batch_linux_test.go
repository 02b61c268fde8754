package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// tableText is the whole table as `ip -s xfrm policy list` shows it,
// indexes included, without the add times (a policy put back is made
// anew), one policy after the other in a sorted order: an undo puts back
// every policy with its index, but those it puts back come last in the
// kernel's order (see batch.undo).
func tableText(t *testing.T, ns string) string {
	t.Helper()
	out := addTime.ReplaceAllString(ipn(t, ns, "-s", "xfrm", "policy", "list"), "")
	blocks := strings.SplitAfter(out, "\n")
	var policies []string
	for _, l := range blocks {
		if strings.HasPrefix(l, "src ") || len(policies) == 0 {
			policies = append(policies, "")
		}
		policies[len(policies)-1] += l
	}
	slices.Sort(policies)
	return strings.Join(policies, "")
}

// policyWatch hears of every change to the policies of a namespace
// (XFRMNLGRP_POLICY): what a batch and its undo wrote, the independent
// way.
type policyWatch struct {
	t *testing.T
	c *nlConn
}

func watchPolicies(t *testing.T, ns string) *policyWatch {
	t.Helper()
	cfg := watchConfig
	cfg.rcvbuf = 64 << 20 // room for the notifications of a few thousand changes
	c, err := dialIn(ns, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	return &policyWatch{t, c}
}

// touched gives the indexes of the policies made, replaced or deleted
// since the watch began (or since the last call).
func (w *policyWatch) touched() map[uint32]bool {
	w.t.Helper()
	got := map[uint32]bool{}
	for {
		b, err := w.c.read(true)
		if err != nil {
			w.t.Fatalf("watching the policies: %v", err)
		}
		if b == nil {
			return got
		}
		for m, rest, ok := nextMessage(b); ok; m, rest, ok = nextMessage(rest) {
			var v policyView
			switch {
			case (m.typ == msgNewPolicy || m.typ == msgUpdPolicy) && scanPolicy(m.data, &v) == nil:
				got[v.Index] = true
			case m.typ == msgDelPolicy && len(m.data) >= sizePolicyID:
				got[ne.Uint32(m.data[sizeSelector:])] = true
			case m.typ == msgFlushPol:
				w.t.Fatal("the policies were flushed")
			}
		}
	}
}

// indexesBut gives the indexes of the policies of ns whose selectors none
// of ops names, as ip xfrm lists them.
func indexesBut(t *testing.T, ns string, ops []Op) map[uint32]bool {
	t.Helper()
	named := map[string]bool{}
	for _, op := range ops {
		s := op.Eroute.Selector
		named["src "+s.Src.String()+" dst "+s.Dst.String()] = true
	}
	idx := map[uint32]bool{}
	sel := ""
	for _, l := range strings.Split(ipn(t, ns, "-s", "xfrm", "policy", "list"), "\n") {
		if strings.HasPrefix(l, "src ") {
			f := strings.Fields(l)
			sel = strings.Join(f[:4], " ")
		}
		if m := indexRE.FindStringSubmatch(l); m != nil && !named[sel] {
			n, _ := strconv.ParseUint(m[1], 10, 32)
			idx[uint32(n)] = true
		}
	}
	return idx
}

var indexRE = regexp.MustCompile(`\bindex (\d+)\b`)

// wantUntouched checks that no policy of untouched was written since the
// watch began.
func wantUntouched(t *testing.T, w *policyWatch, untouched map[uint32]bool) {
	t.Helper()
	for idx := range w.touched() {
		if untouched[idx] {
			t.Errorf("policy index %d, which no op names, was written", idx)
		}
	}
}

var addTime = regexp.MustCompile(`(?m)^\s+add \d{4}-\d\d-\d\d \d\d:\d\d:\d\d use .*\n`)

// mustEntries is the table as a snapshot lists it.
func mustEntries(t *testing.T, tb *Table) []Entry {
	t.Helper()
	s := mustSnapshot(t, tb)
	defer s.Close()
	es := make([]Entry, s.Len())
	for i := range es {
		es[i] = s.Entry(i)
	}
	return es
}

// sameEntry compares two entries whole, templates and shadow included.
func sameEntry(a, b Entry) bool {
	return reflect.DeepEqual(a, b)
}

func mustSnapshot(t *testing.T, tb *Table) *Snapshot {
	t.Helper()
	s, err := tb.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return s
}

func mustApply(t *testing.T, tb *Table, ops []Op) {
	t.Helper()
	if err := tb.Apply(ops); err != nil {
		t.Fatalf("Apply(%d ops): %v", len(ops), err)
	}
}

func adds(es ...eroute.Eroute) []Op {
	ops := make([]Op, len(es))
	for i, e := range es {
		ops[i] = Op{Kind: eroute.OpAdd, Eroute: e}
	}
	return ops
}

// model applies ops to a map, as the kernel should.
func model(m map[eroute.Selector]eroute.Eroute, ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case eroute.OpAdd, eroute.OpReplace:
			m[op.Eroute.Selector] = op.Eroute
		case eroute.OpDelete:
			delete(m, op.Eroute.Selector)
		case eroute.OpClear:
			clear(m)
		}
	}
}

func values(m map[eroute.Selector]eroute.Eroute) []eroute.Eroute {
	var es []eroute.Eroute
	for _, e := range m {
		es = append(es, e)
	}
	return es
}

// TestKernelApplyMixed applies 1,000 ops of every kind in one batch.
func TestKernelApplyMixed(t *testing.T) {
	tb, ns := openTable(t)
	m := map[eroute.Selector]eroute.Eroute{}
	var first []Op
	for i := 0; i < 600; i++ {
		first = append(first, Op{Kind: eroute.OpAdd, Eroute: genEroute(i)})
	}
	mustApply(t, tb, first)
	model(m, first)
	wantList(t, tb, values(m)...)

	var ops []Op
	for i := 0; i < 400; i++ { // new selectors
		ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(1000 + i)})
	}
	for i := 0; i < 300; i++ { // another SAID on existing selectors
		e := genEroute(i)
		e.SAID = genSAID(i+1, e.Src.Addr().Is6())
		ops = append(ops, Op{Kind: eroute.OpReplace, Eroute: e})
	}
	for i := 300; i < 450; i++ {
		ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: eroute.Eroute{Selector: genEroute(i).Selector}})
	}
	for i := 0; i < 150; i++ { // replace that adds
		ops = append(ops, Op{Kind: eroute.OpReplace, Eroute: genEroute(2000 + i)})
	}
	if len(ops) != 1000 {
		t.Fatalf("%d ops", len(ops))
	}
	mustApply(t, tb, ops)
	model(m, ops)
	wantList(t, tb, values(m)...)
	if n := strings.Count(policies(t, ns), "dir out"); n != len(m) {
		t.Errorf("ip xfrm policy list shows %d policies, want %d", n, len(m))
	}
	for _, e := range mustEntries(t, tb) {
		if !e.Own || !e.Deletable {
			t.Errorf("Entries: %v Own %v Deletable %v, want both", e.Eroute, e.Own, e.Deletable)
		}
	}
}

// foreignPolicies are policies of ip xfrm: outbound main ones (one with a
// mark, one with an if_id, one with host bits in its selector), an inbound
// and a forward one.
var foreignPolicies = []string{
	"src 10.200.0.0/16 dst 10.201.0.0/16 dir out tmpl src 1.1.1.1 dst 2.2.2.2 proto esp mode tunnel",
	"src 10.200.0.0/16 dst 10.201.0.0/16 dir out mark 5 mask 0xff tmpl src 1.1.1.1 dst 2.2.2.3 proto esp mode tunnel",
	"src 10.202.0.0/16 dst 10.203.0.0/16 dir out if_id 7 action block",
	"src 10.204.1.2/16 dst 10.205.0.0/16 dir out priority 7",
	"src 3049:7::/64 dst 3049:8::/64 proto udp sport 53 dir out tmpl proto esp mode transport",
	"src 10.200.0.0/16 dst 10.201.0.0/16 dir in",
	"src 10.200.0.0/16 dst 10.201.0.0/16 dir fwd tmpl src 2.2.2.2 dst 1.1.1.1 proto esp mode tunnel",
}

func addForeign(t *testing.T, ns string, cmds ...string) {
	t.Helper()
	for _, cmd := range cmds {
		ipn(t, ns, append([]string{"xfrm", "policy", "add"}, strings.Fields(cmd)...)...)
	}
}

// undoTable makes a table of own eroutes and foreign policies, made in an
// interleaved order so that putting any of them back must keep the order.
func undoTable(t *testing.T) (*Table, string) {
	tb, ns := openTable(t)
	for i := 0; i < 40; i++ {
		if err := tb.Add(genEroute(i)); err != nil {
			t.Fatal(err)
		}
		if i%6 == 0 && i/6 < len(foreignPolicies) {
			addForeign(t, ns, foreignPolicies[i/6])
		}
	}
	return tb, ns
}

// TestKernelApplyUndo makes op N of a batch fail in several ways, after
// ops of every kind changed the table: the table must end as it began,
// byte for byte, indexes and order included.
func TestKernelApplyUndo(t *testing.T) {
	ipv4Sel := genEroute(0).Selector
	badSAID := eroute.SAID{Proto: eroute.ProtoESP, SPI: 0x101, Dst: netip.MustParseAddr("3049::2")}
	changes := func() []Op {
		var ops []Op
		for i := 100; i < 110; i++ {
			ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(i)})
		}
		for i := 1; i < 30; i += 3 {
			e := genEroute(i)
			e.SAID = genSAID(i+5, e.Src.Addr().Is6())
			ops = append(ops, Op{Kind: eroute.OpReplace, Eroute: e})
			ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: eroute.Eroute{Selector: genEroute(i + 1).Selector}})
		}
		// A delete, then an add, of one selector: a new index.
		ops = append(ops, Op{Kind: eroute.OpDelete, Eroute: genEroute(35)}, Op{Kind: eroute.OpAdd, Eroute: genEroute(35)})
		return ops
	}
	for _, c := range []struct {
		name  string
		bad   Op
		want  error
		errno unix.Errno
	}{
		{"add of an existing selector", Op{Kind: eroute.OpAdd, Eroute: genEroute(39)}, ErrExists, unix.EEXIST},
		{"delete of a missing selector", Op{Kind: eroute.OpDelete, Eroute: genEroute(5000)}, ErrNotFound, unix.ENOENT},
		{"replace with a SAID the kernel refuses", Op{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: ipv4Sel, SAID: badSAID}}, nil, unix.EINVAL},
		{"add of a foreign selector", Op{Kind: eroute.OpAdd, Eroute: eroute.Eroute{
			Selector: eroute.Selector{Src: pfx("10.200.0.0/16"), Dst: pfx("10.201.0.0/16")}, SAID: eroute.Pass}}, ErrExists, unix.EEXIST},
	} {
		for _, v := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			late, snap := v[0], v[1]
			name := c.name
			if late {
				name += ", in a later datagram"
			}
			if snap {
				name += ", from a snapshot"
			}
			t.Run(name, func(t *testing.T) {
				tb, ns := undoTable(t)
				apply := tb.Apply
				if snap {
					apply = mustSnapshot(t, tb).Apply
				}
				before, entries := tableText(t, ns), mustEntries(t, tb)
				ops := changes()
				untouched := indexesBut(t, ns, append(ops, c.bad, Op{Eroute: genEroute(6000)}, Op{Eroute: genEroute(2)}))
				w := watchPolicies(t, ns)
				if late { // past the first datagram of the run
					for i := 0; i < 3*runMaxMsgs; i++ {
						ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(3000 + i)})
					}
				}
				n := len(ops)
				ops = append(ops, c.bad)
				ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(6000)}, Op{Kind: eroute.OpDelete, Eroute: genEroute(2)})
				err := apply(ops)
				var be *BatchError
				if !errors.As(err, &be) || be.Index != n {
					t.Fatalf("Apply: %v, want a BatchError for op %d", err, n)
				}
				if !errors.Is(err, c.errno) || c.want != nil && (!errors.Is(err, c.want) || err.Error() != c.want.Error()) {
					t.Errorf("Apply: %v, want %v (%v)", err, c.want, c.errno)
				}
				if after := tableText(t, ns); after != before {
					t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				if got := mustEntries(t, tb); !slices.EqualFunc(got, entries, sameEntry) {
					t.Errorf("Entries changed:\n%v\nwant\n%v", got, entries)
				}
				if len(untouched) < 20 {
					t.Fatalf("only %d policies no op names", len(untouched))
				}
				wantUntouched(t, w, untouched)
			})
		}
	}
}

// TestKernelApplyManyRefusals has every op of a batch of several
// datagrams refused: no refusal may be lost, the first is reported.
func TestKernelApplyManyRefusals(t *testing.T) {
	tb, ns := openTable(t)
	var es []eroute.Eroute
	for i := 0; i < 3*runMaxMsgs; i++ {
		es = append(es, genEroute(i))
	}
	mustApply(t, tb, adds(es...))
	before := tableText(t, ns)
	err := tb.Apply(adds(es...))
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 0 || !errors.Is(err, ErrExists) {
		t.Fatalf("Apply: %v, want a BatchError for op 0", err)
	}
	if after := tableText(t, ns); after != before {
		t.Error("the table changed")
	}

	// The run itself: one refusal per request, none lost.
	c := tb.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.newRun(ackRoom)
	for i, e := range es {
		p := PolicyOf(e)
		r.buf = r.begin(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, int32(i))
		r.buf = appendPolicy(r.buf, &p)
		if err := r.end(); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	if r.overrun || len(r.failures) != len(es) || r.handled != len(es) {
		t.Errorf("run: %d refusals of %d requests handled, overrun %v; want %d", len(r.failures), r.handled, r.overrun, len(es))
	}
	for i, f := range r.failures {
		if f.msg != i || int(f.tag) != i || !errors.Is(f.err, unix.EEXIST) {
			t.Fatalf("refusal %d: %+v", i, f)
		}
	}
}

// TestKernelApplyClearOwn: a Clear without Force takes eroute's own
// policies (those the batch made too), and leaves the foreign ones.
func TestKernelApplyClearOwn(t *testing.T) {
	tb, ns := openTable(t)
	mustApply(t, tb, adds(genEroute(0), genEroute(1)))
	addForeign(t, ns, foreignPolicies...)
	var foreign []eroute.Eroute
	for _, e := range mustEntries(t, tb) {
		if !e.Own {
			foreign = append(foreign, e.Eroute)
		}
	}
	if len(foreign) != 5 {
		t.Fatalf("want 5 foreign policies listed, got %v", foreign)
	}
	mustApply(t, tb, []Op{{Kind: eroute.OpAdd, Eroute: genEroute(10)}, {Kind: eroute.OpClear}, {Kind: eroute.OpAdd, Eroute: genEroute(2)}})
	wantList(t, tb, append([]eroute.Eroute{genEroute(2)}, foreign...)...)
}

// TestKernelApplyClear clears inside a batch: what was there and what the
// batch added before goes, outbound main policies only; what follows stays.
func TestKernelApplyClear(t *testing.T) {
	tb, ns := openTable(t)
	mustApply(t, tb, adds(genEroute(0), genEroute(1), genEroute(2)))
	addForeign(t, ns, foreignPolicies...)
	ops := []Op{
		{Kind: eroute.OpAdd, Eroute: genEroute(10)},
		{Kind: eroute.OpReplace, Eroute: genEroute(11)},
		{Kind: eroute.OpDelete, Eroute: genEroute(0)},
		{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: genEroute(1).Selector, SAID: eroute.Drop}},
		{Kind: eroute.OpClear},
		{Kind: eroute.OpAdd, Eroute: genEroute(1)},
		{Kind: eroute.OpAdd, Eroute: genEroute(20)},
		{Kind: eroute.OpReplace, Eroute: genEroute(21)},
		{Kind: eroute.OpClear, Force: true},
		{Kind: eroute.OpAdd, Eroute: genEroute(2)},
		{Kind: eroute.OpReplace, Eroute: genEroute(1)},
		{Kind: eroute.OpAdd, Eroute: genEroute(30)},
	}
	mustApply(t, tb, ops)
	wantList(t, tb, genEroute(1), genEroute(2), genEroute(30))
	out := policies(t, ns)
	wantContains(t, out, "\tdir in priority 0 ptype main", "\tdir fwd priority 0 ptype main")
	if n := strings.Count(out, "dir out"); n != 3 {
		t.Errorf("%d outbound policies left, want 3:\n%s", n, out)
	}
}

// TestKernelApplyClearUndo: a batch that clears and then fails puts back
// every policy the Clear took, foreign ones (a mark, an if_id) included.
func TestKernelApplyClearUndo(t *testing.T) {
	tb, ns := undoTable(t)
	before, entries := tableText(t, ns), mustEntries(t, tb)
	ops := []Op{
		{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: genEroute(3).Selector, SAID: eroute.Drop}},
		{Kind: eroute.OpAdd, Eroute: genEroute(500)},
		{Kind: eroute.OpClear, Force: true},
		{Kind: eroute.OpAdd, Eroute: genEroute(3)},
		{Kind: eroute.OpAdd, Eroute: genEroute(501)},
		{Kind: eroute.OpDelete, Eroute: genEroute(502)}, // missing
		{Kind: eroute.OpAdd, Eroute: genEroute(503)},
	}
	err := tb.Apply(ops)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 5 || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Apply: %v, want ErrNotFound for op 5", err)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := mustEntries(t, tb); !slices.EqualFunc(got, entries, sameEntry) {
		t.Errorf("Entries changed:\n%v\nwant\n%v", got, entries)
	}
	wantContains(t, policies(t, ns), "mark 0x5/0xff", "if_id 0x7")
}

// TestKernelApplyConcurrent runs four batches on disjoint selectors at
// once, each over its own socket: the table ends with all of them.
func TestKernelApplyConcurrent(t *testing.T) {
	_, ns := openTable(t)
	const workers, each = 4, 500
	var wg sync.WaitGroup
	errs := make([]error, workers)
	var all []eroute.Eroute
	for w := 0; w < workers; w++ {
		var es []eroute.Eroute
		for i := 0; i < each; i++ {
			es = append(es, genEroute(w*each+i))
		}
		all = append(all, es...)
		tb, err := Open(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer tb.Close()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errs[w] = tb.Apply(adds(es...))
		}(w)
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	tb, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	wantList(t, tb, all...)
}

// TestKernelEntries tells eroute's own policies from those of ip xfrm,
// and those Delete can remove from those it cannot.
func TestKernelEntries(t *testing.T) {
	tb, ns := openTable(t)
	own := []eroute.Eroute{genEroute(0), genEroute(1), genEroute(2), genEroute(3), genEroute(4), genEroute(6)}
	mustApply(t, tb, adds(own...))
	if err := tb.AddHold(holdFor(genEroute(7).Selector), 30e9); err != nil {
		t.Fatal(err)
	}
	addForeign(t, ns, foreignPolicies...)
	// The exact shape eroute writes, made by ip: eroute's own.
	p := PolicyOf(genEroute(8))
	addForeign(t, ns, fmt.Sprintf("src %s dst %s dir out priority %d tmpl src 0.0.0.0 dst %s proto esp spi 0x%x mode tunnel",
		genEroute(8).Src, genEroute(8).Dst, p.Priority, genEroute(8).SAID.Dst, genEroute(8).SAID.SPI))

	type flags struct{ own, deletable bool }
	want := map[string]flags{}
	for _, e := range own {
		want[e.Selector.String()] = flags{true, true}
	}
	want[genEroute(7).Selector.String()] = flags{true, true}
	want[genEroute(8).Selector.String()] = flags{true, true}
	want["10.200.0.0/16 -> 10.201.0.0/16"] = flags{false, true} // and one with a mark: below
	want["10.202.0.0/16 -> 10.203.0.0/16"] = flags{false, false}
	want["10.204.1.2/16 -> 10.205.0.0/16"] = flags{false, true}
	// ip writes the port with the mask 0xffff, as eroute does: Delete
	// finds it.
	want["[3049:7::/64]:53 -> 3049:8::/64:17"] = flags{false, true}
	es := mustEntries(t, tb)
	marked := 0
	for _, e := range es {
		key := e.Selector.String()
		w, ok := want[key]
		if key == "10.200.0.0/16 -> 10.201.0.0/16" && e.Mark == 5 {
			marked++
			w = flags{false, false}
		}
		if !ok {
			t.Errorf("unexpected entry %v", e)
			continue
		}
		if e.Own != w.own || e.Deletable != w.deletable {
			t.Errorf("%v: Own %v Deletable %v, want %v %v", e.Eroute, e.Own, e.Deletable, w.own, w.deletable)
		}
	}
	if marked != 1 || len(es) != len(want)+1 {
		t.Errorf("%d entries (%d with a mark), want %d", len(es), marked, len(want)+1)
	}

	// Entries, List and Walk agree.
	list := mustList(t, tb)
	var walked []eroute.Eroute
	if err := tb.Walk(func(e eroute.Eroute) error { walked = append(walked, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(list, walked) || len(list) != len(es) {
		t.Errorf("List and Walk differ:\n%v\n%v", list, walked)
	}
	for i := range es {
		if es[i].Eroute != list[i] {
			t.Errorf("entry %d: %v, List %v", i, es[i].Eroute, list[i])
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := tb.Walk(func(eroute.Eroute) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Walk gave %v after %d calls, want the callback's error after 1", err, n)
	}
}

// TestKernelApplyAddsUndo: a batch of adds needs no dump; the adds before
// the refused one, in earlier datagrams too, are deleted again.
func TestKernelApplyAddsUndo(t *testing.T) {
	tb, ns := undoTable(t)
	before := tableText(t, ns)
	var ops []Op
	for i := 0; i < 2*runMaxMsgs+100; i++ {
		ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(1000 + i)})
	}
	n := 2*runMaxMsgs + 50
	ops[n] = Op{Kind: eroute.OpAdd, Eroute: genEroute(7)} // exists
	err := tb.Apply(ops)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != n || !errors.Is(err, ErrExists) {
		t.Fatalf("Apply: %v, want ErrExists for op %d", err, n)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// ipSelector writes an eroute's selector as ip xfrm takes it.
func ipSelector(e eroute.Eroute) []string {
	args := []string{"src", e.Src.String(), "dst", e.Dst.String()}
	if e.Proto != 0 {
		args = append(args, "proto", strconv.Itoa(int(e.Proto)), "dport", strconv.Itoa(int(e.DstPort)))
	}
	return args
}

// TestKernelUndoLeavesOthersChanges: what another process changed between
// a failed batch and its undo stays as that process left it (the undo
// never re-creates what it removed, nor removes what it made), and a
// policy no op names (a foreign inbound one with a hard lifetime) is
// never written.
func TestKernelUndoLeavesOthersChanges(t *testing.T) {
	tb, ns := openTable(t)
	for i := 0; i < 10; i++ {
		if err := tb.Add(genEroute(i)); err != nil {
			t.Fatal(err)
		}
	}
	ipn(t, ns, "xfrm", "policy", "add", "src", "10.9.0.0/16", "dst", "10.8.0.0/16", "dir", "in", "limit", "time-hard", "30")
	replaced := genEroute(1)
	replaced.SAID = eroute.Drop
	ops := []Op{
		{Kind: eroute.OpReplace, Eroute: replaced},
		{Kind: eroute.OpDelete, Eroute: genEroute(2)},
		{Kind: eroute.OpDelete, Eroute: genEroute(3)},
		{Kind: eroute.OpAdd, Eroute: genEroute(100)},
		{Kind: eroute.OpAdd, Eroute: genEroute(101)},
		{Kind: eroute.OpDelete, Eroute: genEroute(5000)}, // refused
	}
	untouched := indexesBut(t, ns, ops)
	before := tableText(t, ns)
	w := watchPolicies(t, ns)
	undoHook = func() {
		// Another process, after the batch and before its undo.
		ipn(t, ns, append(append([]string{"xfrm", "policy", "delete"}, ipSelector(genEroute(1))...), "dir", "out")...)
		ipn(t, ns, append(append([]string{"xfrm", "policy", "add"}, ipSelector(genEroute(2))...), "dir", "out", "action", "block")...)
		ipn(t, ns, append(append([]string{"xfrm", "policy", "update"}, ipSelector(genEroute(100))...), "dir", "out", "action", "block")...)
	}
	defer func() { undoHook = nil }()
	err := tb.Apply(ops)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 5 || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Apply: %v, want ErrNotFound for op 5", err)
	}
	wantUntouched(t, w, untouched)
	got := map[eroute.Selector]Entry{}
	for _, e := range mustEntries(t, tb) {
		got[e.Selector] = e
	}
	if e, ok := got[genEroute(1).Selector]; ok {
		t.Errorf("the undo made again %v, which another process deleted after the batch replaced it", e)
	}
	for _, i := range []int{2, 100} {
		if e := got[genEroute(i).Selector]; e.Own || e.SAID != eroute.Drop {
			t.Errorf("eroute %d: %+v, want the block policy another process made", i, e)
		}
	}
	if e := got[genEroute(3).Selector]; e.Eroute != genEroute(3) || !e.Own {
		t.Errorf("eroute 3 not put back: %+v", e)
	}
	if _, ok := got[genEroute(101).Selector]; ok {
		t.Error("eroute 101, which the batch made, stays")
	}
	// The rest is as it was, indexes included.
	undoHook = nil
	mustApply(t, tb, []Op{{Kind: eroute.OpDelete, Eroute: genEroute(2), Force: true}, {Kind: eroute.OpDelete, Eroute: genEroute(100), Force: true}, {Kind: eroute.OpAdd, Eroute: genEroute(1)}})
	after := tableText(t, ns)
	for _, b := range strings.Split(before, "src ") {
		if !strings.Contains(b, "12.0.0.1/32") && !strings.Contains(b, "fd00:1::2") && !strings.Contains(after, b) {
			t.Errorf("policy changed or gone:\nsrc %s", b)
		}
	}
}

// TestKernelApplyUntil closes stop while a batch is being sent (from the
// op function, past op 2100 of 6000, in the middle of a datagram): the
// batch stops within stopEvery ops, every request it built is sent and
// undone, and the table is as it was; a stop closed before the start
// sends nothing.
func TestKernelApplyUntil(t *testing.T) {
	for _, snap := range []bool{false, true} {
		tb, ns := undoTable(t)
		before := tableText(t, ns)
		var ops []Op
		// Host-to-host IPv4 selectors only, which sendOrder leaves in
		// their order: op i is the i-th sent.
		for i := 0; i < 6000; i++ {
			ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(1000 + 4*i)})
		}
		ops[10] = Op{Kind: eroute.OpDelete, Eroute: genEroute(3)}
		ops[11] = Op{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: genEroute(4).Selector, SAID: eroute.Drop}}
		w := watchPolicies(t, ns)
		stop := make(chan struct{})
		closed, asked := false, 0 // asked: the op at which stop was closed
		op := func(i int) Op {
			// Stop once the kernel has some of the batch (the passes
			// over the ops before sending send nothing).
			if i >= 2100 && w.c.queued() && !closed {
				close(stop)
				closed = true
				asked = i
			}
			return ops[i]
		}
		apply := tb.ApplyFuncUntil
		if snap {
			apply = mustSnapshot(t, tb).ApplyFuncUntil
		}
		err := apply(stop, len(ops), op)
		var be *BatchError
		if !errors.As(err, &be) || be.Index != -1 || !errors.Is(err, ErrInterrupted) {
			t.Fatalf("ApplyFuncUntil: %v, want a BatchError -1 ErrInterrupted", err)
		}
		if !closed {
			t.Fatal("the kernel saw nothing of the batch by op 2100")
		}
		if after := tableText(t, ns); after != before {
			t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		// Every request built was sent, carried out and undone: the
		// adds up to where stop was seen, the delete and the replace.
		if n := len(w.touched()); n < asked+1 || n > asked+1+stopEvery {
			t.Errorf("%d policies written; stop was closed at op %d and seen within %d ops", n, asked, stopEvery)
		}
		if err := tb.ApplyFuncUntil(stop, len(ops), op); !errors.Is(err, ErrInterrupted) {
			t.Errorf("with stop closed already: %v", err)
		}
		if n := len(w.touched()); n != 0 {
			t.Errorf("with stop closed already, %d policies written", n)
		}
	}
}

// TestKernelApplySendOrder: the kernel made the policies of a batch of
// adds in sendOrder (its indexes grow with each policy made, as `ip -s
// xfrm policy` shows them), and an op refused after reordering is still
// reported by its own place, with the table as it was.
func TestKernelApplySendOrder(t *testing.T) {
	tb, ns := openTable(t)
	var ops []Op
	for i, bits := range []int{30, 24, 8, 20, 12, 32, 16, 9, 28, 15} {
		for j, sbits := range []int{32, 8, 20, 14} {
			src := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), byte(j), 0}), sbits).Masked()
			dst := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(20 + i), byte(j), 0, 0}), bits).Masked()
			ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: eroute.Eroute{Selector: eroute.Selector{Src: src, Dst: dst}, SAID: eroute.Drop}})
		}
	}
	mustApply(t, tb, ops)
	var made []string // src dst, in the kernel's order of making
	policy := regexp.MustCompile(`(?m)^src (\S+) dst (\S+) .*\n\s+dir out action \S+ index (\d+) `)
	idx := map[string]int{}
	for _, m := range policy.FindAllStringSubmatch(ipn(t, ns, "-s", "xfrm", "policy", "list"), -1) {
		var n int
		fmt.Sscan(m[3], &n)
		idx[m[1]+" "+m[2]] = n
		made = append(made, m[1]+" "+m[2])
	}
	slices.SortFunc(made, func(a, b string) int { return idx[a] - idx[b] })
	var want []string
	for _, i := range sendOrder(len(ops), func(i int) Op { return ops[i] }) {
		want = append(want, ops[i].Eroute.Src.String()+" "+ops[i].Eroute.Dst.String())
	}
	if !slices.Equal(made, want) {
		t.Fatalf("policies made in the order\n%s\nwant\n%s", strings.Join(made, "\n"), strings.Join(want, "\n"))
	}

	// A refused op late in the batch but sent early: reported by its place.
	before := tableText(t, ns)
	var more []Op
	for i := 0; i < 2*runMaxMsgs; i++ {
		more = append(more, Op{Kind: eroute.OpAdd, Eroute: genEroute(1000 + i)})
	}
	refused := len(more) - 1
	more[refused] = ops[9] // 10.0.0.0/8 -> 22.0.0.0/8 exists, and goes first
	err := tb.Apply(more)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != refused || !errors.Is(err, ErrExists) {
		t.Fatalf("Apply: %v, want ErrExists for op %d", err, refused)
	}
	if after := tableText(t, ns); after != before {
		t.Errorf("table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestKernelApplyIdempotent: an Idempotent op whose effect is in place is
// no failure (a delete of what is gone, an add of eroute's own policy
// with the same SAID), but an add that finds another SAID, a foreign
// policy or a monitor's temporary hold is; without Idempotent, each is
// refused as before.
func TestKernelApplyIdempotent(t *testing.T) {
	tb, ns := openTable(t)
	mustApply(t, tb, adds(genEroute(0), genEroute(1), genEroute(2)))
	hold := genEroute(3)
	hold.SAID = eroute.Hold
	if err := tb.AddHold(Hold{Selector: hold.Selector, Priority: priority(hold.Selector, kindMonitorHold)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	ipn(t, ns, append(append([]string{"xfrm", "policy", "add"}, ipSelector(genEroute(4))...), "dir", "out", "action", "block")...)
	other := genEroute(1)
	other.SAID = eroute.Reject
	foreign := genEroute(4)
	foreign.SAID = eroute.Drop
	gone := Op{Kind: eroute.OpDelete, Eroute: genEroute(50), Idempotent: true}
	there := Op{Kind: eroute.OpAdd, Eroute: genEroute(0), Idempotent: true}
	fresh := Op{Kind: eroute.OpAdd, Eroute: genEroute(51), Idempotent: true}
	before := tableText(t, ns)
	for _, c := range []struct {
		name string
		ops  []Op
		want error // nil: applied
	}{
		{"delete of what is gone", []Op{fresh, gone}, nil},
		{"add of what is there", []Op{there, {Kind: eroute.OpDelete, Eroute: genEroute(51), Idempotent: true}}, nil},
		{"add over another SAID", []Op{fresh, {Kind: eroute.OpAdd, Eroute: other, Idempotent: true}}, ErrExists},
		{"add over a monitor hold", []Op{fresh, {Kind: eroute.OpAdd, Eroute: hold, Idempotent: true}}, ErrExists},
		{"add over a foreign policy", []Op{fresh, {Kind: eroute.OpAdd, Eroute: foreign, Idempotent: true}}, ErrExists},
		{"delete of what is gone, not idempotent", []Op{fresh, {Kind: eroute.OpDelete, Eroute: genEroute(50)}}, ErrNotFound},
		{"add of what is there, not idempotent", []Op{fresh, {Kind: eroute.OpAdd, Eroute: genEroute(0)}}, ErrExists},
	} {
		err := tb.Apply(c.ops)
		var be *BatchError
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != nil && (!errors.As(err, &be) || be.Index != 1 || !errors.Is(err, c.want)):
			t.Errorf("%s: %v, want %v for op 1", c.name, err, c.want)
		case c.want != nil:
			if after := tableText(t, ns); after != before {
				t.Errorf("%s: the table changed", c.name)
			}
		}
	}
	wantList(t, tb, genEroute(0), genEroute(1), genEroute(2), hold, foreign)
	for _, e := range mustEntries(t, tb) {
		if e.MonitorHold != (e.Selector == hold.Selector) || e.MonitorHold && !e.Own {
			t.Errorf("%v: MonitorHold %v, Own %v", e.Eroute, e.MonitorHold, e.Own)
		}
	}
}

// TestKernelApplyClearGoneMeanwhile: a policy that goes after the batch's
// dump and before its Clear's delete is what the Clear wanted: the batch
// goes on and applies its later ops (the refusal once stopped the sending,
// and the batch reported success without them).
func TestKernelApplyClearGoneMeanwhile(t *testing.T) {
	tb, ns := openTable(t)
	mustApply(t, tb, adds(genEroute(0), genEroute(4), genEroute(8)))
	w := watchPolicies(t, ns)
	var ops []Op
	for i := 0; i < runMaxMsgs+100; i++ { // more than a datagram before the Clear
		ops = append(ops, Op{Kind: eroute.OpAdd, Eroute: genEroute(1000 + 4*i)})
	}
	clearAt := len(ops)
	ops = append(ops, Op{Kind: eroute.OpClear}, Op{Kind: eroute.OpAdd, Eroute: genEroute(12)})
	removed := false
	op := func(i int) Op {
		if i == clearAt && w.c.queued() && !removed {
			ipn(t, ns, append(append([]string{"xfrm", "policy", "delete"}, ipSelector(genEroute(4))...), "dir", "out")...)
			removed = true
		}
		return ops[i]
	}
	if err := tb.ApplyFunc(len(ops), op); err != nil {
		t.Fatalf("ApplyFunc: %v", err)
	}
	if !removed {
		t.Fatal("the policy was not removed while the batch was sent")
	}
	wantList(t, tb, genEroute(12))
}
