package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// command is one action of the command line, with all that the parser,
// the checks, the batch reader, the dispatcher and the usage know of it. A
// new command is an Action, its option in longOptions (getopt.go), and one
// entry in commands; see "Where to change what" in docs/DESIGN.md.
type command struct {
	action Action
	// option chooses the command; List, which no option chooses, has
	// noOption.
	option optID
	// form is what the rest of its command line gives.
	form commandForm
	// refusal is the error for an eroute option (--src, --said...) given
	// to a command of formNone or formFile; %s is the option's name.
	refusal string
	// inBatch and inSync: a --batch line, a --sync line may be this
	// command, and op is the batch op it becomes.
	inBatch, inSync bool
	op              eroute.OpKind
	writes          writeKind
	// run carries the command out. t is the namespace's table, opened
	// (and locked, for writesLocked) before run; nil when opensTable is
	// false. note writes a warning line on stderr.
	run        func(req Request, env Env, t Table, note func(string)) error
	opensTable bool
	// detail is what --debug says of the request after the command's
	// name; nil: nothing more.
	detail func(Request) string
	// usage is the command's part of --help, without "eroute " in front:
	// its line, and indented lines that explain it ("" when another's
	// part covers it: --add's covers --addin, --replace and --replacein).
	// The parts go out in the table's order.
	usage string
}

// commandForm is what a command line gives besides its action.
type commandForm uint8

const (
	formNone     commandForm = iota // nothing but global and mode options
	formEroute                      // a selector and a SAID (--add and the like)
	formSelector                    // a selector (--del, --delin)
	formFile                        // a file, the action option's value (--batch, --sync)
)

// writeKind is whether a command changes the table, which decides who
// takes the namespace's write lock (see lockWriters).
type writeKind uint8

const (
	readsOnly         writeKind = iota
	writesLocked                // execute takes the lock before run
	writesLocksItself           // run takes it once it is ready to write: --batch, once its file is checked
)

// noOption is the option of List, which no option chooses.
const noOption = numOptions

// commands are eroute's commands, in the order of the usage. They are
// set in init: their run functions parse (--batch's lines) and so read
// the table themselves, a cycle Go refuses in a variable's initializer.
var commands []command

func init() {
	commands = []command{
		{action: Add, option: optAdd, form: formEroute, inBatch: true, inSync: true, op: eroute.OpAdd,
			writes: writesLocked, run: runAdd, opensTable: true, detail: erouteDetail,
			usage: "--{add,addin,replace,replacein} --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ --transport-proto <protocol> ] [ --src-port <source-port> ] [ --dst-port <dest-port> ] <SA>\n" +
				"            where <SA> is '--af <inet | inet6> --edst <edst> --spi <spi> --proto <proto>'\n" +
				"                       OR '--said <said>'\n" +
				"                       OR '--said <%passthrough | %passthrough4 | %passthrough6 | %drop | %reject | %trap | %hold | %pass>'.\n" +
				"            --replace and --replacein also take [ --force ]: replace a policy eroute did not make."},
		{action: Replace, option: optReplace, form: formEroute, inBatch: true, op: eroute.OpReplace,
			writes: writesLocked, run: runReplace, opensTable: true, detail: erouteDetail},
		{action: AddInbound, option: optAddin, form: formEroute, inSync: true, op: eroute.OpAdd,
			writes: writesLocked, run: runAdd, opensTable: true, detail: erouteDetail},
		{action: ReplaceInbound, option: optReplacein, form: formEroute,
			writes: writesLocked, run: runReplace, opensTable: true, detail: erouteDetail},
		{action: Delete, option: optDel, form: formSelector, inBatch: true, op: eroute.OpDelete,
			writes: writesLocked, run: runDelete, opensTable: true, detail: selectorDetail,
			usage: "--del --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ --transport-proto <protocol> ] [ --src-port <source-port> ] [ --dst-port <dest-port> ] [ --force ]"},
		{action: DeleteInbound, option: optDelin, form: formSelector,
			writes: writesLocked, run: runDelete, opensTable: true, detail: selectorDetail,
			usage: "--delin --eraf <inet | inet6> --src <src>/<srcmaskbits>|<srcmask> --dst <dst>/<dstmaskbits>|<dstmask> [ ... as --del ]\n" +
				"            instead of ports: [ --icmp-type <type> ] [ --icmp-code <code> ] (protocol 1 or 58), [ --gre-key <key> ] (47), [ --mh-type <type> ] (135)."},
		{action: Clear, option: optClear, refusal: "--clear deletes every eroute and takes no --%s", inBatch: true, op: eroute.OpClear,
			writes: writesLocked, run: runClear, opensTable: true,
			usage: "--clear [ --all ]"},
		{action: Monitor, option: optMonitor, refusal: "--monitor watches the whole table and takes no --%s",
			run: runMonitorCommand, detail: monitorDetail,
			usage: "--monitor [ --json ] [ --hold-timeout <seconds> ] [ --exec <command> [ --exec-max <n> (8) ] [ --exec-queue <n> (64) ] [ --exec-timeout <seconds> (60) ] ] [ --rcvbuf <bytes> ] [ --all ]"},
		{action: Batch, option: optBatch, form: formFile, refusal: "--batch takes its eroutes from the file, not --%s",
			writes: writesLocksItself, run: runBatchCommand, opensTable: true, detail: fileDetail,
			usage: "--batch <file|->"},
		{action: Sync, option: optSync, form: formFile, refusal: "--sync takes its eroutes from the file, not --%s",
			writes: writesLocked, run: runSyncCommand, opensTable: true, detail: fileDetail,
			usage: "--sync <file|-> [ --dry-run ] [ --all ] [ --json ] [ --detailed-exitcode ]"},
		{action: Save, option: optSave, refusal: "--save writes the whole table and takes no --%s",
			run: runSaveCommand, opensTable: true,
			usage: "--save [ --all ]"},
		{action: List, option: noOption, run: runList, opensTable: true,
			usage: "[ --json ]"},
		{action: Help, option: optHelp, run: runHelp, usage: "--help"},
		{action: Version, option: optVersion, run: runVersion, usage: "--version"},
	}
	for i := range commands {
		c := &commands[i]
		commandOfAction[c.action] = c
		if c.option != noOption {
			actionOf[c.option] = c.action
		}
		if c.inBatch {
			batchActions[c.action] = true
		}
		if c.inSync {
			syncActions[c.action] = true
		}
	}
	usage = usageOf(commands)
}

// commandOfAction finds a command by its action, for the parser of every
// batch line (an array, not a map).
var commandOfAction [numActions]*command

func commandOf(a Action) *command { return commandOfAction[a] }

// actionOf gives the action an option chooses; List (the zero Action,
// which no option chooses) for the options that are not actions.
var actionOf [numOptions]Action

// The actions a --batch line and a --sync line may have.
var (
	batchActions = map[Action]bool{}
	syncActions  = map[Action]bool{}
)

// name is the command's name: its option's, "list" for List.
func (c *command) name() string {
	if c.option == noOption {
		return "list"
	}
	return c.option.String()
}

// The runs of the commands, as the table calls them.

func runAdd(req Request, _ Env, t Table, note func(string)) error { return addOwn(t, req, note) }
func runReplace(req Request, _ Env, t Table, note func(string)) error {
	return replaceOwn(t, req, note)
}
func runDelete(req Request, _ Env, t Table, _ func(string)) error { return deleteOwn(t, req) }
func runClear(req Request, _ Env, t Table, _ func(string)) error  { return t.Clear(req.All) }
func runBatchCommand(req Request, env Env, t Table, _ func(string)) error {
	return runBatch(req, env, t)
}
func runSyncCommand(req Request, env Env, t Table, _ func(string)) error { return runSync(req, env, t) }
func runSaveCommand(req Request, env Env, t Table, _ func(string)) error { return runSave(req, env, t) }

// runMonitorCommand runs --monitor, which opens its own sockets.
func runMonitorCommand(req Request, env Env, _ Table, _ func(string)) error {
	return runMonitor(req, env, progName(req))
}

func runList(req Request, env Env, t Table, _ func(string)) error {
	if req.JSON {
		return listJSON(t, env.Stdout)
	}
	return list(t, env.Stdout)
}

func runHelp(_ Request, env Env, _ Table, _ func(string)) error {
	io.WriteString(env.Stdout, usage)
	return nil
}

func runVersion(_ Request, env Env, _ Table, _ func(string)) error {
	fmt.Fprintf(env.Stdout, "ipsec eroute %s\n%s\n", VersionString, versionNote)
	return nil
}

// The details --debug gives of a request.

func erouteDetail(req Request) string {
	return " " + req.Eroute.Selector.String() + " => " + req.Eroute.SAID.String()
}

func selectorDetail(req Request) string { return " " + req.Eroute.Selector.String() }

func fileDetail(req Request) string {
	if req.DryRun {
		return " " + req.File + " (dry run)"
	}
	return " " + req.File
}

func monitorDetail(req Request) string { return fmt.Sprintf(" (holds for %v)", req.HoldTimeout) }

// usage is what --help prints: each command's part, in the table's order,
// then the options any command takes.
var usage string

func usageOf(cmds []command) string {
	var b strings.Builder
	lead := "usage: eroute "
	for _, c := range cmds {
		if c.usage == "" {
			continue
		}
		b.WriteString(lead + c.usage + "\n")
		lead = "       eroute "
	}
	return b.String() + usageGlobal
}
