package xfrm

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// A Guard keeps a selector that an eroute protected from ending up empty
// when a program that took it over leaves. An IKE daemon installing its
// SA's policy on an eroute's selector (charon on the %trap that asked it to
// negotiate) replaces the eroute: XFRM keeps one policy per selector, and
// UPDPOLICY replaces whatever priority the old one had. When the daemon
// later deletes its policy by selector, nothing is left, and the flow
// leaves in the clear. The guard watches the policy notifications
// (XFRMNLGRP_POLICY and XFRMNLGRP_EXPIRE) and puts the eroute back as soon
// as the policy that replaced it goes.
//
// What it remembers: which of the table's policies are eroute's own, by
// kernel index (ownIndex, a few bytes each), and the take-overs (the
// eroute and the index of the foreign policy in its place). The kernel
// keeps the index when it replaces a policy by selector, so a foreign
// policy that arrives with an own eroute's index took that eroute over.
// Take-overs are also written to a state file (under /run/eroute, one per
// namespace), so that a monitor that restarts still puts the eroutes back;
// the kernel wins where the file disagrees with it.
type Guard struct {
	table *Table    // its own socket: dumps and restores
	l     *Listener // policy notifications
	path  string    // the state file; "" keeps none
	// cookie is the namespace's SO_NETNS_COOKIE, which the kernel never
	// gives two namespaces of one boot: the state file's inode name can
	// be a dead namespace's, the cookie tells.
	cookie uint64

	mu        sync.Mutex // guards the rest
	own       *ownIndex
	taken     map[uint32]takeover // by the index of the foreign policy in place
	out       []Event             // what happened, not yet returned by Next
	dirty     bool                // taken changed since the state file was written
	stale     bool                // notifications were lost: read the table once they calm down
	lossNoted time.Time
	holds     *[]Hold     // the monitor holds of the first reading, until StaleHolds           // when lost notifications were last reported
	timer     *time.Timer // writes the state file a moment after a change

	closeOnce sync.Once
	closeErr  error // what Close gave
}

// takeover is an eroute that a foreign policy replaced.
type takeover struct {
	Eroute eroute.Eroute // what to put back
	By     eroute.Eroute // the foreign policy, as the listing shows it
}

// guardRcvbuf is the receive buffer of the guard's socket (the kernel
// doubles it): a batch of changes arrives far faster than the guard reads
// them, and an overrun costs a dump; 16 MiB holds some 20,000
// notifications. The memory is the kernel's, and only while they queue.
const guardRcvbuf = 16 << 20

// stateWriteDelay gathers the state file writes of a burst of take-overs.
const stateWriteDelay = 50 * time.Millisecond

// OpenGuard starts guarding the table of the namespace called netnsName
// ("" own), keeping its state in the file path ("" none). It subscribes
// before it reads the table, so that no change is missed; the take-overs
// the state file names are checked against the kernel (see reconcile).
func OpenGuard(netnsName, path string) (*Guard, error) {
	l, err := listen(netnsName, guardRcvbuf, 1<<(grpPolicy-1)|1<<(grpExpire-1))
	if err != nil {
		return nil, err
	}
	t, err := Open(netnsName)
	if err != nil {
		l.Close()
		return nil, err
	}
	g := &Guard{table: t, l: l, path: path, taken: map[uint32]takeover{}, holds: new([]Hold)}
	g.mu.Lock()
	defer g.mu.Unlock()
	var cerr error
	if err := l.c.sock.control(func(fd int) {
		g.cookie, cerr = unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	}); err != nil {
		cerr = err
	}
	if cerr != nil && path != "" {
		g.path = ""
		g.notef("take-overs are not kept across a restart: the kernel cannot name this namespace (SO_NETNS_COOKIE: %v)", cerr)
	}
	if err := g.load(); err != nil {
		g.notef("%v; starting without it", err)
	}
	if err := g.reconcile(true); err != nil {
		l.Close()
		t.Close()
		return nil, err
	}
	return g, nil
}

// StaleHolds gives the monitor holds the guard's first reading of the table
// found (a monitor that starts reaps them: one dump serves both), once.
func (g *Guard) StaleHolds() []Hold {
	g.mu.Lock()
	defer g.mu.Unlock()
	var hs []Hold
	if g.holds != nil {
		hs = *g.holds
	}
	g.holds = nil
	return hs
}

// Own is the number of own eroutes the guard knows of.
func (g *Guard) Own() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.own.len()
}

// Next handles policy notifications until there is something to report:
// *TakenOver, *Restored or *GuardNote. ErrClosed after Close.
func (g *Guard) Next() (Event, error) {
	for {
		g.mu.Lock()
		if len(g.out) > 0 {
			ev := g.out[0]
			g.out = g.out[1:]
			g.mu.Unlock()
			return ev, nil
		}
		if g.stale && g.l.drained() {
			g.stale = false
			if err := g.reconcile(true); err != nil {
				g.notef("cannot read the table again: %v", err)
			} else {
				g.notef("the table was read again after lost notifications: %d eroutes of eroute's are watched", g.own.len())
			}
			g.mu.Unlock()
			continue
		}
		g.mu.Unlock()
		ev, err := g.l.Next()
		g.mu.Lock()
		switch {
		case errors.Is(err, ErrOverrun):
			// A flood of changes (a large --batch): reading the table
			// while it lasts would cost a dump per overrun. The table is
			// read once, when the socket is drained.
			if !g.stale && time.Since(g.lossNoted) > 10*time.Second {
				g.notef("policy notifications lost (socket buffer overrun): the table is read again when the changes calm down")
				g.lossNoted = time.Now()
			}
			g.stale = true
		case err != nil:
			g.mu.Unlock()
			return nil, err
		default:
			g.handle(ev)
		}
		g.mu.Unlock()
	}
}

// Close stops guarding and writes the state file one last time. Only the
// first call does; later ones give what it gave.
func (g *Guard) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.close() })
	return g.closeErr
}

func (g *Guard) close() error {
	lerr := g.l.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil {
		g.timer.Stop()
	}
	err := g.writeState()
	terr := g.table.Close()
	return cmp.Or(err, lerr, terr)
}

// handle keeps the index and the take-overs up to date with one event.
func (g *Guard) handle(ev Event) {
	switch ev := ev.(type) {
	case *PolicyChange:
		g.changed(ev.Policy, ev.Deleted)
	case *PolicyExpire:
		if ev.Hard {
			g.changed(ev.Policy, true)
		}
	case *PolicyFlush:
		// Someone flushed the table on purpose: nothing is put back.
		if err := g.reconcile(false); err != nil {
			g.notef("cannot read the table after a flush: %v", err)
		}
	}
}

func (g *Guard) changed(p Policy, deleted bool) {
	if p.Dir != DirOut || p.Type != TypeMain {
		return
	}
	v := viewOf(p)
	e, own, ok := v.eroute()
	if !ok || v.isMonitorHold() {
		return
	}
	tk, wasTaken := g.taken[p.Index]
	switch {
	case deleted:
		g.own.remove(p.Index)
		if wasTaken {
			g.forget(p.Index)
			g.restore(tk)
		}
	case own:
		g.own.set(p.Index, e.SAID, kindOf(e.SAID))
		if wasTaken { // eroute's again: nothing left to put back
			g.forget(p.Index)
		}
	case wasTaken:
		tk.By = e
		g.remember(p.Index, tk)
	default:
		if said, ok := g.own.get(p.Index); ok && unscoped(&v) {
			g.own.remove(p.Index)
			tk := takeover{Eroute: eroute.Eroute{Selector: e.Selector, SAID: said}, By: e}
			g.remember(p.Index, tk)
			g.out = append(g.out, &TakenOver{Eroute: tk.Eroute, By: tk.By})
		}
	}
}

func unscoped(v *policyView) bool {
	return v.Mark == 0 && v.Mask == 0 && v.IfID == 0 && v.Sel.Ifindex == 0 && !v.SecCtx
}

// restore puts an eroute back with an exclusive add: whatever holds the
// selector by then stays. If that is another foreign policy, the guard
// watches it instead.
func (g *Guard) restore(tk takeover) {
	err := g.table.Add(tk.Eroute)
	if errors.Is(err, ErrExists) {
		p, ok, gerr := g.table.get(PolicyOf(tk.Eroute))
		v := viewOf(p)
		_, own, _ := v.eroute()
		if gerr == nil && ok && !own && unscoped(&v) {
			tk.By = ErouteOf(p)
			g.remember(p.Index, tk)
			g.out = append(g.out, &TakenOver{Eroute: tk.Eroute, By: tk.By})
			return
		}
		if gerr == nil && ok && own {
			return // put back by someone else meanwhile
		}
	}
	g.out = append(g.out, &Restored{Eroute: tk.Eroute, Err: err})
}

func (g *Guard) remember(index uint32, tk takeover) {
	g.taken[index] = tk
	g.changedState()
}

func (g *Guard) forget(index uint32) {
	delete(g.taken, index)
	g.changedState()
}

func (g *Guard) notef(format string, args ...any) {
	g.out = append(g.out, &GuardNote{Text: fmt.Sprintf(format, args...)})
}

// reconcile reads the whole table into a new index, streaming (nothing but
// the index is kept), and brings the take-overs in line with it: an
// own policy that became foreign is a take-over missed; a take-over whose
// foreign policy is gone is put back when restoreGone (after lost
// notifications, or a state file a restarted monitor read), forgotten
// otherwise (after a flush); a take-over whose selector holds an own
// eroute again is forgotten. A dump the kernel interrupted is taken again.
func (g *Guard) reconcile(restoreGone bool) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = g.reconcileOnce(restoreGone); err == nil {
			return nil
		}
	}
	return err
}

func (g *Guard) reconcileOnce(restoreGone bool) error {
	scan, err := g.scanTable()
	if err != nil {
		return err
	}
	g.own = scan.own
	for i, tk := range scan.missed {
		g.remember(scan.missedAt[i], tk)
		g.out = append(g.out, &TakenOver{Eroute: tk.Eroute, By: tk.By})
	}
	for index, tk := range g.taken {
		if scan.seen[index] {
			continue
		}
		g.forget(index)
		if restoreGone {
			g.restore(tk)
		}
	}
	g.changedState()
	return nil
}

// guardScan is what one reading of the table tells the guard: the own
// eroutes now, the take-overs still in place (seen, by index), and those
// no event told of (missed, at missedAt).
type guardScan struct {
	own      *ownIndex
	seen     map[uint32]bool
	missed   []takeover
	missedAt []uint32
}

// scanTable reads the table (one dump) into a guardScan, and collects the
// monitor's holds on the way.
func (g *Guard) scanTable() (guardScan, error) {
	c := g.table.c
	c.mu.Lock()
	scan := guardScan{own: newOwnIndex(c.outCount()), seen: map[uint32]bool{}}
	var v policyView
	err := c.dumpLocked(msgGetPolicy, func(typ uint16, b []byte) {
		if typ != msgNewPolicy || scanPolicy(b, &v) != nil || v.Dir != DirOut || v.Type != TypeMain {
			return
		}
		if v.isMonitorHold() {
			g.keepHold(b)
			return
		}
		g.notePolicy(&scan, &v)
	})
	c.mu.Unlock()
	if err != nil {
		return guardScan{}, kernelError(err, 0, nil)
	}
	scan.own.sortBase()
	return scan, nil
}

// keepHold adds a monitor's hold to the holds the guard collects, if it
// collects them.
func (g *Guard) keepHold(b []byte) {
	if p, err := decodePolicy(b); err == nil && g.holds != nil {
		if h, ok := HoldOf(p); ok {
			*g.holds = append(*g.holds, h)
		}
	}
}

// notePolicy records one outbound policy of the table in scan: an own
// eroute in the index (and a take-over of its selector ended: eroute's
// again); another's policy where a take-over was known (still taken), or
// where an own eroute was at the last reading (taken over, though no event
// said so: its SAID from the old index).
func (g *Guard) notePolicy(scan *guardScan, v *policyView) {
	e, own, ok := v.eroute()
	switch {
	case !ok:
	case own:
		scan.own.appendBase(v.Index, scan.own.refOf(e.SAID, kindOf(e.SAID)))
		if _, ok := g.taken[v.Index]; ok {
			scan.seen[v.Index] = true
			delete(g.taken, v.Index) // eroute's again
			g.dirty = true
		}
	default:
		if _, ok := g.taken[v.Index]; ok {
			scan.seen[v.Index] = true
		} else if said, ok := g.own.getSafe(v.Index); ok && unscoped(v) {
			scan.seen[v.Index] = true // in place: not to be put back yet
			scan.missed = append(scan.missed, takeover{Eroute: eroute.Eroute{Selector: e.Selector, SAID: said}, By: e})
			scan.missedAt = append(scan.missedAt, v.Index)
		}
	}
}

// getSafe is get on an index that may not exist yet.
func (x *ownIndex) getSafe(index uint32) (eroute.SAID, bool) {
	if x == nil {
		return eroute.SAID{}, false
	}
	return x.get(index)
}

// changedState arranges for the state file to be written a moment later:
// one write for a burst of changes.
func (g *Guard) changedState() {
	g.dirty = true
	if g.path == "" || g.timer != nil {
		return
	}
	g.timer = time.AfterFunc(stateWriteDelay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.timer = nil
		if err := g.writeState(); err != nil {
			g.notef("cannot write %s: %v", g.path, err)
		}
	})
}

// writeState writes the take-overs to the state file, crash-safe: a new
// file, synced, renamed over the old one. With no take-over there is no
// file.
func (g *Guard) writeState() error {
	if g.path == "" || !g.dirty {
		return nil
	}
	g.dirty = false
	if len(g.taken) == 0 {
		if err := os.Remove(g.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var b strings.Builder
	b.WriteString("# eroute --monitor: eroutes replaced by foreign policies, put back when those go\n")
	fmt.Fprintf(&b, "netns-cookie %d\n", g.cookie)
	for index, tk := range g.taken {
		fmt.Fprintf(&b, "%d %s\n", index, stateLine(tk.Eroute))
	}
	tmp := g.path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, g.path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(g.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// load reads the state file a monitor left; reconcile then checks it.
func (g *Guard) load() error {
	if g.path == "" {
		return nil
	}
	f, err := os.Open(g.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	ours := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !ours {
			// The first line names the namespace: a file of a dead
			// namespace whose inode this one reuses is not ours.
			if line != fmt.Sprintf("netns-cookie %d", g.cookie) {
				os.Remove(g.path)
				return nil
			}
			ours = true
			continue
		}
		index, e, err := parseStateLine(line)
		if err != nil {
			g.notef("%s line %d skipped: %v", g.path, n, err)
			continue
		}
		g.taken[index] = takeover{Eroute: e}
	}
	return sc.Err()
}
