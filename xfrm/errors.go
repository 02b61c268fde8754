package xfrm

import "errors"

// Errors callers tell apart. Their texts are the KLIPS messages where KLIPS
// had one. The errno behind each stays reachable with errors.Is.
var (
	// ErrExists: an add met a policy with the same selector (EEXIST).
	ErrExists = errors.New("eroute already in use.  Delete old one first.")
	// ErrNotFound: a delete found no policy with the selector (ENOENT).
	ErrNotFound = errors.New("eroute doesn't exist.  Can't delete.")
	// ErrPermission: the kernel refused for lack of privilege (EPERM, EACCES).
	ErrPermission = errors.New("access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.")
	// ErrReadPermission: the same, for a listing or a --sync plan, which
	// only read the table (the kernel wants CAP_NET_ADMIN for a dump too).
	// errors.Is finds ErrPermission in it as well.
	ErrReadPermission = errors.New("access denied.  You must be root (CAP_NET_ADMIN) to read the IPsec policy table.")
	// ErrNetnsPermission: setns(2) into a named namespace was refused,
	// which takes CAP_SYS_ADMIN (CAP_NET_ADMIN is not enough).
	ErrNetnsPermission = errors.New("access denied.  You must be root (CAP_SYS_ADMIN) to enter another network namespace.")
	// ErrNoXFRM: the kernel has no NETLINK_XFRM (EPROTONOSUPPORT).
	ErrNoXFRM = errors.New("the kernel has no XFRM netlink interface (CONFIG_XFRM_USER); no IPsec policy table")
)

// sentinel is one of the errors above with the error it stands for, so
// that errors.Is finds both the sentinel and, say, unix.EEXIST.
type sentinel struct {
	err, cause error
}

func (s sentinel) Error() string   { return s.err.Error() }
func (s sentinel) Unwrap() []error { return []error{s.err, s.cause} }

// Errors of the monitor's listener and claim.
var (
	// ErrOverrun: the socket's receive buffer overflowed (ENOBUFS), and
	// the kernel dropped messages, ACQUIREs among them. Listening goes on.
	ErrOverrun = errors.New("ACQUIRE messages lost: the socket's receive buffer overflowed")
	// ErrClosed: the Listener was closed.
	ErrClosed = errors.New("listener closed")
	// ErrMonitorRunning: ClaimMonitor found the namespace claimed.
	ErrMonitorRunning = errors.New("another eroute --monitor is running in this network namespace")
)

// forReading gives the reading form of a permission error: ErrReadPermission
// standing in front of ErrPermission.
func forReading(err error) error {
	if errors.Is(err, ErrPermission) && !errors.Is(err, ErrNetnsPermission) {
		return sentinel{ErrReadPermission, err}
	}
	return err
}
