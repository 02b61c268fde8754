package xfrm

import "time"

// ListenOptions says where a Listener listens and what it hears.
type ListenOptions struct {
	// Netns names the network namespace as Open does; "" is the caller's.
	Netns string
	// RcvBuf is the socket's receive buffer in bytes (see Listen); 0
	// keeps the kernel's default.
	RcvBuf int
	// The events to hear: Acquires (*Acquire, group XFRMNLGRP_ACQUIRE),
	// Expires (*PolicyExpire, XFRMNLGRP_EXPIRE), Policies (*PolicyChange,
	// *PolicyFlush, XFRMNLGRP_POLICY), SAExpires (*SAExpire, soft and
	// hard, XFRMNLGRP_EXPIRE too) and SAs (*SAChange, *SAFlush,
	// XFRMNLGRP_SA). None chosen means Acquires and Expires, as Listen.
	Acquires, Expires, Policies, SAExpires, SAs bool
}

// skip gives the message types of the groups joined that o did not ask
// for (a bit 1<<type each): XFRMNLGRP_EXPIRE carries both expiries.
func (o ListenOptions) skip() uint64 {
	switch g := o.groups(); {
	case g&(1<<(grpExpire-1)) == 0:
		return 0
	case !o.SAExpires:
		return 1 << msgExpire
	case !o.Expires:
		return 1 << msgPolExpire
	}
	return 0
}

// groups gives the bit mask of the groups o chose.
func (o ListenOptions) groups() uint32 {
	var g uint32
	for _, c := range []struct {
		on  bool
		grp uint32
	}{{o.Acquires, grpAcquire}, {o.Expires || o.SAExpires, grpExpire}, {o.Policies, grpPolicy}, {o.SAs, grpSA}} {
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
