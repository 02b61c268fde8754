package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Table is the XFRM policy table of one network namespace, seen as a table
// of eroutes. Its methods may be called from several goroutines.
type Table struct {
	c     *nlConn
	netns string // as given to Open
	// dial, when set, makes another socket to the same kernel in place
	// of one made in netns: the tests' fake kernel.
	dial    func() (*nlConn, error)
	timeout time.Duration // of every socket it makes
}

// Open opens the XFRM policy table of the network namespace called
// netnsName as `ip netns` names it (/var/run/netns/NAME); "" means the
// caller's own namespace. The socket is created inside that namespace and
// keeps working on its table from anywhere; the process never changes
// namespace.
func Open(netnsName string) (*Table, error) {
	return OpenWith(OpenOptions{Netns: netnsName})
}

// OpenWith is Open with options.
func OpenWith(o OpenOptions) (*Table, error) {
	timeout := cmp.Or(o.Timeout, defaultTimeout)
	c, err := dialIn(o.Netns, xfrmConfig(timeout))
	if err != nil {
		return nil, err
	}
	return &Table{c: c, netns: o.Netns, timeout: timeout}, nil
}

// Close releases the socket. Only the first call does; later ones give
// what it gave.
func (t *Table) Close() error {
	return t.c.close()
}

// Add adds an eroute; ErrExists when one with the same selector exists
// (XFRM_MSG_NEWPOLICY is exclusive).
func (t *Table) Add(e eroute.Eroute) error {
	p, err := t.policyFor(e, DirOut)
	if err != nil {
		return err
	}
	err = t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(p))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// Replace adds an eroute or replaces the one with the same selector in one
// XFRM_MSG_UPDPOLICY, so that no packet ever meets a gap. The kernel
// replaces by selector (and mark, if_id, type), whatever the old priority.
func (t *Table) Replace(e eroute.Eroute) error {
	p, err := t.policyFor(e, DirOut)
	if err != nil {
		return err
	}
	err = t.c.request(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, encodePolicy(p))
	return kernelError(err, 0, nil)
}

// policyFor gives the policy of an eroute in direction dir: PolicyOf's,
// with the templates of the SA group its SAID heads, if the SA table holds
// one (see groupTemplates).
func (t *Table) policyFor(e eroute.Eroute, dir uint8) (Policy, error) {
	p := PolicyOf(e)
	p.Dir = dir
	if !namesSA(e.SAID) {
		return p, nil
	}
	t.c.mu.Lock()
	groups, err := t.c.groupsFor([]eroute.SAID{e.SAID})
	t.c.mu.Unlock()
	if err != nil {
		return Policy{}, err
	}
	return withGroup(p, groups[e.SAID]), nil
}

// AddInbound adds (or with replace, replaces) the inbound policy of a
// tunnel, as KLIPS --addin and --replacein did: the eroute's policy with
// direction in, and the same with direction forward, so that the kernel
// accepts the selector's traffic only when it arrived through the SAs the
// SAID names, whether it is for this host (in) or for a subnet behind it
// (forward: XFRM drops decapsulated packets no forward policy allows).
// If the forward policy cannot be added, the new in policy goes again.
func (t *Table) AddInbound(e eroute.Eroute, replace bool) error {
	p, err := t.policyFor(e, DirIn)
	if err != nil {
		return err
	}
	typ, flags := uint16(msgNewPolicy), uint16(unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	if replace {
		typ, flags = msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE
	}
	if err := t.c.request(typ, flags, encodePolicy(p)); err != nil {
		return kernelError(err, unix.EEXIST, ErrExists)
	}
	p.Dir = DirFwd
	if err := t.c.request(typ, flags, encodePolicy(p)); err != nil {
		if !replace {
			t.deleteDir(e.Selector, DirIn)
		}
		return kernelError(err, unix.EEXIST, ErrExists)
	}
	return nil
}

// AddHold puts a monitor hold in place (see Hold): a %hold on h.Selector,
// with h's scope and priority, that the kernel deletes after timeout,
// rounded up to whole seconds. ErrExists when a policy with the same
// selector and scope exists: another hold, or an eroute someone made
// (XFRM_MSG_NEWPOLICY is exclusive whatever the priority).
func (t *Table) AddHold(h Hold, timeout time.Duration) error {
	secs, err := holdSeconds(timeout)
	if err != nil {
		return err
	}
	err = t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(holdPolicy(h, secs)))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// Holds gives the monitor holds in the table, in the kernel's order. The
// dump is read as it comes: only the holds are kept, whatever the size of
// the table.
func (t *Table) Holds() ([]Hold, error) {
	var hs []Hold
	var v policyView
	err := t.c.dump(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil || !v.isMonitorHold() {
			return
		}
		p, err := decodePolicy(b)
		if h, ok := HoldOf(p); err == nil && ok {
			hs = append(hs, h)
		}
	})
	return hs, kernelError(err, 0, nil)
}

// DeleteHold deletes the policy with this selector and scope only if it is
// still a monitor hold: false, nil when it is gone (the kernel reaped it)
// or was replaced, say by eroute --replace, which writes another kind. The
// kernel cannot compare and delete in one message: DeleteHold reads the
// policy, then deletes it by its index. A replace between the two (the
// kernel keeps the index on replace) would be deleted in the hold's place;
// the window is one netlink round trip.
func (t *Table) DeleteHold(h Hold) (bool, error) {
	p, ok, err := t.get(holdPolicy(h, 0))
	if err != nil || !ok {
		return false, err
	}
	if !IsMonitorHold(p) {
		return false, nil
	}
	err = t.c.request(msgDelPolicy, 0, encodePolicyID(p))
	if errors.Is(err, unix.ENOENT) { // reaped meanwhile
		return false, nil
	}
	return err == nil, kernelError(err, 0, nil)
}

// getDir reads the eroute policy with this selector and direction, no
// mark (XFRM_MSG_GETPOLICY); false when there is none.
func (t *Table) getDir(sel eroute.Selector, dir uint8) (Policy, bool, error) {
	return t.get(Policy{Sel: selectorOf(sel), Dir: dir, Type: TypeMain})
}

// get reads the policy with id's selector, direction, type, mark and if_id
// (XFRM_MSG_GETPOLICY); false when there is none.
func (t *Table) get(id Policy) (Policy, bool, error) {
	id.Index = 0
	return t.GetPolicy(id)
}

// Lookup gives the policy a delete or a replace by this selector reaches
// (direction out, or in when inbound; no mark, no if_id), read back as the
// listing reads it: one XFRM_MSG_GETPOLICY. The selector is sent as given,
// host bits included (an eroute's never has any; someone else's may).
func (t *Table) Lookup(sel eroute.Selector, inbound bool) (Entry, bool, error) {
	p, ok, err := t.getDir(sel, dirOf(inbound))
	if err != nil || !ok {
		return Entry{}, false, err
	}
	e, ok := entryOf(p)
	if ok {
		t.c.mu.Lock()
		defer t.c.mu.Unlock()
		t.c.resolveEntry(&e, &p)
	}
	return e, ok, nil
}

// resolveEntry lists a foreign policy whose template names no SPI as the
// listing does: %trap when no SA answers it, else with the SAs' packets.
// The caller holds c.mu.
func (c *nlConn) resolveEntry(e *Entry, p *Policy) {
	if e.Own {
		return
	}
	if _, shaped := trapShaped(p); !shaped {
		return
	}
	sas, err := c.saIndex()
	if err != nil {
		return // listed as its template says
	}
	d := detail{p: *p}
	var r record
	d.resolve(&r, sas)
	if d.trap {
		e.SAID = eroute.Trap
	}
	e.Count = d.count
}

func dirOf(inbound bool) uint8 {
	if inbound {
		return DirIn
	}
	return DirOut
}

// Find gives every main policy of the direction that the listing shows
// with this selector, host bits as given: those with a mark, an if_id or
// port masks an eroute cannot say too, which Lookup does not reach. It
// dumps the table.
func (t *Table) Find(sel eroute.Selector, inbound bool) ([]Entry, error) {
	dir := dirOf(inbound)
	var es []Entry
	var ps []Policy
	var v policyView
	err := t.c.dump(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil || v.Dir != dir || v.Type != TypeMain {
			return
		}
		if s, ok := erouteSelector(v.Sel); !ok || s != sel {
			return
		}
		if p, err := decodePolicy(b); err == nil {
			if e, ok := entryOf(p); ok {
				es = append(es, e)
				ps = append(ps, p)
			}
		}
	})
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i := range es {
		t.c.resolveEntry(&es[i], &ps[i])
	}
	return es, nil
}

// DeleteEntries deletes policies Lookup or Find gave, by their index (with
// the mark and if_id the kernel matches too); ErrNotFound when one is gone.
// An inbound policy eroute made goes with the forward policy --addin made
// beside it (none is no error: older releases made none).
func (t *Table) DeleteEntries(es []Entry) error {
	for _, e := range es {
		p := Policy{Index: e.Index, Dir: dirOf(e.Inbound), Type: TypeMain, Mark: e.Mark, Mask: e.Mask, IfID: e.IfID}
		if err := t.c.request(msgDelPolicy, 0, encodePolicyID(p)); err != nil {
			return kernelError(err, unix.ENOENT, ErrNotFound)
		}
		if e.Inbound && e.Own {
			if err := t.deleteDir(e.Selector, DirFwd); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// shadowScanMax is the largest table Shadow reads: a dump of 256 policies
// is two datagrams, about 0.1 ms; a dump of 1,000 costs some 0.5 ms, a
// third of a whole --add process.
const shadowScanMax = 256

// Shadow gives the policy eroute did not make that takes every packet of
// the eroute before it would (it covers the selector with a lower priority
// value), the one with the lowest value when several do; nil when none
// does, or when the table holds more than shadowScanMax outbound policies
// (the JSON listing always tells: shadowed_by).
func (t *Table) Shadow(e eroute.Eroute) (*Entry, error) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.outCount(); n == 0 || n > shadowScanMax {
		return nil, nil
	}
	prio := priority(e.Selector, kindOf(e.SAID))
	var best *Entry
	var bestPolicy Policy
	var v policyView
	err := c.dumpLocked(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil || v.Dir != DirOut || v.Priority >= prio ||
			best != nil && v.Priority >= best.Priority {
			return
		}
		if _, own, _ := v.eroute(); own {
			return
		}
		p, err := decodePolicy(b)
		if err != nil || !covers(&p, e.Selector) {
			return
		}
		if f, ok := entryOf(p); ok {
			best, bestPolicy = &f, p
		}
	})
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	if best != nil {
		c.resolveEntry(best, &bestPolicy)
	}
	return best, nil
}

// Delete deletes the eroute with this selector; ErrNotFound when none. A
// policy with the same selector but a mark or an if_id is not an eroute
// and stays.
func (t *Table) Delete(s eroute.Selector) error {
	return t.deleteDir(s, DirOut)
}

// DeleteInbound deletes the in and forward policies --addin made for this
// selector; ErrNotFound when there is no in policy. A missing forward
// policy (an --addin of an older eroute made none) is no error.
func (t *Table) DeleteInbound(s eroute.Selector) error {
	if err := t.deleteDir(s, DirIn); err != nil {
		return err
	}
	if err := t.deleteDir(s, DirFwd); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func (t *Table) deleteDir(s eroute.Selector, dir uint8) error {
	p := Policy{Sel: selectorOf(s), Dir: dir, Type: TypeMain}
	err := t.c.request(msgDelPolicy, 0, encodePolicyID(p))
	return kernelError(err, unix.ENOENT, ErrNotFound)
}

// Clear deletes the eroutes List shows (all: every policy it shows,
// whoever made it), by the index the dump gave (with its mark and if_id,
// which the kernel matches too). Inbound, forward, socket and sub policies
// stay; XFRM_MSG_FLUSHPOLICY would take them all.
//
// It streams: the dump comes over a second socket, and the deletes of each
// datagram of it go out pipelined (see Apply) before the next is read, so
// that the memory does not grow with the table (1,000,000 eroutes are
// cleared in a few MB). The kernel's walk of the table survives the
// deletes: it keeps its place with a marker in the list of policies, and
// only policies it has passed are deleted. Unlike Apply, Clear is not
// undone when a delete fails.
func (t *Table) Clear(all bool) error {
	dc, err := t.newConn()
	if err != nil {
		return err
	}
	defer dc.close()
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.newRun(ackRoom)
	r.untagged = true
	var sendErr error
	var v policyView
	err = dc.dumpLocked(msgGetPolicy, func(typ uint16, b []byte) {
		if sendErr != nil || typ != msgNewPolicy || scanPolicy(b, &v) != nil || !listed(&v) {
			return
		}
		if _, own, _ := v.eroute(); !own && !all {
			return
		}
		id := Policy{Index: v.Index, Dir: v.Dir, Type: v.Type, Mark: v.Mark, Mask: v.Mask, IfID: v.IfID}
		r.buf = r.begin(msgDelPolicy, 0, 0)
		r.buf = appendPolicyID(r.buf, &id)
		sendErr = r.end()
		if sendErr == nil && r.refused() {
			sendErr = errStop
		}
	})
	if sendErr != nil && sendErr != errStop {
		return sendErr
	}
	if err != nil {
		return kernelError(err, 0, nil)
	}
	if err := r.finish(); err != nil {
		return err
	}
	if r.overrun {
		return errors.New("the kernel's answers were lost (socket receive buffer overrun)")
	}
	for _, f := range r.failures {
		if !errors.Is(f.err, unix.ENOENT) { // ENOENT: gone meanwhile
			return kernelError(f.err, 0, nil)
		}
	}
	return nil
}

// newConn makes another socket to the table's kernel.
func (t *Table) newConn() (*nlConn, error) {
	if t.dial != nil {
		return t.dial()
	}
	return dialIn(t.netns, xfrmConfig(cmp.Or(t.timeout, defaultTimeout)))
}

// errStop ends a dump whose deletes the kernel refused.
var errStop = errors.New("stop")

// listed tells whether List shows a policy: outbound, main, of a selector
// family an eroute can have. Messages that do not decode are left out
// rather than failing the listing.
func listed(v *policyView) bool {
	if v.Dir != DirOut || v.Type != TypeMain {
		return false
	}
	_, ok := erouteSelector(v.Sel)
	return ok
}

// List gives every outbound main policy as an eroute, in the order of the
// KLIPS table, with the packet counts of the SAs they name. Walk gives the
// same without holding the whole list.
func (t *Table) List() ([]eroute.Eroute, error) {
	l, err := t.listing()
	if err != nil {
		return nil, err
	}
	list := make([]eroute.Eroute, len(l.recs))
	for i := range list {
		list[i] = l.eroute(i)
	}
	return list, nil
}

// Walk calls fn with each eroute List would give, in the same order, and
// stops at the first error fn returns, which it returns. The table is held
// meanwhile as 72-byte records (7.2 MB for 100,000 eroutes), never as a
// slice of eroutes; fn may keep what it is given.
func (t *Table) Walk(fn func(eroute.Eroute) error) error {
	l, err := t.listing()
	if err != nil {
		return err
	}
	for i := range len(l.recs) {
		if err := fn(l.eroute(i)); err != nil {
			return err
		}
	}
	return nil
}

// WalkEntries is Walk with what the kernel holds of each policy besides
// the eroute: who made it, its priority, index, mark and templates, and
// for eroute's own the policy eroute did not make that shadows it, if any
// (see Entry.ShadowedBy).
func (t *Table) WalkEntries(fn func(Entry) error) error {
	l, err := t.listing()
	if err != nil {
		return err
	}
	sh := newShadows(l.details)
	for i := range len(l.recs) {
		e := l.entry(i)
		if e.Own {
			e.ShadowedBy = sh.of(&e)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// listing is the table as List gives it, sorted, in compact records.
type listing struct {
	recs []record
	// order, when set, is the records' sorted order (recs[order[i]] is
	// the ith); else recs is sorted.
	order   []uint32
	details map[uint32]*detail // by index (see recordDump)
	sas     *saIndex           // nil when no SA was needed
}

// at gives the ith record in the listing's order.
func (l *listing) at(i int) *record {
	if l.order != nil {
		return &l.recs[l.order[i]]
	}
	return &l.recs[i]
}

func (l *listing) eroute(i int) eroute.Eroute {
	r := l.at(i)
	e := r.eroute()
	e.Count = l.count(r)
	return e
}

// count gives the packet count the listing shows for a record.
func (l *listing) count(r *record) uint64 {
	if r.flags&recOwn == 0 {
		if d := l.details[r.index]; d != nil && d.counted {
			return d.count
		}
	}
	if l.sas == nil || len(l.sas.packets) == 0 { // no SA at all: no count
		return 0
	}
	s := r.said()
	k, ok := saKeyOf(s)
	switch {
	case !ok:
		return 0
	case r.flags&recGroup != 0:
		return l.sas.outer(s.Dst, s.SPI)
	}
	return l.sas.packets[k]
}

// WriteListing writes the listing to w: the lines Walk's eroutes give
// with eroute.Eroute.AppendLine, each ended by a newline (see
// listing.writeText).
func (t *Table) WriteListing(w io.Writer) error {
	l, err := t.listing()
	if err != nil {
		return err
	}
	return l.writeText(w)
}

// writeText writes the listing's lines formatted straight from the sorted
// records (appendRecordLine), without building eroutes, a chunk of
// chunkLines lines at a time. From parallelFrom records on, with more than
// one core, a goroutine formats every other chunk meanwhile; the chunks
// are written in order, and their few buffers go round between the two,
// so that the text is never held whole (a listing of 300,000 lines used
// to touch 12 MB for its second half, some 3,000 page faults).
func (l *listing) writeText(w io.Writer) error {
	if len(l.recs) < parallelFrom || runtime.GOMAXPROCS(0) < 2 {
		return l.writeLines(w)
	}
	chunks := (len(l.recs) + chunkLines - 1) / chunkLines
	odd := make(chan []byte, 2) // the helper's chunks, formatted
	free := make(chan []byte, 2)
	for range cap(free) {
		free <- make([]byte, 0, chunkBytes)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for c := 1; c < chunks; c += 2 {
			var buf []byte
			select {
			case buf = <-free:
			case <-stop:
				return
			}
			odd <- l.appendLines(buf[:0], l.chunk(c))
		}
	}()
	buf := make([]byte, 0, chunkBytes)
	for c := 0; c < chunks; c++ {
		text := buf
		if c%2 == 0 {
			text = l.appendLines(buf[:0], l.chunk(c))
			buf = text
		} else {
			text = <-odd
		}
		if _, err := w.Write(text); err != nil {
			return err
		}
		if c%2 == 1 {
			free <- text
		}
	}
	return nil
}

// A chunk of the listing's text: chunkLines lines of at most 192 bytes,
// most of them about 80.
const (
	chunkLines = 2048
	chunkBytes = chunkLines * 96
)

// lineRange is a range of the listing's lines.
type lineRange struct{ from, to int }

// chunk gives the lines of chunk c.
func (l *listing) chunk(c int) lineRange {
	return lineRange{c * chunkLines, min((c+1)*chunkLines, len(l.recs))}
}

// writeLines writes the lines a chunk at a time.
func (l *listing) writeLines(w io.Writer) error {
	buf := make([]byte, 0, min(chunkBytes, 96*len(l.recs)+192))
	for c := 0; ; c++ {
		buf = l.appendLines(buf[:0], l.chunk(c))
		if _, err := w.Write(buf); err != nil { // once even when empty, as always
			return err
		}
		if (c+1)*chunkLines >= len(l.recs) {
			return nil
		}
	}
}

// appendLines appends the lines ls to b.
func (l *listing) appendLines(b []byte, ls lineRange) []byte {
	for i := ls.from; i < ls.to; i++ {
		r := l.at(i)
		b = append(appendRecordLine(b, r, l.count(r)), '\n')
	}
	return b
}

func (l *listing) entry(i int) Entry {
	return entryOfRecord(l.at(i), l.eroute(i), l.details, true)
}

// entryOfRecord gives the Entry of a listed record: the facts of a policy
// kept whole from its detail (foreign ones, monitor holds), eroute's own
// from what eroute writes for them (only when full: --sync reads every
// entry and needs none of it).
func entryOfRecord(r *record, e eroute.Eroute, details map[uint32]*detail, full bool) Entry {
	en := Entry{Eroute: e, Own: r.flags&recOwn != 0, Deletable: r.flags&recDeletable != 0, Index: r.index,
		MonitorHold: r.flags&recMonitorHold != 0}
	if d := details[r.index]; d != nil {
		p := &d.p
		en.Priority, en.Mark, en.Mask, en.IfID, en.Tmpls = p.Priority, p.Mark, p.Mask, p.IfID, p.Tmpls
		return en
	}
	if en.Own && full {
		k := kindOf(e.SAID)
		en.Priority = priority(e.Selector, k)
		en.Tmpls = PolicyOf(eroute.Eroute{Selector: e.Selector, SAID: e.SAID}).Tmpls
	}
	return en
}

// listing dumps the policy table into records, and dumps the SAs for the
// counts when an eroute names an SA.
func (t *Table) listing() (*listing, error) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ends, err := c.scanRecords(false, true, true)
	if err != nil {
		return nil, forReading(err)
	}
	l := &listing{recs: d.recs, details: d.details, sas: d.sas}
	if ends != nil {
		l.order = mergeOrder(d.recs, ends)
	} else {
		sortRecords(l.recs)
	}
	return l, nil
}

// recordDump is one dump of the policy table as records.
type recordDump struct {
	recs    []record           // the listed policies, in the dump's order (sortRecords sorts them)
	order   []uint32           // with keepOrder: every policy's index, in the dump's order
	details map[uint32]*detail // the listed policies eroute did not make, and monitor holds, by index
	sas     *saIndex           // the SAs, when they were dumped
}

// records dumps the policy table into records as the datagrams come in
// (nothing of them is kept but the foreign policies, decoded), in the
// dump's order: the caller sorts them (sortRecords) when it needs List's.
// With keepOrder it also keeps the index of every policy in the kernel's
// order (4 bytes each), and each record's pos is its place in that order;
// else pos counts the records. Either way pos only breaks ties in the
// kernel's order. The SAs are dumped too when a foreign policy's template
// names no SPI (only they tell a trap from a tunnel), and with counts when
// an eroute names an SA.
func (c *nlConn) records(keepOrder, counts bool) (recordDump, error) {
	d, _, err := c.scanRecords(keepOrder, counts, false)
	return d, err
}

// scanRecords is records. With chunked, on a large table, it also sorts
// chunks of the records as the dump comes in (see chunkSorter) and gives
// where the sorted chunks end (the last at len(d.recs)); nil ends mean the
// records are in the dump's order.
func (c *nlConn) scanRecords(keepOrder, counts, chunked bool) (recordDump, []int, error) {
	// The kernel's count sizes the records at once: no regrowing.
	s := &recordScan{keepOrder: keepOrder}
	s.d.recs = make([]record, 0, c.outCount())
	if keepOrder {
		s.d.order = make([]uint32, 0, cap(s.d.recs)+cap(s.d.recs)/8)
	}
	if chunked && cap(s.d.recs) >= chunkSortFrom && runtime.GOMAXPROCS(0) >= 2 {
		s.sorter = newChunkSorter()
	}
	// One goroutine reads and decodes: decoding (ownRecord) costs less
	// than handing each datagram to a second goroutine did (futex wakes,
	// 25% more CPU in all).
	err := c.dumpLocked(msgGetPolicy, s.add)
	ends := s.sorted()
	if err != nil {
		return recordDump{}, nil, kernelError(err, 0, nil)
	}
	d := s.d
	if s.unnamed || counts && s.names {
		var err error
		if d.sas, err = c.saIndex(); err != nil {
			return recordDump{}, nil, err
		}
	}
	if s.unnamed {
		d.resolveForeign() // a SAID may change: the chunks' order with it
		ends = nil
	}
	return d, ends, nil
}

// recordScan makes the records of one dump, one policy at a time.
type recordScan struct {
	d         recordDump
	keepOrder bool
	names     bool // an eroute names an SA: its counts are the SA's
	unnamed   bool // a foreign policy's template names no SPI: only the SAs tell a trap from a tunnel
	v         policyView
	// sorter, when set, sorts each chunk of sortChunk records as the
	// dump goes on (see chunkSorter).
	sorter *chunkSorter
}

// grow makes room for one more record. When the table has grown since
// the kernel counted it, the chunks are sorted no more (the slice moves).
func (s *recordScan) grow() {
	if len(s.d.recs) == cap(s.d.recs) && s.sorter != nil {
		s.sorter.wait()
		s.sorter = nil
	}
	s.d.recs = append(s.d.recs, record{})
}

// added hands the chunk the last record completed to the sorter.
func (s *recordScan) added() {
	if n := len(s.d.recs); s.sorter != nil && n%sortChunk == 0 {
		s.sorter.handOver(s.d.recs, n-sortChunk, n)
	}
}

// sorted ends the sorting of chunks; it gives where the sorted chunks end
// (the last at len(s.d.recs)), nil when the records are not sorted.
func (s *recordScan) sorted() []int {
	cs := s.sorter
	if cs == nil {
		return nil
	}
	s.sorter = nil
	if n, from := len(s.d.recs), len(cs.ends)*sortChunk; from < n {
		cs.handOver(s.d.recs, from, n)
	}
	cs.wait()
	return cs.ends
}

// add makes the record of one policy of the dump, if it is an eroute's
// or shows as one: eroute's own plain policies straight from the bytes
// (ownRecord), the others by addGeneral.
func (s *recordScan) add(typ uint16, b []byte) {
	if typ != msgNewPolicy {
		return
	}
	s.grow()
	r := &s.d.recs[len(s.d.recs)-1]
	k, ok := ownRecord(b, r)
	if !ok {
		s.d.recs = s.d.recs[:len(s.d.recs)-1]
		s.addGeneral(b)
		return
	}
	r.pos = uint32(len(s.d.recs) - 1)
	if s.keepOrder {
		r.pos = uint32(len(s.d.order))
		s.d.order = append(s.d.order, r.index)
	}
	s.names = s.names || k == kindSA
	s.added()
}

// addGeneral is add for any policy: decoded (scanPolicy), read back as an
// eroute (policyView.eroute) and packed (recordOf).
func (s *recordScan) addGeneral(b []byte) {
	v := &s.v
	if scanPolicy(b, v) != nil {
		return
	}
	pos := uint32(len(s.d.recs))
	if s.keepOrder {
		pos = uint32(len(s.d.order))
		s.d.order = append(s.d.order, v.Index)
	}
	if v.Dir != DirOut || v.Type != TypeMain {
		return
	}
	e, own, ok := v.eroute()
	if !ok {
		return
	}
	var flags uint8
	if own {
		flags |= recOwn
		if v.isMonitorHold() {
			flags |= recMonitorHold
		}
	}
	// Foreign policies, monitor holds (which have a priority and a
	// scope of their own) and SA groups (whose templates the record
	// does not hold) are kept whole: they are few.
	if !own || v.isMonitorHold() || v.isGroup {
		s.keepDetail(b, v.Index, own)
	}
	if v.deletable(e.Selector) {
		flags |= recDeletable
	}
	if own && v.isGroup {
		flags |= recGroup
	}
	r := recordOf(e, flags, pos)
	r.index = v.Index
	s.grow()
	s.d.recs[len(s.d.recs)-1] = r
	s.added()
	if !s.names {
		_, s.names = saKeyOf(e.SAID)
	}
}

// keepDetail keeps a policy whole, decoded, by its index.
func (s *recordScan) keepDetail(b []byte, index uint32, own bool) {
	p, err := decodePolicy(b)
	if err != nil {
		return
	}
	if s.d.details == nil {
		s.d.details = map[uint32]*detail{}
	}
	s.d.details[index] = &detail{p: p, own: own}
	_, shaped := trapShaped(&p)
	s.unnamed = s.unnamed || shaped && !own
}

// resolveForeign completes the records of the foreign policies from the
// SAs (d.sas): a template without an SPI is a trap's or a tunnel's.
func (d *recordDump) resolveForeign() {
	for i := range d.recs {
		if r := &d.recs[i]; r.flags&recOwn == 0 {
			if f := d.details[r.index]; f != nil {
				f.resolve(r, d.sas)
			}
		}
	}
}

// saIndex dumps the SAs.
func (c *nlConn) saIndex() (*saIndex, error) {
	x := newSAIndex()
	err := c.dumpLocked(msgGetSA, func(typ uint16, b []byte) {
		if sa, err := decodeSAInfo(b); typ == msgNewSA && err == nil {
			x.add(sa)
		}
	})
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	return x, nil
}

// inNamespace runs mk, which makes a socket, in the named namespace ("" the
// caller's own). A socket stays in the namespace it was made in, wherever
// it is used from.
func inNamespace[T any](name string, mk func() (T, error)) (T, error) {
	if name == "" {
		return mk()
	}
	ns, err := openNetns(name)
	if err != nil {
		var none T
		return none, err
	}
	defer ns.Close()
	return inNetns(ns, name, mk)
}

func openNetns(name string) (netns.NsHandle, error) {
	notFound := fmt.Errorf("network namespace %q not found", name)
	if name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return netns.None(), notFound
	}
	ns, err := netns.GetFromName(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return netns.None(), notFound
	case err != nil:
		return netns.None(), socketError(err, name)
	}
	return ns, nil
}

// inNetns runs mk on a fresh OS thread moved into ns. The thread stays
// locked to its goroutine, which ends with it, so Go discards the thread:
// nothing else ever runs in ns, and there is no switch back that could fail
// and leave a thread of the process in the wrong namespace (as
// nl.GetNetlinkSocketAt would, which also loses the errno of setns).
func inNetns[T any](ns netns.NsHandle, name string, mk func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := netns.Set(ns); err != nil {
			done <- result{err: setnsError(err, name)}
			return
		}
		v, err := mk()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// setnsError explains a refused setns(2): it takes CAP_SYS_ADMIN, which a
// process with CAP_NET_ADMIN alone (enough for its own namespace's table)
// lacks.
func setnsError(err error, ns string) error {
	if errors.Is(err, unix.EPERM) {
		return sentinel{ErrNetnsPermission, os.NewSyscallError("setns", err)}
	}
	return socketError(err, ns)
}

// socketError explains a failure to reach the table of a namespace.
func socketError(err error, ns string) error {
	switch {
	case errors.Is(err, unix.EPROTONOSUPPORT):
		return sentinel{ErrNoXFRM, err}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return sentinel{ErrPermission, err}
	case ns != "":
		return fmt.Errorf("cannot enter network namespace %q: %w", ns, err)
	}
	return fmt.Errorf("cannot open the XFRM netlink socket: %w", err)
}

// kernelError explains the kernel's answer: errno known means the sentinel
// as, a lack of privilege ErrPermission, any other errno a refusal.
func kernelError(err error, known unix.Errno, as error) error {
	var errno unix.Errno
	switch {
	case err == nil:
		return nil
	case known != 0 && errors.Is(err, known):
		return sentinel{as, err}
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return sentinel{ErrPermission, err}
	case errors.As(err, &errno):
		return fmt.Errorf("kernel refused the request: %w", err)
	}
	return err
}
