package cli

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// The KLIPS texts the fake table answers with, as the kernel driver does.
const (
	errInUse    = "eroute already in use.  Delete old one first."
	errNotThere = "eroute doesn't exist.  Can't delete."
)

// fakeTable is the policy table in memory: outbound eroutes (listed) and
// inbound ones (not listed), keyed by selector. It also checks what the
// parser hands it, and keeps every breach of the parser's promises in bad.
type fakeTable struct {
	out, in  map[eroute.Selector]eroute.Eroute
	netns    []string // the namespaces Open was called for
	opened   int      // Opens minus Closes
	bad      []string
	failOpen error
	failList error
	foreign  map[eroute.Selector]bool // policies "someone else" made
	// foreignIn: inbound policies "someone else" made (an IKE daemon's)
	foreignIn map[eroute.Selector]bool
	lookups   int                      // Lookup calls
	finds     int                      // Find calls
	holds     map[eroute.Selector]bool // %hold eroutes a monitor put
	// failApply, when set, is what Apply answers (for its first op),
	// changing nothing.
	failApply error
	// duringApply runs before each op of a batch; beforeInbound before
	// each inbound add or replace.
	duringApply   func(i int, stop <-chan struct{})
	beforeInbound func()
}

func newFakeTable() *fakeTable {
	return &fakeTable{out: map[eroute.Selector]eroute.Eroute{}, in: map[eroute.Selector]eroute.Eroute{}}
}

func (t *fakeTable) open(netns string) (Table, error) {
	if t.failOpen != nil {
		return nil, t.failOpen
	}
	t.netns = append(t.netns, netns)
	t.opened++
	return t, nil
}

func (t *fakeTable) Close() error {
	t.opened--
	return nil
}

// check records an eroute that no parsed command line may produce.
func (t *fakeTable) check(op string, e eroute.Eroute, needSAID bool) {
	if err := e.Selector.Validate(); err != nil {
		t.bad = append(t.bad, fmt.Sprintf("%s %+v: %v", op, e, err))
	}
	if needSAID && e.SAID.IsZero() {
		t.bad = append(t.bad, fmt.Sprintf("%s %+v: no SAID", op, e))
	}
	if !e.SAID.IsMagic() && !e.SAID.IsZero() && eroute.CheckSADst(e.SAID.Dst) != nil {
		t.bad = append(t.bad, fmt.Sprintf("%s %+v: an SA destination no SA can have", op, e))
	}
	if e.SAID.Dst.Zone() != "" || e.Src.Addr().Zone() != "" || e.Dst.Addr().Zone() != "" {
		t.bad = append(t.bad, fmt.Sprintf("%s %+v: address with a zone", op, e))
	}
}

func (t *fakeTable) Add(e eroute.Eroute) error {
	t.check("add", e, true)
	if _, ok := t.out[e.Selector]; ok {
		return errors.New(errInUse)
	}
	t.out[e.Selector] = e
	return nil
}

func (t *fakeTable) Replace(e eroute.Eroute) error {
	t.check("replace", e, true)
	t.out[e.Selector] = e
	return nil
}

func (t *fakeTable) Delete(s eroute.Selector) error {
	t.check("del", eroute.Eroute{Selector: s}, false)
	if _, ok := t.out[s]; !ok {
		return errors.New(errNotThere)
	}
	delete(t.out, s)
	return nil
}

// Clear deletes eroute's own policies; all, the foreign ones too.
func (t *fakeTable) Clear(all bool) error {
	for sel := range t.out {
		if all || !t.foreign[sel] {
			delete(t.out, sel)
		}
	}
	return nil
}

// fakeForeignPrio is the priority of the fake's foreign policies: charon's.
const fakeForeignPrio = 367231

// entry gives the Entry of a policy of the fake table.
func (t *fakeTable) entry(e eroute.Eroute, inbound bool) Entry {
	en := Entry{Eroute: e, Own: true, Deletable: true, Inbound: inbound, Priority: 1 << 24}
	if !inbound && t.foreign[e.Selector] {
		en.Own, en.Priority = false, fakeForeignPrio
	}
	en.MonitorHold = !inbound && t.holds[e.Selector] && e.SAID == eroute.Hold
	return en
}

func (t *fakeTable) WalkEntries(fn func(Entry) error) error {
	return t.Walk(func(e eroute.Eroute) error {
		en := t.entry(e, false)
		if en.Own {
			en.ShadowedBy, _ = t.Shadow(e)
		}
		return fn(en)
	})
}

func (t *fakeTable) Lookup(sel eroute.Selector, inbound bool) (Entry, bool, error) {
	t.lookups++
	m := t.out
	if inbound {
		m = t.in
	}
	e, ok := m[sel]
	if !ok {
		return Entry{}, false, nil
	}
	return t.entry(e, inbound), true, nil
}

// Find finds nothing Lookup does not: the fake has no marks.
func (t *fakeTable) Find(sel eroute.Selector, inbound bool) ([]Entry, error) {
	t.finds++
	if e, ok, _ := t.Lookup(sel, inbound); ok {
		return []Entry{e}, nil
	}
	return nil, nil
}

func (t *fakeTable) DeleteEntries(es []Entry) error {
	for _, e := range es {
		if e.Inbound {
			if err := t.DeleteInbound(e.Selector); err != nil {
				return err
			}
		} else if err := t.Delete(e.Selector); err != nil {
			return err
		}
	}
	return nil
}

// Shadow finds a foreign policy whose prefixes hold the eroute's: the
// fake's foreign policies all have lower priority values than eroutes.
func (t *fakeTable) Shadow(e eroute.Eroute) (*Entry, error) {
	for sel, f := range t.out {
		if t.foreign[sel] && sel != e.Selector && sel.Proto == 0 &&
			sel.Src.Bits() <= e.Src.Bits() && sel.Src.Contains(e.Src.Addr()) &&
			sel.Dst.Bits() <= e.Dst.Bits() && sel.Dst.Contains(e.Dst.Addr()) {
			h := t.entry(f, false)
			return &h, nil
		}
	}
	return nil, nil
}

func (t *fakeTable) List() ([]eroute.Eroute, error) {
	if t.failList != nil {
		return nil, t.failList
	}
	return sorted(t.out), nil
}

func (t *fakeTable) DeleteInbound(s eroute.Selector) error {
	t.check("delin", eroute.Eroute{Selector: s}, false)
	if _, ok := t.in[s]; !ok {
		return errors.New(errNotThere)
	}
	delete(t.in, s)
	return nil
}

func (t *fakeTable) AddInbound(e eroute.Eroute, replace bool) error {
	if t.beforeInbound != nil {
		t.beforeInbound()
	}
	t.check("addin", e, true)
	if _, ok := t.in[e.Selector]; ok && !replace {
		return errors.New(errInUse)
	}
	t.in[e.Selector] = e
	return nil
}

// Apply applies ops in order on a copy, and keeps the copy only when every
// op succeeded: all or nothing, as the kernel driver promises.
func (t *fakeTable) Apply(ops []Op) error {
	return t.ApplyUntil(nil, ops)
}

// ApplyUntil is Apply that stops before an op once stop is closed, puts the
// table back and gives a *BatchError with Index -1, as the driver does.
// duringApply, when set, runs before op i.
func (t *fakeTable) ApplyUntil(stop <-chan struct{}, ops []Op) error {
	if t.failApply != nil {
		return &BatchError{Index: 0, Err: t.failApply}
	}
	for i, op := range ops {
		if e, ok := t.out[op.Eroute.Selector]; ok && t.foreign[op.Eroute.Selector] && !op.Force &&
			(op.Kind == eroute.OpReplace || op.Kind == eroute.OpDelete) {
			return &BatchError{Index: i, Err: &ForeignError{Holder: t.entry(e, false)}}
		}
	}
	saved := maps.Clone(t.out)
	for i, op := range ops {
		if t.duringApply != nil {
			t.duringApply(i, stop)
		}
		select {
		case <-stop:
			t.out = saved
			return &BatchError{Index: -1, Err: errors.New("interrupted")}
		default:
		}
		cur, there := t.out[op.Eroute.Selector]
		var err error
		switch op.Kind {
		case eroute.OpAdd:
			if op.Idempotent && there && cur == op.Eroute && !t.foreign[cur.Selector] && !t.holds[cur.Selector] {
				break // in place already, as the driver sees it
			}
			err = t.Add(op.Eroute)
		case eroute.OpDelete:
			if !op.Idempotent || there {
				err = t.Delete(op.Eroute.Selector)
			}
		case eroute.OpReplace:
			err = t.Replace(op.Eroute)
		case eroute.OpClear:
			err = t.Clear(op.Force)
		default:
			t.bad = append(t.bad, fmt.Sprintf("op of kind %d", op.Kind))
		}
		if err != nil {
			t.out = saved
			return &BatchError{Index: i, Err: err}
		}
	}
	return nil
}

// Walk gives List one at a time.
func (t *fakeTable) Walk(fn func(eroute.Eroute) error) error {
	list, err := t.List()
	if err != nil {
		return err
	}
	for _, e := range list {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot lists every eroute as eroute's own, but those in foreign; its
// Apply is the table's.
func (t *fakeTable) Snapshot() (Snapshot, error) {
	list, err := t.List()
	entries := make([]Entry, len(list))
	for i, e := range list {
		entries[i] = t.entry(e, false)
	}
	return fakeSnapshot{t, entries}, err
}

// InboundEntries lists the inbound eroutes, eroute's own but those in
// foreignIn.
func (t *fakeTable) InboundEntries() ([]Entry, error) {
	var es []Entry
	for _, e := range sorted(t.in) {
		es = append(es, Entry{Eroute: e, Own: !t.foreignIn[e.Selector], Deletable: true, Inbound: true})
	}
	return es, nil
}

// Holds gives the %hold eroutes in holds.
func (t *fakeTable) Holds() ([]Hold, error) {
	var hs []Hold
	for s := range t.holds {
		hs = append(hs, Hold{Selector: s})
	}
	return hs, nil
}

type fakeSnapshot struct {
	*fakeTable
	entries []Entry
}

func (s fakeSnapshot) Len() int          { return len(s.entries) }
func (s fakeSnapshot) Entry(i int) Entry { return s.entries[i] }

// Match gives the rest backwards: no caller may count on its order.
func (s fakeSnapshot) Match(n int, sel func(i int) eroute.Selector, found func(i int, e Entry), rest func(e Entry)) bool {
	var others []Entry
	repeats := entrySlice(s.entries).Match(n, sel, found, func(e Entry) { others = append(others, e) })
	for i := len(others) - 1; i >= 0; i-- {
		rest(others[i])
	}
	return repeats
}

func (s fakeSnapshot) IndexSelectors() {}

func (s fakeSnapshot) Close() error { return nil }

func sorted(m map[eroute.Selector]eroute.Eroute) []eroute.Eroute {
	var list []eroute.Eroute
	for _, e := range m {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b eroute.Eroute) int { return eroute.Compare(a.Selector, b.Selector) })
	return list
}

// snapshot is the whole state of the table, inbound eroutes included.
func (t *fakeTable) snapshot() string {
	var b strings.Builder
	for _, e := range sorted(t.out) {
		fmt.Fprintln(&b, "out", e)
	}
	for _, e := range sorted(t.in) {
		fmt.Fprintln(&b, "in", e)
	}
	return b.String()
}

// fakeResolver answers from a fixed table, as /etc/hosts would, at once, and
// refuses every other name.
type fakeResolver map[string][]netip.Addr

var manualHosts = fakeResolver{
	"company.com":    {netip.MustParseAddr("192.0.2.10")},
	"gw.ngo.org":     {netip.MustParseAddr("198.51.100.1")},
	"mail.ngo.org":   {netip.MustParseAddr("198.51.100.25")},
	"ftp.ngo.org":    {netip.MustParseAddr("198.51.100.21")},
	"www.ietf.org":   {netip.MustParseAddr("203.0.113.80")},
	"v6only.example": {netip.MustParseAddr("2001:db8::80")},
	"dual.example":   {netip.MustParseAddr("2001:db8::81"), netip.MustParseAddr("192.0.2.81")},
}

func (r fakeResolver) LookupHost(name string, family eroute.Family) (netip.Addr, error) {
	addrs, ok := r[name]
	if !ok {
		return netip.Addr{}, fmt.Errorf("host name %q not found", name)
	}
	for _, want := range []eroute.Family{eroute.Inet, eroute.Inet6} {
		if family != eroute.Unspec && family != want {
			continue
		}
		for _, a := range addrs {
			if eroute.FamilyOf(a) == want {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("host name %q has no %s address", name, family)
}

// testNames writes small protocols and services files into dir.
func testNames(tb testing.TB, dir string) eroute.Names {
	tb.Helper()
	n := eroute.Names{
		ProtocolsFile: filepath.Join(dir, "protocols"),
		ServicesFile:  filepath.Join(dir, "services"),
	}
	protocols := "# test protocols\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\n"
	services := "# test services\npop3\t\t110/tcp\t\tpop-3\npop3\t\t110/udp\t\tpop-3\n"
	if err := os.WriteFile(n.ProtocolsFile, []byte(protocols), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(n.ServicesFile, []byte(services), 0o644); err != nil {
		tb.Fatal(err)
	}
	return n
}

// world is one fake table, fake resolver, test names and captured output.
type world struct {
	table          *fakeTable
	names          eroute.Names
	monitor        *fakeMonitor
	stdin          string
	stdout, stderr bytes.Buffer
	lock           *fakeLock // nil: no LockTable
}

func newWorld(tb testing.TB) *world {
	return &world{table: newFakeTable(), names: testNames(tb, tb.TempDir()), monitor: &fakeMonitor{holds: map[Hold]uint32{}}}
}

func (w *world) env() Env {
	env := Env{
		Stdin:  strings.NewReader(w.stdin),
		Stdout: &w.stdout,
		Stderr: &w.stderr,
		Open:   w.table.open,
		OpenMonitor: func(string, int) (MonitorKernel, error) {
			return w.monitor, nil
		},
		Parser: Parser{Resolver: manualHosts, Names: w.names},
	}
	if w.lock != nil {
		env.LockTable = w.lock.acquire
	}
	return env
}

// run runs one command line with fresh output buffers.
func (w *world) run(args ...string) int {
	w.stdout.Reset()
	w.stderr.Reset()
	return Run(args, w.env())
}

// mustRun runs a command line that must succeed silently on stderr.
func (w *world) mustRun(tb testing.TB, args ...string) {
	tb.Helper()
	if code := w.run(args...); code != 0 || w.stderr.Len() != 0 {
		tb.Fatalf("eroute %s: status %d, stderr %q", strings.Join(args, " "), code, w.stderr.String())
	}
}

// manualCommands are the examples of the manual page, in its order, with
// the add of the passthrough eroute that example 4 deletes before it.
var manualCommands = [][]string{
	{"--add", "--eraf", "inet", "--src", "192.168.0.1/32", "--dst", "192.168.2.0/24",
		"--af", "inet", "--edst", "192.168.0.2", "--spi", "0x135", "--proto", "tun"},
	{"--add", "--eraf", "inet6", "--src", "3049:1::1/128", "--dst", "3049:2::/64",
		"--af", "inet6", "--edst", "3049:1::2", "--spi", "0x145", "--proto", "tun"},
	{"--replace", "--eraf", "inet", "--src", "company.com/24", "--dst", "ftp.ngo.org/32",
		"--said", "tun.135@gw.ngo.org"},
	{"--add", "--eraf", "inet", "--src", "company.com/24", "--dst", "www.ietf.org/32",
		"--said", "%passthrough4"},
	{"--del", "--eraf", "inet", "--src", "company.com/24", "--dst", "www.ietf.org/32",
		"--said", "%passthrough4"},
	{"--add", "--eraf", "inet", "--src", "company.com/24", "--dst", "mail.ngo.org/32",
		"--transport-proto", "6", "--dst-port", "110", "--said", "tun.135@mail.ngo.org"},
	{"--add", "--eraf", "inet", "--src", "company.com/24", "--dst", "mail.ngo.org/32",
		"--said", "%pass"},
}

// manualListing is the listing after manualCommands.
const manualListing = `0          192.0.2.0/24       -> 198.51.100.21/32   => tun0x135@198.51.100.1
0          192.0.2.0/24       -> 198.51.100.25/32   => %pass
0          192.0.2.0/24       -> 198.51.100.25/32:110 => tun0x135@198.51.100.25:6
0          192.168.0.1/32     -> 192.168.2.0/24     => tun0x135@192.168.0.2
0          3049:1::1/128      -> 3049:2::/64        => tun0x145@3049:1::2
`

// withManualTable gives a world whose table holds the manual's eroutes.
func withManualTable(tb testing.TB) *world {
	tb.Helper()
	w := newWorld(tb)
	for _, args := range manualCommands {
		w.mustRun(tb, args...)
	}
	return w
}
