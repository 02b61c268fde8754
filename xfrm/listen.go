package xfrm

import "time"

// ListenOptions says where a Listener listens and what it hears.
type ListenOptions struct {
	// Netns names the network namespace as Open does; "" is the caller's.
	Netns string
	// RcvBuf is the socket's receive buffer in bytes (see Listen); 0
	// keeps the kernel's default.
	RcvBuf int
	// The groups to join: XFRMNLGRP_ACQUIRE (*Acquire), XFRMNLGRP_EXPIRE
	// (*PolicyExpire) and XFRMNLGRP_POLICY (*PolicyChange, *PolicyFlush).
	// None chosen means Acquires and Expires, as Listen.
	Acquires, Expires, Policies bool
}

// groups gives the bit mask of the groups o chose.
func (o ListenOptions) groups() uint32 {
	var g uint32
	for _, c := range []struct {
		on  bool
		grp uint32
	}{{o.Acquires, grpAcquire}, {o.Expires, grpExpire}, {o.Policies, grpPolicy}} {
		if c.on {
			g |= 1 << (c.grp - 1)
		}
	}
	if g == 0 {
		g = 1<<(grpAcquire-1) | 1<<(grpExpire-1)
	}
	return g
}

// OpenOptions says which tables OpenWith opens, and how long it waits.
type OpenOptions struct {
	// Netns names the network namespace as Open does; "" is the caller's.
	Netns string
	// Timeout bounds each wait for the kernel's answer (a read deadline in
	// the runtime's poller; the kernel handles a send within the call); 0
	// is 10 seconds. A wait that runs out fails with an *OpError that
	// matches os.ErrDeadlineExceeded and EAGAIN.
	Timeout time.Duration
}
