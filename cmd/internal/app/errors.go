package app

import (
	"errors"
	"fmt"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/pkg/spi"
	"github.com/eroute/eroute/xfrm"
)

// kind pairs an error of the driver's with a command's words for it.
type kind struct{ driver, words error }

// kernelKinds are the driver's errors in eroute's words.
var kernelKinds = []kind{
	{xfrm.ErrExists, cli.ErrInUse},
	{xfrm.ErrNotFound, cli.ErrNotThere},
	{xfrm.ErrNetnsPermission, cli.ErrNoNetnsPrivilege},
	{xfrm.ErrReadPermission, cli.ErrNoReadPrivilege},
	{xfrm.ErrPermission, cli.ErrNoPrivilege},
}

// saKinds are the driver's SA errors in ipsec spi's words.
var saKinds = []kind{
	{xfrm.ErrSAExists, spi.ErrSAExists},
	{xfrm.ErrSANotFound, spi.ErrSANotFound},
}

// reword gives err in the words of its kind when it says nothing but its
// kind (see cliError); false when it does not.
func reword(err error, kinds []kind) (error, bool) {
	for _, k := range kinds {
		if errors.Is(err, k.driver) && err.Error() == k.driver.Error() {
			return &cli.KernelError{Msg: k.words, Err: err}, true
		}
	}
	return err, false
}

// saError gives pkg/spi an error of the driver's in the SA commands'
// words, as cliError does for pkg/cli (whose words it keeps for the
// rest: permissions, namespaces).
func saError(err error) error {
	var se *xfrm.SAError
	switch {
	case errors.As(err, &se) && se.Kind == xfrm.ErrNoAlgorithm:
		return &cli.KernelError{Msg: fmt.Errorf("%w  %s", spi.ErrNoAlgorithm, se.Detail), Err: err}
	case errors.As(err, &se) && se.Kind == xfrm.ErrInvalidSA:
		return &cli.KernelError{Msg: fmt.Errorf("%w: %v", spi.ErrInvalid, se.Err), Err: err}
	}
	if w, ok := reword(err, saKinds); ok {
		return w
	}
	return cliError(err)
}

// cliError gives pkg/cli an error of the driver's in the command's words
// (see cli.KernelError). Only an error that says nothing but its kind is
// reworded: one that adds to it (an undo that failed too) keeps its own
// text, with its parts reworded. errors.Is still finds the driver's kind
// and the errno in what it gives.
func cliError(err error) error {
	var undo *xfrm.UndoError
	var busy *nslock.BusyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &undo):
		return &xfrm.UndoError{Index: undo.Index, Err: cliError(undo.Err), UndoErr: cliError(undo.UndoErr)}
	case errors.Is(err, xfrm.ErrMonitorRunning) && errors.As(err, &busy):
		return cli.MonitorRunning(err, busy.PID)
	case errors.Is(err, xfrm.ErrMonitorRunning):
		return cli.MonitorRunning(err, 0)
	}
	w, _ := reword(err, kernelKinds)
	return w
}
