package xfrm

import (
	"errors"
	"io/fs"
	"net"
	"os"

	"github.com/eroute/eroute/pkg/eroute"
)

// Errors callers tell apart, with errors.Is. Each one also matches the
// standard error of its kind (fs.ErrExist, fs.ErrNotExist,
// fs.ErrPermission, errors.ErrUnsupported, net.ErrClosed), and an error the
// kernel gave matches its errno too (unix.EEXIST, unix.EPERM...). The texts
// are a library's; the eroute command (pkg/cli) has its own words for them.
var (
	// ErrExists: an add met a policy with the same selector, direction,
	// type, mark and if_id (EEXIST).
	ErrExists = &kindError{"a policy with this selector already exists", fs.ErrExist}
	// ErrNotFound: a delete found no policy with the selector (ENOENT).
	ErrNotFound = &kindError{"no policy with this selector", fs.ErrNotExist}
	// ErrSAExists is ErrExists (errors.Is finds both) for an SA: an add
	// met an SA with the same SPI, protocol and destination (EEXIST).
	ErrSAExists = &kindError{"an SA with this SPI, protocol and destination already exists", ErrExists}
	// ErrSANotFound is ErrNotFound (errors.Is finds both) for an SA: a
	// delete found no SA with the SPI, protocol and destination.
	ErrSANotFound = &kindError{"no SA with this SPI, protocol and destination", ErrNotFound}
	// ErrNoAlgorithm: the kernel lacks an algorithm an SA names (ENOSYS):
	// its crypto module is neither built in nor loaded. The *SAError it
	// comes in names the modules.
	ErrNoAlgorithm = &kindError{"the kernel lacks an algorithm of the SA", errors.ErrUnsupported}
	// ErrInvalidSA: the kernel refused an SA as invalid (EINVAL); its log,
	// or the extended ack in the *SAError it comes in, says why.
	ErrInvalidSA = &kindError{"the kernel refused the SA as invalid", fs.ErrInvalid}
	// ErrPermission: the kernel refused for lack of privilege (EPERM,
	// EACCES): changing, and reading, the XFRM tables takes CAP_NET_ADMIN
	// in the namespace's user namespace.
	ErrPermission = &kindError{"permission denied: the XFRM tables take CAP_NET_ADMIN", fs.ErrPermission}
	// ErrReadPermission is ErrPermission (errors.Is finds both) for a
	// reading of the table: a listing or a snapshot.
	ErrReadPermission = &kindError{"permission denied: reading the XFRM tables takes CAP_NET_ADMIN", ErrPermission}
	// ErrNetnsPermission is ErrPermission (errors.Is finds both) for a
	// refused setns(2), which takes CAP_SYS_ADMIN (CAP_NET_ADMIN is not
	// enough); the error also holds the *os.SyscallError of setns.
	ErrNetnsPermission = &kindError{"permission denied: entering another network namespace takes CAP_SYS_ADMIN", ErrPermission}
	// ErrNoXFRM: the kernel has no NETLINK_XFRM (EPROTONOSUPPORT).
	ErrNoXFRM = &kindError{"the kernel has no XFRM netlink interface (CONFIG_XFRM_USER); no IPsec policy table", errors.ErrUnsupported}
	// ErrDumpInterrupted: the kernel's table changed while it was being
	// dumped (NLM_F_DUMP_INTR), so the dump may have missed or repeated
	// policies; reading again gives a whole one.
	ErrDumpInterrupted = errors.New("the kernel's table changed during the listing; try again")
)

// kindError is an error of this package that is also one of the standard
// errors (its kind), for errors.Is.
type kindError struct {
	text string
	kind error
}

func (e *kindError) Error() string { return e.text }
func (e *kindError) Unwrap() error { return e.kind }

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
	ErrOverrun = eroute.ErrOverrun
	// ErrClosed: the Listener (or Guard) was closed; errors.Is finds
	// net.ErrClosed too.
	ErrClosed = &kindError{"listener closed", net.ErrClosed}
	// ErrMonitorRunning: ClaimMonitor found the namespace claimed by
	// another process.
	ErrMonitorRunning = errors.New("the network namespace's monitor is claimed by another process")
)

// SAError is the kernel's refusal of an SA with what the driver found out
// about it: Kind is ErrNoAlgorithm or ErrInvalidSA, Detail what is missing
// ("cbc(des3_ede) needs the kernel module des3_ede-x86_64 or des_generic
// (CONFIG_CRYPTO_DES)."), "" when nothing was found out, and Err the
// kernel's error, in which errors.Is finds the errno.
type SAError struct {
	Kind   error
	Detail string
	Err    error
}

func (e *SAError) Error() string {
	if e.Detail == "" {
		return e.Kind.Error() + ": " + e.Err.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

func (e *SAError) Unwrap() []error { return []error{e.Kind, e.Err} }

// timeoutError is a wait for the kernel that ran out of time: errors.Is
// finds os.ErrDeadlineExceeded and the errno (EAGAIN) in it.
type timeoutError struct {
	text  string
	errno error
}

func (e *timeoutError) Error() string   { return e.text }
func (e *timeoutError) Unwrap() []error { return []error{os.ErrDeadlineExceeded, e.errno} }
func (e *timeoutError) Timeout() bool   { return true }

// forReading gives the reading form of a permission error: ErrReadPermission
// standing in front of ErrPermission.
func forReading(err error) error {
	if errors.Is(err, ErrPermission) && !errors.Is(err, ErrNetnsPermission) {
		return sentinel{ErrReadPermission, err}
	}
	return err
}
