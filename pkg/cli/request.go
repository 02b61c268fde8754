package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// Action is what one command does.
type Action int

// The actions. List is the form without an action option.
const (
	List Action = iota
	Add
	Replace
	Delete
	Clear
	AddInbound
	ReplaceInbound
	DeleteInbound
	Help
	Version
	Monitor
	Batch
	Sync
	Save
	numActions // not an action: their count
)

// Request is a checked command line.
type Request struct {
	Action Action
	Eroute eroute.Eroute
	Netns  string
	Debug  bool
	Label  string
	// JSON asks for JSON lines instead of text (listing and --monitor).
	JSON bool
	// The --monitor options.
	HoldTimeout time.Duration
	Exec        string
	ExecMax     int           // hooks at once
	ExecQueue   int           // ACQUIREs waiting for a hook
	ExecTimeout time.Duration // a hook's time limit
	Rcvbuf      int
	// The --batch and --sync options: the file ("-" for standard input),
	// and for --sync whether to only print the plan, and whether policies
	// eroute did not make may be changed.
	File   string
	DryRun bool
	All    bool
	// Force lets --del, --delin, --replace and --replacein act on a
	// policy eroute did not make; with --clear, All takes those too.
	Force bool
	// Exact is the eroute's selector with the host bits of --src and
	// --dst as given (Eroute.Selector has them cleared): the selector of a
	// policy someone else wrote, as the listing shows it. Zero when the
	// addresses given have no host bits.
	Exact eroute.Selector
	// DetailedExit: --sync exits 2 when the table needed changes (see
	// ErrChanged).
	DetailedExit bool
}

// Messages that KLIPS scripts grep for, kept word for word.
const (
	msgOneAction     = "Only one of '--add', '--replace', '--clear', or '--del' options permitted."
	msgNeedAction    = "exactly one of '--add', '--replace', '--del' or '--clear' options must be specified."
	msgNeedSA        = "add and addin options must have SA specified."
	msgPortsNeedTCP  = "--transport-proto with either UDP or TCP must be specified if --src-port or --dst-port is used"
	msgReservedSPI   = "values less than 0x100 are reserved"
	saidOptionsGroup = "--af, --edst, --spi and --proto"
)

// Parser turns a command line into a Request. Resolver and Names let tests
// run without the system's name services.
type Parser struct {
	Resolver eroute.Resolver
	Names    eroute.Names
}

// Parse checks a whole command line; nothing is sent anywhere.
func (p Parser) Parse(args []string) (Request, error) {
	var buf [12]given // room for a batch line's options without allocating
	opts, err := appendOptions(buf[:0], args)
	if err != nil {
		return Request{Label: firstValue(opts, optLabel)}, err
	}
	var set optionSet
	req, err := collect(opts, &set)
	if err != nil || req.Action == Help || req.Action == Version {
		return req, err
	}
	if err := checkModeOptions(&set, &req); err != nil {
		return req, err
	}
	cmd := commandOf(req.Action)
	switch cmd.form {
	case formFile:
		req.File = set.value(cmd.option)
		return req, onlyGlobal(&set, cmd)
	case formNone:
		return req, onlyGlobal(&set, cmd)
	}
	req.Eroute, req.Exact, err = p.erouteOf(&set, cmd)
	if req.Exact == req.Eroute.Selector {
		req.Exact = eroute.Selector{}
	}
	return req, err
}

// collect records each option once, the action, and the global options.
// --help and --version win over everything else on the line, wherever they
// are; the first of them is the one obeyed.
func collect(opts []given, set *optionSet) (Request, error) {
	req := Request{Action: List, Label: firstValue(opts, optLabel)}
	for _, o := range opts {
		switch o.id {
		case optHelp:
			return Request{Action: Help}, nil
		case optVersion:
			return Request{Action: Version}, nil
		}
	}
	for _, o := range opts {
		if a := actionOf[o.id]; a != List {
			if req.Action != List {
				return req, errors.New(msgOneAction)
			}
			req.Action = a
			if commandOf(a).form == formFile {
				set.set(o.id, o.value)
			}
			continue
		}
		if old, dup := set.get(o.id); dup {
			if !longOptions[o.id].hasArg { // a flag: no values to show
				return req, fmt.Errorf("Error, --%s given twice", o.name)
			}
			return req, fmt.Errorf("Error, --%s parameter redefined:%s, already defined as:%s", o.name, o.value, old)
		}
		set.set(o.id, o.value)
	}
	req.Netns = set.value(optNetns)
	req.Debug = set.given(optDebug)
	return req, nil
}

// firstValue is the value of the first id option in opts, or "".
func firstValue(opts []given, id optID) string {
	for _, o := range opts {
		if o.id == id {
			return o.value
		}
	}
	return ""
}

var globalOptions = map[optID]bool{optNetns: true, optLabel: true, optDebug: true}

// modeOptions are the options that only some actions take.
var modeOptions = map[optID][]Action{
	optJSON:             {List, Monitor, Sync},
	optHoldTimeout:      {Monitor},
	optExec:             {Monitor},
	optRcvbuf:           {Monitor},
	optDryRun:           {Sync},
	optAll:              {Sync, Clear, Monitor, Save},
	optForce:            {Delete, DeleteInbound, Replace, ReplaceInbound},
	optExecMax:          {Monitor},
	optExecQueue:        {Monitor},
	optExecTimeout:      {Monitor},
	optDetailedExitcode: {Sync},
}

// modeOptionOrder is the order in which misplaced mode options are reported.
var modeOptionOrder = []optID{optJSON, optHoldTimeout, optExec, optRcvbuf, optDryRun, optAll, optForce, optExecMax, optExecQueue, optExecTimeout, optDetailedExitcode}

// checkModeOptions reads the listing's and the monitor's own options, and
// refuses them with other actions.
func checkModeOptions(set *optionSet, req *Request) error {
	for _, id := range modeOptionOrder {
		if !set.given(id) { // before the map: a batch line has none of them
			continue
		}
		if actions := modeOptions[id]; !slices.Contains(actions, req.Action) {
			return fmt.Errorf("--%s goes with %s only", id, actionList(actions))
		}
	}
	req.JSON = set.given(optJSON)
	req.DryRun = set.given(optDryRun)
	req.All = set.given(optAll)
	req.Force = set.given(optForce)
	req.DetailedExit = set.given(optDetailedExitcode)
	req.Exec = set.value(optExec)
	if req.Action == Monitor {
		req.HoldTimeout = DefaultHoldTimeout
		req.ExecMax, req.ExecQueue, req.ExecTimeout = DefaultExecMax, DefaultExecQueue, DefaultExecTimeout
	}
	if err := checkExecOptions(set, req); err != nil {
		return err
	}
	if v, ok := set.get(optHoldTimeout); ok {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("Invalid --hold-timeout parameter %q: want a whole number of seconds from 1", v)
		}
		req.HoldTimeout = time.Duration(n) * time.Second
	}
	if v, ok := set.get(optRcvbuf); ok {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil || n == 0 {
			return fmt.Errorf("Invalid --rcvbuf parameter %q: want a number of bytes from 1", v)
		}
		req.Rcvbuf = int(n)
	}
	return nil
}

// checkExecOptions reads the bounds of --exec, which mean nothing without it.
func checkExecOptions(set *optionSet, req *Request) error {
	if !set.given(optExecMax) && !set.given(optExecQueue) && !set.given(optExecTimeout) {
		return nil // the usual case, and every batch line
	}
	// No closures over req here: they would make every Request of a
	// batch line escape to the heap.
	for _, o := range []struct {
		id   optID
		min  uint64
		max  uint64
		unit string
	}{
		{optExecMax, 1, 4096, "a number of hooks from 1 to 4096"},
		{optExecQueue, 0, 1 << 20, "a number of ACQUIREs from 0 to 1048576"},
		{optExecTimeout, 1, 1 << 31, "a whole number of seconds from 1"},
	} {
		v, ok := set.get(o.id)
		if !ok {
			continue
		}
		if !set.given(optExec) {
			return fmt.Errorf("--%s goes with --exec only", o.id)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < o.min || n > o.max {
			return fmt.Errorf("Invalid --%s parameter %q: want %s", o.id, v, o.unit)
		}
		switch o.id {
		case optExecMax:
			req.ExecMax = int(n)
		case optExecQueue:
			req.ExecQueue = int(n)
		case optExecTimeout:
			req.ExecTimeout = time.Duration(n) * time.Second
		}
	}
	return nil
}

// onlyGlobal refuses eroute options where no eroute is given: the listing,
// --clear (which clears everything, so a --src there would mislead),
// --monitor, and the commands that read eroutes from a file.
func onlyGlobal(set *optionSet, cmd *command) error {
	for _, o := range longOptions {
		if !set.given(o.id) || actionOf[o.id] != List || globalOptions[o.id] || modeOptions[o.id] != nil {
			continue
		}
		if cmd.refusal == "" { // the listing: an eroute option without an action
			return errors.New(msgNeedAction)
		}
		return fmt.Errorf(cmd.refusal, o.name)
	}
	return nil
}

func (p Parser) erouteOf(set *optionSet, cmd *command) (e eroute.Eroute, exact eroute.Selector, err error) {
	if err := p.checkSAIDForm(set, cmd); err != nil {
		return e, exact, err
	}
	for _, end := range [...]optID{optSrc, optDst} {
		if !set.given(end) {
			return e, exact, fmt.Errorf("Error -- %s option '--%s' is required.", cmd.option, end)
		}
	}
	family, numeric, err := erouteFamily(set)
	if err != nil {
		return e, exact, err
	}
	if e.Selector, exact, err = p.selector(set, family, numeric); err != nil {
		return eroute.Eroute{}, eroute.Selector{}, err
	}
	e.SAID, err = p.said(set, e.Selector.Family())
	if err != nil || cmd.form == formSelector {
		return eroute.Eroute{Selector: e.Selector}, exact, err
	}
	return e, exact, checkSAIDFamily(&e)
}

// checkSAIDForm wants one SAID form, whole, for add and replace.
func (p Parser) checkSAIDForm(set *optionSet, cmd *command) error {
	said, hasSAID := set.get(optSaid)
	var partsBuf [len(saidParts)]optID
	parts := partsBuf[:0]
	for _, o := range saidParts {
		if set.given(o) {
			parts = append(parts, o)
		}
	}
	if hasSAID && len(parts) > 0 {
		return fmt.Errorf("Error, --said %s and --%s %s both given: use either --said or %s",
			said, parts[0], set.value(parts[0]), saidOptionsGroup)
	}
	if cmd.form == formSelector || hasSAID || len(parts) == len(saidParts) {
		return nil
	}
	if len(parts) == 0 {
		return fmt.Errorf("%s Give --said or %s.", msgNeedSA, saidOptionsGroup)
	}
	var missing []string
	for _, o := range saidParts {
		if !set.given(o) {
			missing = append(missing, "--"+o.String())
		}
	}
	return fmt.Errorf("%s Missing %s.", msgNeedSA, strings.Join(missing, ", "))
}

// saidParts are the options of the second SAID form.
var saidParts = [...]optID{optAf, optEdst, optSpi, optProto}

// actionList names actions as options: "--sync and --clear", "the
// listing and --monitor".
func actionList(actions []Action) string {
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = "--" + actionName(a)
		if a == List {
			names[i] = "the listing"
		}
	}
	return joinList(names, "and")
}

// joinList joins names as a sentence does: "a, b and c" (conj "and").
func joinList(names []string, conj string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conj + " " + names[len(names)-1]
}

// actionName is the option that chooses an action, without its "--";
// "list" for List.
func actionName(a Action) string { return commandOf(a).name() }
