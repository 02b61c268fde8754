package xfrm

import (
	"errors"
	"fmt"
	"io/fs"
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
	c     *conn
	netns string // as given to Open
}

// Open opens the XFRM policy table of the network namespace called
// netnsName as `ip netns` names it (/var/run/netns/NAME); "" means the
// caller's own namespace. The socket is created inside that namespace and
// keeps working on its table from anywhere; the process never changes
// namespace.
func Open(netnsName string) (*Table, error) {
	c, err := inNamespace(netnsName, newSocket)
	if err != nil {
		return nil, err
	}
	return &Table{c: c, netns: netnsName}, nil
}

// Close releases the socket.
func (t *Table) Close() error {
	t.c.close()
	return nil
}

// Add adds an eroute; ErrExists when one with the same selector exists
// (XFRM_MSG_NEWPOLICY is exclusive).
func (t *Table) Add(e eroute.Eroute) error {
	err := t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(PolicyOf(e)))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// Replace adds an eroute or replaces the one with the same selector in one
// XFRM_MSG_UPDPOLICY, so that no packet ever meets a gap. The kernel
// replaces by selector (and mark, if_id, type), whatever the old priority.
func (t *Table) Replace(e eroute.Eroute) error {
	err := t.c.request(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, encodePolicy(PolicyOf(e)))
	return kernelError(err, 0, nil)
}

// AddInbound adds (or with replace, replaces) the inbound policy of a
// tunnel, as KLIPS --addin and --replacein did: the same policy as the
// eroute's, with direction in, so that the kernel accepts the selector's
// traffic only when it arrived through the SA the SAID names.
func (t *Table) AddInbound(e eroute.Eroute, replace bool) error {
	p := PolicyOf(e)
	p.Dir = DirIn
	if replace {
		return kernelError(t.c.request(msgUpdPolicy, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, encodePolicy(p)), 0, nil)
	}
	err := t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(p))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// AddHold puts a monitor hold on sel (see Hold): a %hold that the kernel
// deletes after timeout, rounded up to whole seconds. ErrExists when a
// policy with the same selector exists: another hold, or an eroute someone
// made (XFRM_MSG_NEWPOLICY is exclusive whatever the priority).
func (t *Table) AddHold(sel eroute.Selector, timeout time.Duration) error {
	secs, err := holdSeconds(timeout)
	if err != nil {
		return err
	}
	err = t.c.request(msgNewPolicy, unix.NLM_F_CREATE|unix.NLM_F_EXCL, encodePolicy(holdPolicy(sel, secs)))
	return kernelError(err, unix.EEXIST, ErrExists)
}

// Holds gives the monitor holds in the table, in the kernel's order.
func (t *Table) Holds() ([]Hold, error) {
	ps, err := t.outPolicies()
	if err != nil {
		return nil, err
	}
	var hs []Hold
	for _, p := range ps {
		if h, ok := HoldOf(p); ok {
			hs = append(hs, h)
		}
	}
	return hs, nil
}

// DeleteHold deletes the policy with this selector only if it is still a
// monitor hold: false, nil when it is gone (the kernel reaped it) or was
// replaced, say by eroute --replace, which writes another kind. The kernel
// cannot compare and delete in one message: DeleteHold reads the policy,
// then deletes it by its index. A replace between the two (the kernel keeps
// the index on replace) would be deleted in the hold's place; the window is
// one netlink round trip.
func (t *Table) DeleteHold(sel eroute.Selector) (bool, error) {
	p, ok, err := t.get(sel)
	if err != nil || !ok {
		return false, err
	}
	if _, ok := HoldOf(p); !ok {
		return false, nil
	}
	err = t.c.request(msgDelPolicy, 0, encodePolicyID(p))
	if errors.Is(err, unix.ENOENT) { // reaped meanwhile
		return false, nil
	}
	return err == nil, kernelError(err, 0, nil)
}

// get reads the eroute policy with this selector (XFRM_MSG_GETPOLICY);
// false when there is none.
func (t *Table) get(sel eroute.Selector) (Policy, bool, error) {
	var p Policy
	found := false
	var derr error
	id := encodePolicyID(Policy{Sel: selectorOf(sel), Dir: DirOut, Type: TypeMain})
	err := t.c.get(msgGetPolicy, id, func(typ uint16, b []byte) {
		if typ == msgNewPolicy && !found {
			p, derr = decodePolicy(b)
			found = true
		}
	})
	switch {
	case errors.Is(err, unix.ENOENT):
		return Policy{}, false, nil
	case err != nil:
		return Policy{}, false, kernelError(err, 0, nil)
	case derr != nil:
		return Policy{}, false, derr
	}
	return p, found, nil
}

// Delete deletes the eroute with this selector; ErrNotFound when none. A
// policy with the same selector but a mark or an if_id is not an eroute
// and stays.
func (t *Table) Delete(s eroute.Selector) error {
	return t.deleteDir(s, DirOut)
}

// DeleteInbound deletes the inbound policy --addin made for this selector;
// ErrNotFound when none.
func (t *Table) DeleteInbound(s eroute.Selector) error {
	return t.deleteDir(s, DirIn)
}

func (t *Table) deleteDir(s eroute.Selector, dir uint8) error {
	p := Policy{Sel: selectorOf(s), Dir: dir, Type: TypeMain}
	err := t.c.request(msgDelPolicy, 0, encodePolicyID(p))
	return kernelError(err, unix.ENOENT, ErrNotFound)
}

// Clear deletes every policy List shows, whoever made it, by the index the
// dump gave (with its mark and if_id, which the kernel matches too). Inbound,
// forward, socket and sub policies stay; XFRM_MSG_FLUSHPOLICY would take
// them all. The deletes go out pipelined (see Apply), not one round trip
// each; unlike Apply, Clear is not undone when one fails.
func (t *Table) Clear() error {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []Policy
	var v policyView
	err := c.dumpLocked(msgGetPolicy, func(typ uint16, b []byte) {
		if typ == msgNewPolicy && scanPolicy(b, &v) == nil && listed(&v) {
			ids = append(ids, Policy{Index: v.Index, Dir: v.Dir, Type: v.Type, Mark: v.Mark, Mask: v.Mask, IfID: v.IfID})
		}
	})
	if err != nil {
		return kernelError(err, 0, nil)
	}
	if len(ids) == 0 {
		return nil
	}
	r := c.newRun(ackRoom)
	for i := range ids {
		r.buf = r.begin(msgDelPolicy, 0, int32(i))
		r.buf = appendPolicyID(r.buf, &ids[i])
		if err := r.end(); err != nil {
			return err
		}
		if r.failure() {
			break
		}
	}
	if err := r.finish(); err != nil {
		return err
	}
	for _, f := range r.failures {
		if !errors.Is(f.err, unix.ENOENT) { // ENOENT: gone meanwhile
			return kernelError(f.err, 0, nil)
		}
	}
	return nil
}

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
	for i := range l.recs {
		list[i] = l.eroute(i)
	}
	return list, nil
}

// Walk calls fn with each eroute List would give, in the same order, and
// stops at the first error fn returns, which it returns. The table is held
// meanwhile as 64-byte records (6.4 MB for 100,000 eroutes), never as a
// slice of eroutes; fn may keep what it is given.
func (t *Table) Walk(fn func(eroute.Eroute) error) error {
	l, err := t.listing()
	if err != nil {
		return err
	}
	for i := range l.recs {
		if err := fn(l.eroute(i)); err != nil {
			return err
		}
	}
	return nil
}

// listing is the table as List gives it, sorted, in compact records.
type listing struct {
	recs    []record
	packets map[saKey]uint64 // the SAs' packet counts; nil when none is needed
}

func (l *listing) eroute(i int) eroute.Eroute {
	e := l.recs[i].eroute()
	if l.packets != nil {
		if k, ok := saKeyOf(e.SAID); ok {
			e.Count = l.packets[k]
		}
	}
	return e
}

// overlapFrom is the table size from which a listing reads the dump on a
// goroutine of its own (dumpOverlapped): below it, the goroutine and its
// buffers cost more than the overlap gains.
const overlapFrom = 2000

// listing dumps the policy table into records, and dumps the SAs for the
// counts when an eroute names an SA.
func (t *Table) listing() (*listing, error) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	d, err := c.records(false)
	if err != nil {
		return nil, forReading(err)
	}
	l := &listing{recs: d.recs}
	if d.names {
		l.packets = map[saKey]uint64{}
		err := c.dumpLocked(msgGetSA, func(typ uint16, b []byte) {
			if k, n, err := decodeSA(b); typ == msgNewSA && err == nil {
				l.packets[k] += n
			}
		})
		if err != nil {
			return nil, forReading(kernelError(err, 0, nil))
		}
	}
	return l, nil
}

// recordDump is one dump of the policy table as records.
type recordDump struct {
	recs  []record // the listed policies, sorted
	order []uint32 // with keepOrder: every policy's index, in the dump's order
	names bool     // an eroute names an SA
}

// records dumps the policy table into records as the datagrams come in
// (nothing of them is kept), and sorts them. With keepOrder it also keeps
// the index of every policy in the kernel's order (4 bytes each), and each
// record's pos is its place in that order; else pos counts the records.
// Either way pos only breaks ties in the kernel's order.
func (c *conn) records(keepOrder bool) (recordDump, error) {
	// The kernel's count sizes the records at once: no regrowing.
	var d recordDump
	d.recs = make([]record, 0, c.outCount())
	if keepOrder {
		d.order = make([]uint32, 0, cap(d.recs)+cap(d.recs)/8)
	}
	var v policyView
	dump := c.dumpLocked
	if cap(d.recs) >= overlapFrom {
		dump = c.dumpOverlapped
	}
	err := dump(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil {
			return
		}
		pos := uint32(len(d.recs))
		if keepOrder {
			pos = uint32(len(d.order))
			d.order = append(d.order, v.Index)
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
		}
		if v.deletable(e.Selector) {
			flags |= recDeletable
		}
		d.recs = append(d.recs, recordOf(e, flags, pos))
		if !d.names {
			_, d.names = saKeyOf(e.SAID)
		}
	})
	if err != nil {
		return recordDump{}, kernelError(err, 0, nil)
	}
	sortRecords(d.recs)
	return d, nil
}

// outPolicies dumps the table and keeps the policies List shows, in the
// kernel's order.
func (t *Table) outPolicies() ([]Policy, error) {
	var ps []Policy
	err := t.c.dump(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy {
			return
		}
		p, err := decodePolicy(b)
		if _, ok := erouteOf(p); err == nil && ok && p.Dir == DirOut && p.Type == TypeMain {
			ps = append(ps, p)
		}
	})
	return ps, kernelError(err, 0, nil)
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
		return sentinel{ErrNetnsPermission, sentinel{ErrPermission, err}}
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
