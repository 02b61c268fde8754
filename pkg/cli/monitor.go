package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// DefaultHoldTimeout is how long a monitor's %hold for a trapped flow
// lives: the kernel's own default lifetime of a larval SA
// (net.core.xfrm_acq_expires), so the flow is held as long as the kernel
// would wait for a key manager.
const DefaultHoldTimeout = 30 * time.Second

// The monitor's holds and scopes are package eroute's, shared with the
// driver (xfrm).
type (
	// Scope is what narrows a policy besides its selector: the packet
	// mark, the XFRM interface id and the output device. The zero Scope,
	// every packet, is an eroute's.
	Scope = eroute.Scope
	// Hold is a monitor's %hold: a selector within a scope (the trapping
	// policy's); Place names it whatever else the kernel reports of it.
	Hold = eroute.MonitorHold
)

// Acquired is an ACQUIRE: a packet of Flow met the trapping policy Eroute.
type Acquired struct {
	Flow   eroute.Selector
	Eroute eroute.Eroute
	// Foreign: the trapping policy is not one eroute made (an IKE
	// daemon's, or ip xfrm's). The monitor answers it only with --all.
	Foreign bool
	// Scope and Priority are the trapping policy's: a hold has its scope,
	// and a priority that wins over it only (see MonitorKernel.AddHold).
	Scope    Scope
	Priority uint32
}

// HoldReaped says the kernel removed a monitor's hold when it timed out.
type HoldReaped struct {
	Hold Hold
}

// TakenOver says a policy someone else wrote replaced an eroute (an IKE
// daemon's UPDPOLICY on the same selector): the monitor remembers the
// eroute and puts it back when that policy goes.
type TakenOver struct {
	Eroute eroute.Eroute
	By     eroute.Eroute
}

// Restored says the policy that had taken over an eroute's selector was
// removed, and the monitor put the eroute back (Err when it could not).
type Restored struct {
	Eroute eroute.Eroute
	Err    error
}

// Note is something the kernel side has to say on standard error.
type Note struct {
	Text string
}

// ErrCannotOutrank is what AddHold returns when the trapping policy's
// priority is so low a value (under 10) that no hold can win over it.
var ErrCannotOutrank = errors.New("no priority wins over the trapping policy's")

// MonitorKernel is what --monitor needs of the kernel: the ACQUIRE events of one
// network namespace and the holds it puts in place.
type MonitorKernel interface {
	// Next blocks for the next *Acquired, *HoldReaped, *TakenOver,
	// *Restored or *Note; eroute.ErrOverrun when messages were lost, an
	// error matching net.ErrClosed once StopListening was called; any
	// other error ends the monitor.
	Next() (any, error)
	// StopListening makes a blocked Next return; the holds stay usable.
	StopListening()
	// AddHold puts h in place for timeout, with the priority that wins
	// over a trapping policy of priority trap and nothing else; an error
	// matching fs.ErrExist when a policy covers the selector already (an
	// earlier hold, or an eroute), ErrCannotOutrank when no priority wins.
	AddHold(h Hold, trap uint32, timeout time.Duration) error
	// DeleteHold removes h unless it was replaced meanwhile.
	DeleteHold(h Hold) (bool, error)
	// StaleHolds gives the monitor holds already in the table.
	StaleHolds() ([]Hold, error)
	// Tracked is how many eroutes the monitor keeps track of (to put them
	// back after a take-over): its memory grows with them.
	Tracked() int
	// AcquireExpiry is the namespace's net.core.xfrm_acq_expires.
	AcquireExpiry() (time.Duration, error)
	Close() error
}

// monitor is one run of --monitor.
type monitor struct {
	req    Request
	k      MonitorKernel
	out    io.Writer
	errOut io.Writer
	prog   string
	mu     sync.Mutex    // guards errOut, made, outErr, and the writes to out
	made   map[Hold]bool // the holds it placed, by Place
	outErr error         // the error that ended standard output
	hooks  *hooks
}

// ErrOutputClosed ends a monitor whose standard output went away (EPIPE:
// the reader of the pipe is gone). The monitor removes its holds and ends
// its hooks first.
var ErrOutputClosed = errors.New("monitor: standard output is closed (nobody reads the ACQUIRE lines any more); holds removed, ending")

func runMonitor(req Request, env Env, prog string) error {
	if env.OpenMonitor == nil {
		return errors.New("--monitor is not available in this build")
	}
	// With SIGPIPE notified (not ignored, which --exec commands would
	// inherit), a write to a pipe nobody reads fails with EPIPE instead
	// of killing the process before it could remove its holds.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)
	budget := startBudget(0, false)
	defer budget.stop()
	k, err := env.OpenMonitor(req.Netns, req.Rcvbuf)
	if err != nil {
		return err
	}
	defer k.Close()
	budget.raise(monitorBytesPerEroute * int64(k.Tracked()))
	m := &monitor{req: req, k: k, out: env.Stdout, errOut: env.Stderr, prog: prog, made: map[Hold]bool{}}
	if req.Exec != "" {
		m.hooks = newHooks(req, m.hookOutput(), m.note)
	}
	m.checkAcquireExpiry()
	m.reapStale()
	watching := make(chan struct{})
	defer close(watching)
	m.watchOutput(watching)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			k.StopListening()
		case <-done:
		}
	}()
	err = m.listen()
	if m.hooks != nil {
		m.hooks.close(hookGrace)
	}
	m.removeHolds()
	if err == nil && m.outputErr() != nil {
		err = ErrOutputClosed
	}
	return err
}

// monitorBytesPerEroute is what the soft memory limit of a monitor grows by
// for each eroute it tracks: an index entry takes 8 to 30 bytes, and the
// collector needs room beside it. With the base (memoryBase), a monitor on
// 1,000,000 eroutes peaks at about 25 MB; without a limit it reached 48.
const monitorBytesPerEroute = 24

// raise sets the budget's limit to its base and extra bytes.
func (m *memoryBudget) raise(extra int64) {
	if m != nil {
		debug.SetMemoryLimit(memoryBase + extra)
	}
}

// checkAcquireExpiry warns when the kernel keeps a trapped flow's larval
// state longer than a hold lives: the %trap then fires again only when the
// larval state goes, whatever --hold-timeout says (charon sets 165 s).
func (m *monitor) checkAcquireExpiry() {
	acq, err := m.k.AcquireExpiry()
	if err != nil || acq <= m.req.HoldTimeout {
		return
	}
	m.note("net.core.xfrm_acq_expires is %d s in this network namespace, more than --hold-timeout %d s: "+
		"a trapped flow ACQUIREs again only after %d s; set the sysctl to %d to match",
		int(acq/time.Second), int(m.req.HoldTimeout/time.Second), int(acq/time.Second), int(m.req.HoldTimeout/time.Second))
}

// listen handles events until the listener stops or standard output goes.
func (m *monitor) listen() error {
	overruns := 0
	for m.outputErr() == nil {
		ev, err := m.k.Next()
		switch {
		case errors.Is(err, eroute.ErrOverrun):
			overruns++
			m.note("ACQUIRE messages lost: the socket buffer overflowed (%d overruns so far); listening goes on", overruns)
			continue
		case errors.Is(err, net.ErrClosed):
			return nil
		case err != nil:
			return err
		}
		switch ev := ev.(type) {
		case *Acquired:
			m.acquired(ev)
		case *HoldReaped:
			m.reaped(ev)
		case *TakenOver:
			m.note("%s was replaced by a policy eroute did not make (%s): it is put back when that policy goes",
				erouteText(ev.Eroute), ev.By.SAID)
		case *Restored:
			if ev.Err != nil {
				m.note("cannot put back %s, whose selector the policy that replaced it left empty: %v", erouteText(ev.Eroute), ev.Err)
			} else {
				m.note("put back %s: the policy that had replaced it was removed", erouteText(ev.Eroute))
			}
		case *Note:
			m.note("%s", ev.Text)
		}
	}
	return nil
}

func (m *monitor) acquired(ev *Acquired) {
	act := !ev.Foreign || m.req.All
	var hold Hold
	holdNote := "none: not eroute's trap (--all answers it)"
	if act {
		hold, holdNote = m.placeHold(ev)
	}
	execNote := ""
	if m.hooks != nil {
		execNote = "none"
		if act {
			execNote = m.hooks.submit(ev, m.req.Netns)
		}
	}
	m.print(ev, hold, holdNote, execNote)
}

// holdSelector is the flow's two hosts, with the protocol and ports where
// the trapping eroute named them (KLIPS did the same). When that is the
// trapping eroute's own selector, the flow's protocol and then its ports
// narrow it, so that the hold never replaces the %trap itself.
func holdSelector(ev *Acquired) (eroute.Selector, bool) {
	trap := ev.Eroute.Selector
	sel := eroute.Selector{
		Src:     netip.PrefixFrom(ev.Flow.Src.Addr(), ev.Flow.Src.Addr().BitLen()),
		Dst:     netip.PrefixFrom(ev.Flow.Dst.Addr(), ev.Flow.Dst.Addr().BitLen()),
		Proto:   trap.Proto,
		SrcPort: trap.SrcPort,
		DstPort: trap.DstPort,
	}
	if sel == trap {
		sel.Proto = ev.Flow.Proto
	}
	if sel == trap && (sel.Proto == eroute.TCP || sel.Proto == eroute.UDP) {
		sel.SrcPort, sel.DstPort = ev.Flow.SrcPort, ev.Flow.DstPort
	}
	return sel, sel != trap && sel.Validate() == nil
}

// placeHold puts the %hold in place, in the trapping policy's scope, and
// says what happened.
func (m *monitor) placeHold(ev *Acquired) (Hold, string) {
	sel, ok := holdSelector(ev)
	h := Hold{Selector: sel, Scope: ev.Scope}
	if !ok {
		return h, "none: the trapping eroute is as narrow as the flow"
	}
	err := m.k.AddHold(h, ev.Priority, m.req.HoldTimeout)
	switch {
	case errors.Is(err, fs.ErrExist):
		return h, "exists"
	case errors.Is(err, ErrCannotOutrank):
		return h, fmt.Sprintf("none: nothing wins over the trapping policy's priority %d", ev.Priority)
	case err != nil:
		m.note("cannot put a %%hold for %s: %v", h, err)
		return h, "failed"
	}
	m.mu.Lock()
	m.made[h] = true
	m.mu.Unlock()
	return h, "placed"
}

// acquireJSON is one --json line.
type acquireJSON struct {
	Time        string        `json:"time"`
	Src         string        `json:"src"`
	Dst         string        `json:"dst"`
	Proto       uint8         `json:"proto"`
	SrcPort     uint16        `json:"src_port"`
	DstPort     uint16        `json:"dst_port"`
	Eroute      eroute.Eroute `json:"eroute"`
	Owner       string        `json:"owner"`
	Mark        *uint32       `json:"mark,omitempty"`
	Mask        *uint32       `json:"mask,omitempty"`
	IfID        uint32        `json:"if_id,omitempty"`
	Ifindex     int32         `json:"ifindex,omitempty"`
	Hold        string        `json:"hold"`
	HoldSrc     string        `json:"hold_src"`
	HoldDst     string        `json:"hold_dst"`
	HoldTimeout float64       `json:"hold_timeout"`
	Exec        string        `json:"exec,omitempty"`
}

// print writes the line for one ACQUIRE and flushes it at once (the
// writers are unbuffered files). A write that fails ends the monitor.
func (m *monitor) print(ev *Acquired, hold Hold, holdNote, execNote string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := ev.Flow
	owner := "eroute"
	if ev.Foreign {
		owner = "foreign"
	}
	var err error
	if m.req.JSON {
		j := acquireJSON{
			Time: time.Now().UTC().Format(time.RFC3339Nano),
			Src:  f.Src.Addr().String(), Dst: f.Dst.Addr().String(), Proto: f.Proto,
			SrcPort: f.SrcPort, DstPort: f.DstPort, Eroute: ev.Eroute, Owner: owner,
			IfID: ev.Scope.IfID, Ifindex: ev.Scope.Ifindex,
			Hold: holdNote, HoldSrc: hold.Selector.Src.String(), HoldDst: hold.Selector.Dst.String(),
			HoldTimeout: m.req.HoldTimeout.Seconds(), Exec: execNote,
		}
		if sc := ev.Scope; sc.Mark != 0 || sc.Mask != 0 {
			j.Mark, j.Mask = &sc.Mark, &sc.Mask
		}
		b, _ := json.Marshal(j)
		_, err = fmt.Fprintf(m.out, "%s\n", b)
	} else {
		trap := ev.Eroute
		trap.Count = 0
		by := withProto(trap.SAID, trap.Proto)
		if ev.Foreign {
			by += " (" + strings.TrimSuffix("foreign, "+ev.Scope.String(), ", ") + ")"
		} else if sc := ev.Scope.String(); sc != "" {
			by += " (" + sc + ")"
		}
		_, err = fmt.Fprintf(m.out, "%s acquire %s => %s by %s => %s; hold %s\n",
			time.Now().Format("2006-01-02T15:04:05"),
			eroute.EndText(f.Src, f.SrcPort)+" -> "+eroute.EndText(f.Dst, f.DstPort),
			withProto(trap.SAID, f.Proto),
			eroute.EndText(trap.Src, trap.SrcPort)+" -> "+eroute.EndText(trap.Dst, trap.DstPort),
			by, holdNote)
	}
	if err != nil && m.outErr == nil {
		m.outErr = err
		m.k.StopListening()
	}
}

// watchOutput ends the monitor as soon as the reader of standard output
// is gone, when it is a pipe (the write end then polls POLLERR), rather
// than at the next ACQUIRE it could not print: its holds go at once.
func (m *monitor) watchOutput(done <-chan struct{}) {
	f, ok := m.out.(*os.File)
	if !ok {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	go func() {
		for {
			gone := false
			rc.Control(func(fd uintptr) {
				fds := []unix.PollFd{{Fd: int32(fd)}}
				n, err := unix.Poll(fds, 500)
				gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0
			})
			select {
			case <-done:
				return
			default:
			}
			if gone {
				m.outputGone(&os.PathError{Op: "poll", Path: f.Name(), Err: syscall.EPIPE})
				return
			}
		}
	}()
}

// outputGone records why standard output ended, and ends the monitor.
func (m *monitor) outputGone(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outErr == nil {
		m.outErr = err
		m.k.StopListening()
	}
}

// outputErr is the error that ended standard output, nil while it works.
func (m *monitor) outputErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.outErr
}

// erouteText is an eroute as the monitor's lines show it: the listing's
// notation without COUNT and padding.
func erouteText(e eroute.Eroute) string {
	return eroute.EndText(e.Src, e.SrcPort) + " -> " + eroute.EndText(e.Dst, e.DstPort) + " => " + withProto(e.SAID, e.Proto)
}

func withProto(s eroute.SAID, proto uint8) string {
	if proto == 0 {
		return s.String()
	}
	return s.String() + ":" + strconv.Itoa(int(proto))
}

func (m *monitor) reaped(ev *HoldReaped) {
	m.mu.Lock()
	mine := m.made[ev.Hold.Place()]
	delete(m.made, ev.Hold.Place())
	m.mu.Unlock()
	if mine {
		m.note("%%hold %s timed out and was removed; the %%trap fires again", ev.Hold)
	}
}

// execEnv describes an ACQUIRE to an --exec command.
func execEnv(ev *Acquired, netns string) []string {
	f, t := ev.Flow, ev.Eroute
	return []string{
		"EROUTE_SRC=" + f.Src.Addr().String(),
		"EROUTE_DST=" + f.Dst.Addr().String(),
		"EROUTE_PROTO=" + strconv.Itoa(int(f.Proto)),
		"EROUTE_SRC_PORT=" + strconv.Itoa(int(f.SrcPort)),
		"EROUTE_DST_PORT=" + strconv.Itoa(int(f.DstPort)),
		"EROUTE_FAMILY=" + f.Family().String(),
		"EROUTE_TRAP_SRC=" + t.Src.String(),
		"EROUTE_TRAP_DST=" + t.Dst.String(),
		"EROUTE_TRAP_SAID=" + t.SAID.String(),
		"EROUTE_NETNS=" + netns,
	}
}

// reapStale removes the holds a monitor that was killed left behind: only
// one monitor runs per namespace, so every monitor hold is stale now.
func (m *monitor) reapStale() {
	stale, err := m.k.StaleHolds()
	if err != nil {
		m.note("cannot list stale holds: %v", err)
		return
	}
	n := 0
	for _, h := range stale {
		if ok, err := m.k.DeleteHold(h); err == nil && ok {
			n++
		}
	}
	if n > 0 {
		m.note("removed %d stale %%hold eroutes left by an earlier monitor", n)
	}
}

// removeHolds takes away, on exit, the holds this monitor made and that
// nobody replaced.
func (m *monitor) removeHolds() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h := range m.made {
		if _, err := m.k.DeleteHold(h); err != nil {
			fmt.Fprintf(m.errOut, "%s: monitor: cannot remove the %%hold for %s: %v\n", m.prog, h, err)
		}
	}
	m.made = map[Hold]bool{}
}

// hookOutput is where hooks write: standard error itself when it is a
// file (the commands write to it directly), else a writer that takes the
// monitor's lock, as the notes do, since the hooks' output is copied in
// by goroutines of their own.
func (m *monitor) hookOutput() io.Writer {
	if f, ok := m.errOut.(*os.File); ok {
		return f
	}
	return lockedWriter{&m.mu, m.errOut}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// note reports something on standard error, one line.
func (m *monitor) note(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.errOut, "%s: monitor: %s\n", m.prog, fmt.Sprintf(format, args...))
}
