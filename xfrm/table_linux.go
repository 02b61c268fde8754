package xfrm

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Table is the XFRM policy table of one network namespace, seen as a table
// of eroutes. Its methods may be called from several goroutines.
type Table struct {
	c *conn
}

// Open opens the XFRM policy table of the network namespace called
// netnsName as `ip netns` names it (/var/run/netns/NAME); "" means the
// caller's own namespace. The socket is created inside that namespace and
// keeps working on its table from anywhere; the process never changes
// namespace.
func Open(netnsName string) (*Table, error) {
	s, err := socketIn(netnsName)
	if err != nil {
		return nil, err
	}
	c, err := newConn(s)
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	return &Table{c: c}, nil
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
	p := Policy{Sel: selectorOf(s), Dir: DirOut, Type: TypeMain}
	err := t.c.request(msgDelPolicy, 0, encodePolicyID(p))
	return kernelError(err, unix.ENOENT, ErrNotFound)
}

// Clear deletes every policy List shows, whoever made it, by the index the
// dump gave (with its mark and if_id, which the kernel matches too). Inbound,
// forward, socket and sub policies stay; XFRM_MSG_FLUSHPOLICY would take
// them all.
func (t *Table) Clear() error {
	ps, err := t.outPolicies()
	if err != nil {
		return err
	}
	for _, p := range ps {
		err := t.c.request(msgDelPolicy, 0, encodePolicyID(p))
		if err != nil && !errors.Is(err, unix.ENOENT) { // ENOENT: gone meanwhile
			return kernelError(err, 0, nil)
		}
	}
	return nil
}

// List gives every outbound main policy as an eroute, in the order of the
// KLIPS table, with the packet counts of the SAs they name.
func (t *Table) List() ([]eroute.Eroute, error) {
	ps, err := t.outPolicies()
	if err != nil {
		return nil, err
	}
	list := make([]eroute.Eroute, 0, len(ps))
	for _, p := range ps {
		list = append(list, ErouteOf(p))
	}
	if err := t.fillCounts(list); err != nil {
		return nil, err
	}
	slices.SortStableFunc(list, func(a, b eroute.Eroute) int {
		return cmp.Or(eroute.Compare(a.Selector, b.Selector),
			strings.Compare(a.SAID.String(), b.SAID.String()))
	})
	return list, nil
}

// outPolicies dumps the table and keeps the policies that are eroutes:
// outbound, main, of a selector family an eroute can have. Messages that
// do not decode are left out rather than failing the listing.
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

// fillCounts sets the Count of each eroute that names an SA, from one
// dump of the SAs; nothing is dumped when no eroute names one.
func (t *Table) fillCounts(list []eroute.Eroute) error {
	names := func(e eroute.Eroute) bool { _, ok := saKeyOf(e.SAID); return ok }
	if !slices.ContainsFunc(list, names) {
		return nil
	}
	packets := map[saKey]uint64{}
	err := t.c.dump(msgGetSA, func(typ uint16, b []byte) {
		if k, n, err := decodeSA(b); typ == msgNewSA && err == nil {
			packets[k] += n
		}
	})
	if err != nil {
		return kernelError(err, 0, nil)
	}
	for i := range list {
		if k, ok := saKeyOf(list[i].SAID); ok {
			list[i].Count = packets[k]
		}
	}
	return nil
}

// socketIn makes a NETLINK_XFRM socket in the named namespace ("" own).
func socketIn(name string) (*nl.NetlinkSocket, error) {
	return inNamespace(name, xfrmSocket)
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
			done <- result{err: socketError(err, name)}
			return
		}
		v, err := mk()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}

// xfrmSocket creates a NETLINK_XFRM socket in the calling thread's
// namespace (no namespace handles: nl just makes and binds the socket).
func xfrmSocket() (*nl.NetlinkSocket, error) {
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_XFRM)
	if err != nil {
		return nil, socketError(err, "")
	}
	return s, nil
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
