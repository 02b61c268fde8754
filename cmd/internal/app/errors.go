package app

import (
	"errors"

	"github.com/eroute/eroute/internal/nslock"
	"github.com/eroute/eroute/pkg/cli"
	"github.com/eroute/eroute/xfrm"
)

// kernelKinds pairs the driver's errors with the command's words for them.
var kernelKinds = []struct{ driver, cli error }{
	{xfrm.ErrExists, cli.ErrInUse},
	{xfrm.ErrNotFound, cli.ErrNotThere},
	{xfrm.ErrNetnsPermission, cli.ErrNoNetnsPrivilege},
	{xfrm.ErrReadPermission, cli.ErrNoReadPrivilege},
	{xfrm.ErrPermission, cli.ErrNoPrivilege},
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
	for _, k := range kernelKinds {
		if errors.Is(err, k.driver) && err.Error() == k.driver.Error() {
			return &cli.KernelError{Msg: k.cli, Err: err}
		}
	}
	return err
}
