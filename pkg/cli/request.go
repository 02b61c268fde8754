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
)

var actionOptions = map[string]Action{
	"add": Add, "replace": Replace, "del": Delete, "clear": Clear,
	"addin": AddInbound, "replacein": ReplaceInbound, "delin": DeleteInbound, "monitor": Monitor,
	"batch": Batch, "sync": Sync,
}

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
	Rcvbuf      int
	// The --batch and --sync options: the file ("-" for standard input),
	// and for --sync whether to only print the plan, and whether policies
	// eroute did not make may be changed.
	File   string
	DryRun bool
	All    bool
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
	opts, err := getopt(args)
	if err != nil {
		return Request{Label: firstValue(opts, "label")}, err
	}
	set, req, err := collect(opts)
	if err != nil || req.Action == Help || req.Action == Version {
		return req, err
	}
	if err := checkModeOptions(set, &req); err != nil {
		return req, err
	}
	if req.Action == Batch || req.Action == Sync {
		req.File = fileOf(set, req.Action)
	}
	if req.Action == List || req.Action == Clear || req.Action == Monitor || req.Action == Batch || req.Action == Sync {
		return req, onlyGlobal(set, req.Action)
	}
	req.Eroute, err = p.erouteOf(set, req.Action)
	return req, err
}

// collect records each option once, the action, and the global options.
// --help and --version win over everything else on the line, wherever they
// are; the first of them is the one obeyed.
func collect(opts []given) (map[string]string, Request, error) {
	req := Request{Action: List, Label: firstValue(opts, "label")}
	for _, o := range opts {
		switch o.name {
		case "help":
			return nil, Request{Action: Help}, nil
		case "version":
			return nil, Request{Action: Version}, nil
		}
	}
	set := map[string]string{}
	for _, o := range opts {
		if a, ok := actionOptions[o.name]; ok {
			if req.Action != List {
				return nil, req, errors.New(msgOneAction)
			}
			req.Action = a
			if a == Batch || a == Sync {
				set[o.name] = o.value
			}
			continue
		}
		if old, dup := set[o.name]; dup {
			return nil, req, fmt.Errorf("Error, --%s parameter redefined:%s, already defined as:%s", o.name, o.value, old)
		}
		set[o.name] = o.value
	}
	req.Netns = set["netns"]
	_, req.Debug = set["debug"]
	return set, req, nil
}

// firstValue is the value of the first name option in opts, or "".
func firstValue(opts []given, name string) string {
	for _, o := range opts {
		if o.name == name {
			return o.value
		}
	}
	return ""
}

var globalOptions = map[string]bool{"netns": true, "label": true, "debug": true}

// modeOptions are the options that only some actions take.
var modeOptions = map[string][]Action{
	"json":         {List, Monitor},
	"hold-timeout": {Monitor},
	"exec":         {Monitor},
	"rcvbuf":       {Monitor},
	"dry-run":      {Sync},
	"all":          {Sync},
}

// modeOptionOrder is the order in which misplaced mode options are reported.
var modeOptionOrder = []string{"json", "hold-timeout", "exec", "rcvbuf", "dry-run", "all"}

// checkModeOptions reads the listing's and the monitor's own options, and
// refuses them with other actions.
func checkModeOptions(set map[string]string, req *Request) error {
	for _, name := range modeOptionOrder {
		actions := modeOptions[name]
		if _, given := set[name]; !given || slices.Contains(actions, req.Action) {
			continue
		}
		if len(actions) == 1 {
			return fmt.Errorf("--%s goes with --%s only", name, actionName(actions[0]))
		}
		return fmt.Errorf("--%s goes with the listing and --monitor only", name)
	}
	_, req.JSON = set["json"]
	_, req.DryRun = set["dry-run"]
	_, req.All = set["all"]
	req.Exec = set["exec"]
	if req.Action == Monitor {
		req.HoldTimeout = DefaultHoldTimeout
	}
	if v, ok := set["hold-timeout"]; ok {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return fmt.Errorf("Invalid --hold-timeout parameter %q: want a whole number of seconds from 1", v)
		}
		req.HoldTimeout = time.Duration(n) * time.Second
	}
	if v, ok := set["rcvbuf"]; ok {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil || n == 0 {
			return fmt.Errorf("Invalid --rcvbuf parameter %q: want a number of bytes from 1", v)
		}
		req.Rcvbuf = int(n)
	}
	return nil
}

// onlyGlobal refuses eroute options where no eroute is given: the listing,
// --clear (which clears everything, so a --src there would mislead) and
// --monitor.
func onlyGlobal(set map[string]string, a Action) error {
	for _, o := range longOptions {
		_, isAction := actionOptions[o.name]
		if _, ok := set[o.name]; !ok || isAction || globalOptions[o.name] || modeOptions[o.name] != nil {
			continue
		}
		switch a {
		case Clear:
			return fmt.Errorf("--clear deletes every eroute and takes no --%s", o.name)
		case Monitor:
			return fmt.Errorf("--monitor watches the whole table and takes no --%s", o.name)
		case Batch, Sync:
			return fmt.Errorf("--%s takes its eroutes from the file, not --%s", actionName(a), o.name)
		}
		return errors.New(msgNeedAction)
	}
	return nil
}

func (p Parser) erouteOf(set map[string]string, a Action) (eroute.Eroute, error) {
	var e eroute.Eroute
	if err := p.checkSAIDForm(set, a); err != nil {
		return e, err
	}
	for _, end := range []string{"src", "dst"} {
		if _, ok := set[end]; !ok {
			return e, fmt.Errorf("Error -- %s option '--%s' is required.", actionWord(a), end)
		}
	}
	family, err := erouteFamily(set)
	if err != nil {
		return e, err
	}
	if e.Selector, err = p.selector(set, family); err != nil {
		return e, err
	}
	e.SAID, err = p.said(set, e.Selector.Family())
	if err != nil || a == Delete || a == DeleteInbound {
		return eroute.Eroute{Selector: e.Selector}, err
	}
	return e, checkSAIDFamily(e)
}

func actionWord(a Action) string {
	return map[Action]string{Add: "add", Replace: "replace", Delete: "del",
		AddInbound: "addin", ReplaceInbound: "replacein", DeleteInbound: "delin"}[a]
}

// checkSAIDForm wants one SAID form, whole, for add and replace.
func (p Parser) checkSAIDForm(set map[string]string, a Action) error {
	var parts, missing []string
	for _, o := range []string{"af", "edst", "spi", "proto"} {
		if _, ok := set[o]; ok {
			parts = append(parts, o)
		} else {
			missing = append(missing, "--"+o)
		}
	}
	said, hasSAID := set["said"]
	if hasSAID && len(parts) > 0 {
		return fmt.Errorf("Error, --said %s and --%s %s both given: use either --said or %s",
			said, parts[0], set[parts[0]], saidOptionsGroup)
	}
	if a == Delete || a == DeleteInbound || hasSAID || len(missing) == 0 {
		return nil
	}
	if len(parts) == 0 {
		return fmt.Errorf("%s Give --said or %s.", msgNeedSA, saidOptionsGroup)
	}
	return fmt.Errorf("%s Missing %s.", msgNeedSA, strings.Join(missing, ", "))
}

// fileOf is the file of --batch or --sync.
func fileOf(set map[string]string, a Action) string {
	return set[actionName(a)]
}

func actionName(a Action) string {
	for name, act := range actionOptions {
		if act == a {
			return name
		}
	}
	return ""
}
