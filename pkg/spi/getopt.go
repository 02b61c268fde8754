package spi

import (
	"fmt"
	"sort"
	"strings"
)

// opt is one long option.
type opt struct {
	name   string
	hasArg bool
}

// given is an option as the command line gave it.
type given struct {
	name, value string
}

// getopt splits args as GNU getopt_long does with no short options:
// "--name value", "--name=value", unambiguous prefixes, "--" ending the
// options. Words that are not options are returned apart, in order.
func getopt(opts []opt, args []string) (out []given, words []string, err error) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return out, append(words, args[i+1:]...), nil
		}
		if !strings.HasPrefix(arg, "--") || arg == "--" {
			if strings.HasPrefix(arg, "-") && len(arg) > 1 {
				return out, words, fmt.Errorf("invalid option '%s': options are long, such as --help", arg)
			}
			words = append(words, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg[2:], "=")
		o, err := lookup(opts, name)
		if err != nil {
			return out, words, err
		}
		switch {
		case !o.hasArg && hasValue:
			return out, words, fmt.Errorf("option '--%s' doesn't allow an argument", o.name)
		case o.hasArg && !hasValue:
			if i+1 >= len(args) {
				return out, words, fmt.Errorf("option '--%s' requires an argument", o.name)
			}
			i++
			value = args[i]
		}
		out = append(out, given{o.name, value})
	}
	return out, words, nil
}

func lookup(opts []opt, name string) (opt, error) {
	var matches []opt
	for _, o := range opts {
		if o.name == name {
			return o, nil
		}
		if name != "" && strings.HasPrefix(o.name, name) {
			matches = append(matches, o)
		}
	}
	switch len(matches) {
	case 0:
		return opt{}, fmt.Errorf("unrecognized option '--%s'; see --help", name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = "'--" + m.name + "'"
	}
	sort.Strings(names)
	return opt{}, fmt.Errorf("option '--%s' is ambiguous; possibilities: %s", name, strings.Join(names, " "))
}
