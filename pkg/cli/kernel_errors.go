package cli

import (
	"errors"
	"fmt"
)

// The kernel's refusals as eroute reports them: KLIPS's words where KLIPS
// had some. The driver (package xfrm) words its errors as a library; the
// program that joins the two (cmd/internal/app) hands pkg/cli these
// instead, each as a *KernelError that keeps the driver's error, so that
// errors.Is still finds the driver's kind and the errno.
var (
	// ErrInUse: an add met a policy with the same selector (EEXIST).
	ErrInUse = errors.New(msgInUse)
	// ErrNotThere: a delete found no policy with the selector (ENOENT).
	ErrNotThere = errors.New(msgNotThere)
	// ErrNoPrivilege: the kernel refused a change for lack of privilege.
	ErrNoPrivilege = errors.New("access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.")
	// ErrNoReadPrivilege: the same for a listing or a --sync plan, which
	// only read the table (the kernel wants CAP_NET_ADMIN for a dump too).
	ErrNoReadPrivilege = errors.New("access denied.  You must be root (CAP_NET_ADMIN) to read the IPsec policy table.")
	// ErrNoNetnsPrivilege: setns(2) into a named namespace was refused,
	// which takes CAP_SYS_ADMIN (CAP_NET_ADMIN is not enough).
	ErrNoNetnsPrivilege = errors.New("access denied.  You must be root (CAP_SYS_ADMIN) to enter another network namespace.")
	// ErrMonitorRunning: another --monitor holds the namespace.
	ErrMonitorRunning = errors.New("another eroute --monitor is running in this network namespace")
)

// KernelError is one of the errors above (Msg, whose text it has) standing
// for the driver's error Err. ipsec spi's words for the driver's SA errors
// (pkg/spi's ErrSAExists...) come in one too.
type KernelError struct {
	Msg error
	Err error
}

func (e *KernelError) Error() string   { return e.Msg.Error() }
func (e *KernelError) Unwrap() []error { return []error{e.Msg, e.Err} }

// MonitorRunning is ErrMonitorRunning for the driver's error err, naming
// the process that runs the other monitor (pid 0: unknown).
func MonitorRunning(err error, pid int) error {
	msg := ErrMonitorRunning
	if pid > 0 {
		msg = fmt.Errorf("%w (pid %d)", ErrMonitorRunning, pid)
	}
	return &KernelError{Msg: msg, Err: err}
}
