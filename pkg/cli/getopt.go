package cli

import (
	"fmt"
	"sort"
	"strings"
)

// option is one long option of the command line.
type option struct {
	name   string
	hasArg bool
	ours   bool  // eroute's own, not KLIPS's
	id     optID // its place in longOptions
}

// optID names an option by its place in longOptions, so that the options
// of a command line are kept in an array, not a map: checking a 100,000-line
// batch looks options up some twenty times a line.
type optID uint8

// The options, in the order of longOptions.
const (
	optAdd optID = iota
	optAddin
	optReplace
	optReplacein
	optDel
	optClear
	optHelp
	optVersion
	optEraf
	optSrc
	optDst
	optTransportProto
	optSrcPort
	optDstPort
	optAf
	optEdst
	optSpi
	optProto
	optSaid
	optDebug
	optLabel
	optNetns
	optDelin
	optMonitor
	optJSON
	optHoldTimeout
	optExec
	optRcvbuf
	optBatch
	optSync
	optDryRun
	optAll
	optForce
	optICMPType
	optICMPCode
	optGREKey
	optMHType
	optExecMax
	optExecQueue
	optExecTimeout
	optSave
	optDetailedExitcode
	numOptions
)

// given is one option as it appeared on the command line.
type given struct {
	name  string
	value string
	id    optID
}

// longOptions are KLIPS's options plus eroute's own (netns, json, monitor...).
var longOptions = [numOptions]option{
	{"add", false, false, optAdd}, {"addin", false, false, optAddin}, {"replace", false, false, optReplace},
	{"replacein", false, false, optReplacein}, {"del", false, false, optDel}, {"clear", false, false, optClear},
	{"help", false, false, optHelp}, {"version", false, false, optVersion},
	{"eraf", true, false, optEraf}, {"src", true, false, optSrc}, {"dst", true, false, optDst},
	{"transport-proto", true, false, optTransportProto}, {"src-port", true, false, optSrcPort}, {"dst-port", true, false, optDstPort},
	{"af", true, false, optAf}, {"edst", true, false, optEdst}, {"spi", true, false, optSpi}, {"proto", true, false, optProto},
	{"said", true, false, optSaid}, {"debug", false, false, optDebug}, {"label", true, false, optLabel},
	{"netns", true, true, optNetns}, {"delin", false, true, optDelin}, {"monitor", false, true, optMonitor},
	{"json", false, true, optJSON}, {"hold-timeout", true, true, optHoldTimeout}, {"exec", true, true, optExec},
	{"rcvbuf", true, true, optRcvbuf}, {"batch", true, true, optBatch}, {"sync", true, true, optSync},
	{"dry-run", false, true, optDryRun}, {"all", false, true, optAll},
	{"force", false, true, optForce}, {"icmp-type", true, true, optICMPType}, {"icmp-code", true, true, optICMPCode},
	{"gre-key", true, true, optGREKey}, {"mh-type", true, true, optMHType},
	{"exec-max", true, true, optExecMax}, {"exec-queue", true, true, optExecQueue}, {"exec-timeout", true, true, optExecTimeout},
	{"save", false, true, optSave}, {"detailed-exitcode", false, true, optDetailedExitcode},
}

func (id optID) String() string { return longOptions[id].name }

// optionSet holds the options of one command line, each at most once.
type optionSet struct {
	has    uint64 // bit id: option id was given
	values [numOptions]string
}

func (s *optionSet) get(id optID) (string, bool) { return s.values[id], s.has&(1<<id) != 0 }
func (s *optionSet) value(id optID) string       { return s.values[id] }
func (s *optionSet) given(id optID) bool         { return s.has&(1<<id) != 0 }

func (s *optionSet) set(id optID, value string) {
	s.has |= 1 << id
	s.values[id] = value
}

// getopt splits args into options the way GNU getopt_long does for an empty
// short-option string: "--name value", "--name=value", unique prefixes of a
// name, and "--" to end the options. Unlike KLIPS it refuses stray words, so a
// typo cannot silently drop part of a command. With an error it also gives
// the options read before it (so that a --label there still labels the
// message).
func getopt(args []string) ([]given, error) {
	return appendOptions(make([]given, 0, len(args)/2+1), args)
}

// appendOptions is getopt appending to out, which a caller may keep on its
// stack.
func appendOptions(out []given, args []string) ([]given, error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			if i+1 < len(args) {
				return out, fmt.Errorf("unexpected argument '%s'", args[i+1])
			}
			break
		}
		if !strings.HasPrefix(arg, "--") {
			if strings.HasPrefix(arg, "-") && len(arg) > 1 {
				return out, fmt.Errorf("invalid option '%s': options are long, such as --add", arg)
			}
			return out, fmt.Errorf("unexpected argument '%s'", arg)
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		opt, err := lookupOption(name)
		if err != nil {
			return out, err
		}
		switch {
		case !opt.hasArg && hasValue:
			return out, fmt.Errorf("option '--%s' doesn't allow an argument", opt.name)
		case opt.hasArg && !hasValue:
			if i+1 >= len(args) {
				return out, fmt.Errorf("option '--%s' requires an argument", opt.name)
			}
			i++
			value = args[i]
		}
		out = append(out, given{opt.name, value, opt.id})
	}
	return out, nil
}

// lookupOption finds an option by its name or an unambiguous prefix of it.
// A prefix of several names is not ambiguous when one of them is a prefix of
// all the others: the options added in later KLIPS releases (addin,
// replacein, src-port, dst-port) extend older names, and do not take the
// older options' abbreviations (--rep for --replace, --ad, --sr, --ds) away.
func lookupOption(name string) (option, error) {
	if id, ok := optionNamed(name); ok {
		return longOptions[id], nil
	}
	var matches []option
	for _, o := range longOptions {
		if o.name == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	if len(matches) == 0 {
		return option{}, fmt.Errorf("unrecognized option '--%s'; see --help", name)
	}
	matches = preferKLIPS(matches)
	if len(matches) == 1 {
		return matches[0], nil
	}
	shortest := matches[0]
	for _, m := range matches {
		if len(m.name) < len(shortest.name) {
			shortest = m
		}
	}
	extended := true
	for _, m := range matches {
		extended = extended && strings.HasPrefix(m.name, shortest.name)
	}
	if extended {
		return shortest, nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "'--" + m.name + "'"
	}
	sort.Strings(names)
	return option{}, fmt.Errorf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " "))
}

// preferKLIPS drops eroute's own options from an ambiguous match when a
// KLIPS option is among them: the options eroute adds must not take away an
// abbreviation that worked in KLIPS (--h is still --help).
func preferKLIPS(matches []option) []option {
	var klips []option
	for _, m := range matches {
		if !m.ours {
			klips = append(klips, m)
		}
	}
	if len(klips) == 0 {
		return matches
	}
	return klips
}

// optionNamed finds a whole option name without a hash: among the few
// options of the same length (at most six).
func optionNamed(name string) (optID, bool) {
	if len(name) < len(optionsByLength) {
		for _, id := range optionsByLength[len(name)] {
			if longOptions[id].name == name {
				return id, true
			}
		}
	}
	return 0, false
}

// optionsByLength lists the options by the length of their names.
var optionsByLength = func() (by [][]optID) {
	for _, o := range longOptions {
		for len(by) <= len(o.name) {
			by = append(by, nil)
		}
		by[len(o.name)] = append(by[len(o.name)], o.id)
	}
	return by
}()
