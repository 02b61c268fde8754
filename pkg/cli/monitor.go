package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// DefaultHoldTimeout is how long a monitor's %hold for a trapped flow
// lives: the kernel's own default lifetime of a larval SA
// (net.core.xfrm_acq_expires), so the flow is held as long as the kernel
// would wait for a key manager.
const DefaultHoldTimeout = 30 * time.Second

// Acquired is an ACQUIRE: a packet of Flow met the %trap eroute Eroute.
type Acquired struct {
	Flow   eroute.Selector
	Eroute eroute.Eroute
}

// HoldReaped says the kernel removed a monitor's hold when it timed out.
type HoldReaped struct {
	Selector eroute.Selector
}

// ErrOverrun is what Next returns when ACQUIREs were lost because the socket
// buffer overflowed (ENOBUFS); listening goes on.
var ErrOverrun = errors.New("socket buffer overrun")

// ErrHoldExists is what AddHold returns when a policy already covers the
// selector (an earlier hold, or an eroute).
var ErrHoldExists = errors.New("a policy with this selector exists")

// MonitorKernel is what --monitor needs of the kernel: the ACQUIRE events of one
// network namespace and the holds it puts in place.
type MonitorKernel interface {
	// Next blocks for the next *Acquired or *HoldReaped; ErrOverrun when
	// messages were lost; any other error ends the monitor.
	Next() (any, error)
	// StopListening makes a blocked Next return; the holds stay usable.
	StopListening()
	AddHold(sel eroute.Selector, timeout time.Duration) error
	// DeleteHold removes sel's hold unless it was replaced meanwhile.
	DeleteHold(sel eroute.Selector) (bool, error)
	// StaleHolds gives the monitor holds already in the table.
	StaleHolds() ([]eroute.Selector, error)
	Close() error
}

// monitor is one run of --monitor.
type monitor struct {
	req    Request
	k      MonitorKernel
	out    io.Writer
	errOut io.Writer
	prog   string
	mu     sync.Mutex // guards errOut, made, and the writes to out
	made   map[eroute.Selector]bool
	execs  sync.WaitGroup
}

func runMonitor(req Request, env Env, prog string) error {
	if env.OpenMonitor == nil {
		return errors.New("--monitor is not available in this build")
	}
	k, err := env.OpenMonitor(req.Netns, req.Rcvbuf)
	if err != nil {
		return err
	}
	defer k.Close()
	m := &monitor{req: req, k: k, out: env.Stdout, errOut: env.Stderr, prog: prog, made: map[eroute.Selector]bool{}}
	m.reapStale()
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
	m.removeHolds()
	m.waitExecs(execGrace)
	return err
}

// execGrace is how long an ending monitor waits for --exec commands still
// running, to report how they ended; a hung command must not keep it alive.
const execGrace = 2 * time.Second

func (m *monitor) waitExecs(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		m.execs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		m.note("--exec commands still running after %v are left to finish on their own", grace)
	}
}

// listen handles events until the listener stops.
func (m *monitor) listen() error {
	overruns := 0
	for {
		ev, err := m.k.Next()
		switch {
		case errors.Is(err, ErrOverrun):
			overruns++
			m.note("ACQUIRE messages lost: the socket buffer overflowed (%d overruns so far); listening goes on", overruns)
			continue
		case errors.Is(err, ErrStopped):
			return nil
		case err != nil:
			return err
		}
		switch ev := ev.(type) {
		case *Acquired:
			m.acquired(ev)
		case *HoldReaped:
			m.reaped(ev)
		}
	}
}

// ErrStopped is what a Monitor's Next returns after StopListening.
var ErrStopped = errors.New("monitor stopped")

func (m *monitor) acquired(ev *Acquired) {
	hold, holdNote := m.placeHold(ev)
	m.print(ev, hold, holdNote)
	if m.req.Exec != "" {
		m.runExec(ev)
	}
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

// placeHold puts the %hold in place and says what happened.
func (m *monitor) placeHold(ev *Acquired) (eroute.Selector, string) {
	sel, ok := holdSelector(ev)
	if !ok {
		return sel, "none: the trapping eroute is as narrow as the flow"
	}
	err := m.k.AddHold(sel, m.req.HoldTimeout)
	switch {
	case errors.Is(err, ErrHoldExists):
		return sel, "exists"
	case err != nil:
		m.note("cannot put a %%hold for %s: %v", sel, err)
		return sel, "failed"
	}
	m.mu.Lock()
	m.made[sel] = true
	m.mu.Unlock()
	return sel, "placed"
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
	Hold        string        `json:"hold"`
	HoldSrc     string        `json:"hold_src"`
	HoldDst     string        `json:"hold_dst"`
	HoldTimeout float64       `json:"hold_timeout"`
}

// print writes the line for one ACQUIRE and flushes it at once (the
// writers are unbuffered files).
func (m *monitor) print(ev *Acquired, hold eroute.Selector, holdNote string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := ev.Flow
	if m.req.JSON {
		b, _ := json.Marshal(acquireJSON{
			Time: time.Now().UTC().Format(time.RFC3339Nano),
			Src:  f.Src.Addr().String(), Dst: f.Dst.Addr().String(), Proto: f.Proto,
			SrcPort: f.SrcPort, DstPort: f.DstPort, Eroute: ev.Eroute,
			Hold: holdNote, HoldSrc: hold.Src.String(), HoldDst: hold.Dst.String(),
			HoldTimeout: m.req.HoldTimeout.Seconds(),
		})
		fmt.Fprintf(m.out, "%s\n", b)
		return
	}
	trap := ev.Eroute
	trap.Count = 0
	fmt.Fprintf(m.out, "%s acquire %s => %s by %s => %s; hold %s\n",
		time.Now().Format("2006-01-02T15:04:05"),
		eroute.EndText(f.Src, f.SrcPort)+" -> "+eroute.EndText(f.Dst, f.DstPort),
		withProto(trap.SAID, f.Proto),
		eroute.EndText(trap.Src, trap.SrcPort)+" -> "+eroute.EndText(trap.Dst, trap.DstPort),
		withProto(trap.SAID, trap.Proto), holdNote)
}

func withProto(s eroute.SAID, proto uint8) string {
	if proto == 0 {
		return s.String()
	}
	return s.String() + ":" + strconv.Itoa(int(proto))
}

func (m *monitor) reaped(ev *HoldReaped) {
	m.mu.Lock()
	mine := m.made[ev.Selector]
	delete(m.made, ev.Selector)
	m.mu.Unlock()
	if mine {
		m.note("%%hold %s timed out and was removed; the %%trap fires again", ev.Selector)
	}
}

// runExec starts --exec for one ACQUIRE without waiting for it: a slow
// script must not delay the next ACQUIRE. Failures are reported, never fatal.
func (m *monitor) runExec(ev *Acquired) {
	cmd := exec.Command("/bin/sh", "-c", m.req.Exec)
	cmd.Env = append(os.Environ(), execEnv(ev, m.req.Netns)...)
	cmd.Stdout, cmd.Stderr = m.errOut, m.errOut
	if err := cmd.Start(); err != nil {
		m.note("--exec %q: %v", m.req.Exec, err)
		return
	}
	m.execs.Add(1)
	go func() {
		defer m.execs.Done()
		if err := cmd.Wait(); err != nil {
			m.note("--exec %q for %s: %v", m.req.Exec, ev.Flow, err)
		}
	}()
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
	for _, sel := range stale {
		if ok, err := m.k.DeleteHold(sel); err == nil && ok {
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
	for sel := range m.made {
		if _, err := m.k.DeleteHold(sel); err != nil {
			fmt.Fprintf(m.errOut, "%s: monitor: cannot remove the %%hold for %s: %v\n", m.prog, sel, err)
		}
	}
	m.made = map[eroute.Selector]bool{}
}

// note reports something on standard error, one line.
func (m *monitor) note(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.errOut, "%s: monitor: %s\n", m.prog, fmt.Sprintf(format, args...))
}
