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
	ours   bool // eroute's own, not KLIPS's
}

// given is one option as it appeared on the command line.
type given struct {
	name  string
	value string
}

// longOptions are KLIPS's options plus eroute's own (netns, json, monitor...).
var longOptions = []option{
	{"add", false, false}, {"addin", false, false}, {"replace", false, false}, {"replacein", false, false},
	{"del", false, false}, {"clear", false, false}, {"help", false, false}, {"version", false, false},
	{"eraf", true, false}, {"src", true, false}, {"dst", true, false},
	{"transport-proto", true, false}, {"src-port", true, false}, {"dst-port", true, false},
	{"af", true, false}, {"edst", true, false}, {"spi", true, false}, {"proto", true, false}, {"said", true, false},
	{"debug", false, false}, {"label", true, false},
	{"netns", true, true}, {"delin", false, true}, {"monitor", false, true}, {"json", false, true},
	{"hold-timeout", true, true}, {"exec", true, true}, {"rcvbuf", true, true},
	{"batch", true, true}, {"sync", true, true}, {"dry-run", false, true}, {"all", false, true},
}

// getopt splits args into options the way GNU getopt_long does for an empty
// short-option string: "--name value", "--name=value", unique prefixes of a
// name, and "--" to end the options. Unlike KLIPS it refuses stray words, so a
// typo cannot silently drop part of a command. With an error it also gives
// the options read before it (so that a --label there still labels the
// message).
func getopt(args []string) ([]given, error) {
	out := make([]given, 0, len(args)/2+1)
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
		out = append(out, given{opt.name, value})
	}
	return out, nil
}

// lookupOption finds an option by its name or an unambiguous prefix of it.
// A prefix of several names is not ambiguous when one of them is a prefix of
// all the others: the options added in later KLIPS releases (addin,
// replacein, src-port, dst-port) extend older names, and do not take the
// older options' abbreviations (--rep for --replace, --ad, --sr, --ds) away.
func lookupOption(name string) (option, error) {
	if o, ok := optionByName[name]; ok {
		return o, nil
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

// optionByName finds whole option names without a scan.
var optionByName = func() map[string]option {
	m := make(map[string]option, len(longOptions))
	for _, o := range longOptions {
		m[o.name] = o
	}
	return m
}()
