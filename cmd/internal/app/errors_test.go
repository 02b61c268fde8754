package app

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"testing"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/spi"
	"github.com/eroute/eroute/xfrm"
	"golang.org/x/sys/unix"
)

// refusal is an error of the driver's kind as the driver gives it: the
// kind's text, with the errno behind it.
type refusal struct{ kind, errno error }

func (r refusal) Error() string   { return r.kind.Error() }
func (r refusal) Unwrap() []error { return []error{r.kind, r.errno} }

// wording is one error, the words a command gives it, and what errors.Is
// must still find in them.
type wording struct {
	err   error
	want  string
	still []error
}

func checkWords(t *testing.T, name string, words func(error) error, tests []wording) {
	t.Helper()
	for _, tt := range tests {
		got := words(tt.err)
		if got.Error() != tt.want {
			t.Errorf("%s(%q) = %q, want %q", name, tt.err, got, tt.want)
		}
		for _, is := range tt.still {
			if !errors.Is(got, is) {
				t.Errorf("%s(%q) is not %q", name, tt.err, is)
			}
		}
	}
}

// The command shows the driver's refusals in KLIPS's words, byte for
// byte as before the driver had words of its own, and errors.Is still
// finds the driver's kind and the errno.
func TestCliErrorWords(t *testing.T) {
	read := refusal{xfrm.ErrReadPermission, refusal{xfrm.ErrPermission, unix.EPERM}}
	checkWords(t, "cliError", cliError, []wording{
		{refusal{xfrm.ErrExists, unix.EEXIST}, "eroute already in use.  Delete old one first.", []error{xfrm.ErrExists, fs.ErrExist, unix.EEXIST, cli.ErrInUse}},
		{refusal{xfrm.ErrNotFound, unix.ENOENT}, "eroute doesn't exist.  Can't delete.", []error{xfrm.ErrNotFound, unix.ENOENT}},
		{refusal{xfrm.ErrPermission, unix.EPERM}, "access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.", []error{fs.ErrPermission, unix.EPERM}},
		{read, "access denied.  You must be root (CAP_NET_ADMIN) to read the IPsec policy table.", []error{xfrm.ErrPermission, unix.EPERM}},
		{refusal{xfrm.ErrNetnsPermission, unix.EPERM}, "access denied.  You must be root (CAP_SYS_ADMIN) to enter another network namespace.", []error{xfrm.ErrPermission}},
		{refusal{fmt.Errorf("%w (pid 42)", xfrm.ErrMonitorRunning), &nslock.BusyError{Purpose: "monitor", PID: 42}},
			"another eroute --monitor is running in this network namespace (pid 42)", []error{xfrm.ErrMonitorRunning, nslock.ErrBusy}},
		{refusal{xfrm.ErrMonitorRunning, nslock.ErrBusy}, "another eroute --monitor is running in this network namespace", []error{cli.ErrMonitorRunning}},
		// What adds to a kind keeps its words; so does what is no kind.
		{fmt.Errorf("%w; and more", xfrm.ErrExists), "a policy with this selector already exists; and more", []error{xfrm.ErrExists}},
		{xfrm.ErrNoXFRM, xfrm.ErrNoXFRM.Error(), nil},
		{&xfrm.UndoError{Index: 3, Err: refusal{xfrm.ErrExists, unix.EEXIST}, UndoErr: refusal{xfrm.ErrPermission, unix.EPERM}},
			"eroute already in use.  Delete old one first.; undoing the changes made before it failed too (access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.): the table is not as it was",
			[]error{unix.EEXIST}},
	})
	if cliError(nil) != nil {
		t.Error("success turned into an error")
	}
	be := batchError(&xfrm.BatchError{Index: 7, Err: refusal{xfrm.ErrNotFound, unix.ENOENT}})
	var cbe *cli.BatchError
	if !errors.As(be, &cbe) || cbe.Index != 7 || cbe.Err.Error() != "eroute doesn't exist.  Can't delete." || !errors.Is(be, unix.ENOENT) {
		t.Errorf("batchError gave %#v", be)
	}
}

// The driver's batch refusals reach pkg/cli as the one model's types (no
// copy): a *ForeignError keeps its holder, for the --force hint pkg/cli
// adds; an *UndoError (the table is NOT as it was) never becomes a
// *BatchError, which would say "nothing was changed".
func TestBatchErrorShared(t *testing.T) {
	holder := cli.Entry{Priority: 367231, Index: 9}
	fe := &xfrm.ForeignError{Holder: holder}
	var got *cli.ForeignError
	if err := batchError(&xfrm.BatchError{Index: 2, Err: fe}); !errors.As(err, &got) || got != fe {
		t.Errorf("batchError(ForeignError) = %#v", err)
	}
	undo := &xfrm.UndoError{Index: 1, Err: refusal{xfrm.ErrExists, unix.EEXIST}, UndoErr: unix.EPERM}
	var cbe *cli.BatchError
	if err := batchError(undo); errors.As(err, &cbe) || !errors.Is(err, cli.ErrInUse) {
		t.Errorf("batchError(UndoError) = %#v", err)
	}
}

// pkg/cli's monitor tells the driver's errors apart by the one model's
// error (eroute.ErrOverrun) and the standard ones (net.ErrClosed,
// fs.ErrExist), with no pairs to translate: what the driver gives, worded
// by cliError, must still match them.
func TestMonitorErrorsShared(t *testing.T) {
	for _, tt := range []struct {
		err, want error
	}{
		{xfrm.ErrOverrun, eroute.ErrOverrun},
		{xfrm.ErrClosed, net.ErrClosed},
		{refusal{xfrm.ErrExists, unix.EEXIST}, fs.ErrExist},
	} {
		if got := cliError(tt.err); !errors.Is(got, tt.want) {
			t.Errorf("cliError(%q) = %q, not %q", tt.err, got, tt.want)
		}
	}
}

// ipsec spi shows the driver's SA refusals in KLIPS's words, which pkg/spi
// also tells apart with errors.Is; the driver's kinds and the errno stay
// findable. The rest is worded as for eroute.
func TestSAErrorWords(t *testing.T) {
	checkWords(t, "saError", saError, []wording{
		{refusal{xfrm.ErrSAExists, unix.EEXIST}, "SA already in use.  Delete old one first.", []error{spi.ErrSAExists, xfrm.ErrExists, fs.ErrExist, unix.EEXIST}},
		{refusal{xfrm.ErrSANotFound, unix.ESRCH}, "SA does not exist.  Cannot delete.", []error{spi.ErrSANotFound, xfrm.ErrNotFound, unix.ESRCH}},
		{refusal{xfrm.ErrPermission, unix.EPERM}, "access denied.  You must be root (CAP_NET_ADMIN) to change the IPsec policy table.", []error{unix.EPERM}},
		{fmt.Errorf("%w; and more", xfrm.ErrSAExists), "an SA with this SPI, protocol and destination already exists; and more", nil},
		{&xfrm.SAError{Kind: xfrm.ErrNoAlgorithm, Detail: "cbc(des3_ede) needs the kernel module des_generic (CONFIG_CRYPTO_DES).", Err: unix.ENOSYS},
			"Algorithm support not available in the kernel.  Please compile in support.  cbc(des3_ede) needs the kernel module des_generic (CONFIG_CRYPTO_DES).",
			[]error{spi.ErrNoAlgorithm, xfrm.ErrNoAlgorithm, unix.ENOSYS}},
		{&xfrm.SAError{Kind: xfrm.ErrInvalidSA, Err: fmt.Errorf("%w (Invalid ESP key size)", unix.EINVAL)},
			"Invalid argument, check kernel log messages for specifics: invalid argument (Invalid ESP key size)",
			[]error{spi.ErrInvalid, xfrm.ErrInvalidSA, unix.EINVAL}},
	})
}
