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
}

// given is one option as it appeared on the command line.
type given struct {
	name  string
	value string
}

// longOptions are KLIPS's options plus eroute's own (netns, json, monitor...).
var longOptions = []option{
	{"add", false}, {"addin", false}, {"replace", false}, {"replacein", false},
	{"del", false}, {"clear", false}, {"help", false}, {"version", false},
	{"eraf", true}, {"src", true}, {"dst", true},
	{"transport-proto", true}, {"src-port", true}, {"dst-port", true},
	{"af", true}, {"edst", true}, {"spi", true}, {"proto", true}, {"said", true},
	{"debug", false}, {"label", true}, {"netns", true},
}

// getopt splits args into options the way GNU getopt_long does for an empty
// short-option string: "--name value", "--name=value", unique prefixes of a
// name, and "--" to end the options. Unlike KLIPS it refuses stray words, so a
// typo cannot silently drop part of a command.
func getopt(args []string) ([]given, error) {
	var out []given
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			if i+1 < len(args) {
				return nil, fmt.Errorf("unexpected argument '%s'", args[i+1])
			}
			break
		}
		if !strings.HasPrefix(arg, "--") {
			if strings.HasPrefix(arg, "-") && len(arg) > 1 {
				return nil, fmt.Errorf("invalid option '%s': options are long, such as --add", arg)
			}
			return nil, fmt.Errorf("unexpected argument '%s'", arg)
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		opt, err := lookupOption(name)
		if err != nil {
			return nil, err
		}
		switch {
		case !opt.hasArg && hasValue:
			return nil, fmt.Errorf("option '--%s' doesn't allow an argument", opt.name)
		case opt.hasArg && !hasValue:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("option '--%s' requires an argument", opt.name)
			}
			i++
			value = args[i]
		}
		out = append(out, given{opt.name, value})
	}
	return out, nil
}

// lookupOption finds an option by its name or an unambiguous prefix of it.
func lookupOption(name string) (option, error) {
	var matches []option
	for _, o := range longOptions {
		if o.name == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 0:
		return option{}, fmt.Errorf("unrecognized option '--%s'; see --help", name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "'--" + m.name + "'"
	}
	sort.Strings(names)
	return option{}, fmt.Errorf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " "))
}
