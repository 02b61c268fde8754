package cli

import (
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Defaults of the --exec bounds (see eroute(8)).
const (
	// DefaultExecMax hooks run at once: an ACQUIRE flood (any local user,
	// or forwarded traffic under a %trap, can make one) must not fork a
	// shell per packet.
	DefaultExecMax = 8
	// DefaultExecQueue ACQUIREs wait for a free slot; beyond that they get
	// no hook, and the monitor counts them on standard error.
	DefaultExecQueue = 64
	// DefaultExecTimeout is how long a hook may run before its process
	// group is ended: longer than an IKE negotiation with retransmits.
	DefaultExecTimeout = 60 * time.Second
)

// hookGrace is how long an ending monitor waits for running hooks before
// it ends them; killGrace how long a hook's group has between SIGTERM and
// SIGKILL.
const (
	hookGrace = 2 * time.Second
	killGrace = time.Second
)

// hooks runs the --exec command for ACQUIREs: at most max at once, each in
// a process group of its own (so that ending it ends what it started), for
// at most timeout; up to queueMax more wait in order, the rest are
// dropped and counted.
type hooks struct {
	command  string
	max      int
	queueMax int
	timeout  time.Duration
	out      io.Writer // the hooks' standard output and error
	note     func(format string, args ...any)

	mu       sync.Mutex
	running  map[*hook]bool
	queue    []*hook
	closed   bool
	dropped  int // ACQUIREs that got no hook because the queue was full
	reported int // dropped as last reported
	lastNote time.Time
	idle     *sync.Cond // signalled when a hook ends
}

// hook is one run of the command.
type hook struct {
	env     []string
	what    string // the flow, for messages
	cmd     *exec.Cmd
	done    bool // the process has been waited for
	timer   *time.Timer
	timeout bool
}

func newHooks(req Request, out io.Writer, note func(string, ...any)) *hooks {
	h := &hooks{command: req.Exec, max: req.ExecMax, queueMax: req.ExecQueue, timeout: req.ExecTimeout,
		out: out, note: note, running: map[*hook]bool{}}
	if h.max <= 0 {
		h.max = DefaultExecMax
	}
	if h.queueMax < 0 {
		h.queueMax = 0
	}
	if h.timeout <= 0 {
		h.timeout = DefaultExecTimeout
	}
	h.idle = sync.NewCond(&h.mu)
	return h
}

// submit runs the command for one ACQUIRE, or queues it, or drops it, and
// says which: "started", "queued", "dropped" (or "failed": it could not be
// started). It never waits for a hook.
func (h *hooks) submit(ev *Acquired, netns string) string {
	k := &hook{env: append(os.Environ(), execEnv(ev, netns)...), what: ev.Flow.String()}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return "dropped"
	case len(h.running) < h.max:
		if !h.startLocked(k) {
			return "failed"
		}
		return "started"
	case len(h.queue) < h.queueMax:
		h.queue = append(h.queue, k)
		return "queued"
	}
	h.dropped++
	if time.Since(h.lastNote) >= time.Second {
		h.reportDropsLocked()
	}
	return "dropped"
}

// reportDropsLocked says how many ACQUIREs got no hook so far, at most once
// a second while a flood lasts.
func (h *hooks) reportDropsLocked() {
	h.note("--exec: %d ACQUIREs got no hook so far: %d hooks running (--exec-max) and %d waiting (--exec-queue)",
		h.dropped, len(h.running), len(h.queue))
	h.reported, h.lastNote = h.dropped, time.Now()
}

// startLocked starts k, or reports why it could not.
func (h *hooks) startLocked(k *hook) bool {
	cmd := exec.Command("/bin/sh", "-c", h.command)
	cmd.Env = k.env
	cmd.Stdout, cmd.Stderr = h.out, h.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	k.cmd = cmd
	if err := cmd.Start(); err != nil {
		h.note("--exec %q: %v", h.command, err)
		return false
	}
	h.running[k] = true
	k.timer = time.AfterFunc(h.timeout, func() { h.expire(k) })
	go h.wait(k)
	return true
}

// wait reaps k, reports how it failed, and starts the next queued hook.
func (h *hooks) wait(k *hook) {
	err := k.cmd.Wait()
	k.timer.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	k.done = true
	delete(h.running, k)
	switch {
	case k.timeout:
		h.note("--exec %q for %s: still running after %v (--exec-timeout): its process group was ended", h.command, k.what, h.timeout)
	case err != nil:
		h.note("--exec %q for %s: %v", h.command, k.what, err)
	}
	for len(h.queue) > 0 && len(h.running) < h.max && !h.closed {
		next := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.startLocked(next)
	}
	h.idle.Broadcast()
}

// expire ends a hook that ran out of time: SIGTERM to its process group,
// then SIGKILL if its shell has not ended a moment later.
func (h *hooks) expire(k *hook) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k.done {
		return
	}
	k.timeout = true
	h.signalLocked(k, syscall.SIGTERM)
	time.AfterFunc(killGrace, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.signalLocked(k, syscall.SIGKILL)
	})
}

// signalLocked signals k's process group while its shell has not been
// reaped: until then the group's id cannot belong to anyone else.
func (h *hooks) signalLocked(k *hook, sig syscall.Signal) {
	if !k.done {
		syscall.Kill(-k.cmd.Process.Pid, sig)
	}
}

// close stops the hooks for good: the queued ones never run, running ones
// have grace to end, then their process groups get SIGTERM and, a moment
// later, SIGKILL.
func (h *hooks) close(grace time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if n := len(h.queue); n > 0 {
		h.note("--exec: %d queued hooks not run: the monitor is ending", n)
		h.queue = nil
	}
	if h.dropped > h.reported {
		h.reportDropsLocked()
	}
	if !h.waitLocked(grace) {
		h.note("--exec: ending %d hooks still running after %v", len(h.running), grace)
		for k := range h.running {
			h.signalLocked(k, syscall.SIGTERM)
		}
		if !h.waitLocked(killGrace) {
			for k := range h.running {
				h.signalLocked(k, syscall.SIGKILL)
			}
			h.waitLocked(killGrace)
		}
	}
}

// waitLocked waits up to d for every running hook to end.
func (h *hooks) waitLocked(d time.Duration) bool {
	deadline := time.Now().Add(d)
	t := time.AfterFunc(d, func() {
		h.mu.Lock()
		h.idle.Broadcast()
		h.mu.Unlock()
	})
	defer t.Stop()
	for len(h.running) > 0 && time.Now().Before(deadline) {
		h.idle.Wait()
	}
	return len(h.running) == 0
}
