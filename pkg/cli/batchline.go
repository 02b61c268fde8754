package cli

import (
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// Most lines of a batch or --sync file are --add and then the eroute's
// options, each once by its whole name: --add --src A --dst B --said S.
// Parse reads such a line through getopt (prefixes, --name=value, "--"),
// collect and the checks of options other actions take, about a third of
// its time (BenchmarkParseChunkMix). For these lines all of that comes to
// one thing: an optionSet of the eroute's options, which erouteOf then
// checks. quickAdd builds that set itself and lets erouteOf check it: the
// same checks, the same eroute, the same messages (FuzzQuickAdd compares
// it with Parse). Any other line goes through Parse.

// quickOptions are the options quickAdd takes: those of an eroute, which
// erouteOf alone reads. A list, not a rule, so that a new option is left
// to Parse until it is added here (TestQuickOptions checks that none is
// a command, a global option or one only some commands take).
var quickOptions = optionBits(optEraf, optSrc, optDst, optTransportProto, optSrcPort, optDstPort,
	optICMPType, optICMPCode, optGREKey, optMHType, optAf, optEdst, optSpi, optProto, optSaid)

func optionBits(ids ...optID) (set uint64) {
	for _, id := range ids {
		set |= 1 << id
	}
	return set
}

// quickAdd checks words as Parse and checkBatchRequest would when they are
// --add and then options of quickOptions by their whole names, each once
// with its value; ok is false for any other line, which Parse must check.
func (p Parser) quickAdd(words []string) (e eroute.Eroute, ok bool, err error) {
	if len(words) < 3 || len(words)%2 == 0 || words[0] != "--add" {
		return e, false, nil
	}
	var set optionSet
	for i := 1; i < len(words); i += 2 {
		name := words[i]
		if len(name) < 3 || name[0] != '-' || name[1] != '-' {
			return e, false, nil
		}
		id, found := optionNamed(name[2:])
		if !found || quickOptions&(1<<id) == 0 || set.given(id) {
			return e, false, nil
		}
		set.set(id, words[i+1])
	}
	e, _, err = p.erouteOf(&set, commandOf(Add))
	return e, true, err
}

// quickEroute goes further for the lines a generated file holds: --add,
// then --eraf, --src, --dst, --said, --transport-proto, --src-port and
// --dst-port, each once by its whole name, with its value, between single
// spaces or runs of them, the addresses and SAIDs in the forms
// eroute.QuickSubnet and eroute.QuickSAID read. It reads the line's text
// once, with no optionSet and no words, and fills in *e (which must be
// zero: in place, for an eroute is 112 bytes, and copying it out and
// into an op was a tenth of the time) with the eroute quickAdd would
// give. It is false for any other line, and for one quickAdd would
// refuse, which quickAdd or Parse then checks and reports in its own
// words (FuzzQuickEroute compares the three). A tab or any other space
// than ' ' stays inside a word, which then reads as nothing quick.
func (p Parser) quickEroute(line string, e *eroute.Eroute) bool {
	rest := skipSpaces(line)
	if !strings.HasPrefix(rest, "--add ") {
		return false
	}
	var values [len(quickNames)]string
	for rest = skipSpaces(rest[len("--add "):]); rest != ""; rest = skipSpaces(rest) {
		k, after := quickOption(rest)
		if k < 0 || values[k] != "" {
			return false
		}
		if values[k], rest = nextWord(after); values[k] == "" {
			return false
		}
	}
	family := eroute.Unspec
	if values[quickEraf] != "" {
		var ok bool
		if family, ok = quickFamily(values[quickEraf]); !ok {
			return false
		}
	}
	// An option not given is "", which no quick reader takes.
	if !p.quickSelector(family, &values, &e.Selector) {
		return false
	}
	ok := true
	if said := values[quickSaid]; said == "%passthrough" {
		e.SAID = eroute.PassthroughFor(e.Family())
	} else {
		e.SAID, ok = eroute.QuickSAID(said)
	}
	if !ok || checkSAIDFamily(e) != nil {
		return false
	}
	return true
}

// quickNames are the options quickEroute reads, each with the space after
// it, by the index of their values.
var quickNames = [...]string{quickEraf: "--eraf ", quickSrc: "--src ", quickDst: "--dst ", quickSaid: "--said ",
	quickProto: "--transport-proto ", quickSrcPort: "--src-port ", quickDstPort: "--dst-port "}

const (
	quickEraf = iota
	quickSrc
	quickDst
	quickSaid
	quickProto
	quickSrcPort
	quickDstPort
)

// quickOption reads one of quickNames at the start of s: its index (-1
// for none) and the text after it. Two bytes tell which it can be, and
// one comparison whether it is.
func quickOption(s string) (int, string) {
	if len(s) < len("--src ") {
		return -1, s
	}
	k := -1
	switch s[2] {
	case 'e':
		k = quickEraf
	case 's':
		k = quickSrc
		if s[3] == 'a' {
			k = quickSaid
		} else if s[5] == '-' {
			k = quickSrcPort
		}
	case 'd':
		k = quickDst
		if s[5] == '-' {
			k = quickDstPort
		}
	case 't':
		k = quickProto
	}
	if k < 0 || !strings.HasPrefix(s, quickNames[k]) {
		return -1, s
	}
	return k, s[len(quickNames[k]):]
}

// quickSelector is selector of quickEroute's values ("" for an option not
// given), the addresses numeric and of one family, family's when given.
func (p Parser) quickSelector(family eroute.Family, values *[len(quickNames)]string, s *eroute.Selector) bool {
	proto, srcPort, dstPort := values[quickProto], values[quickSrcPort], values[quickDstPort]
	var ok bool
	if s.Src, ok = eroute.QuickSubnet(values[quickSrc]); !ok {
		return false
	}
	if s.Dst, ok = eroute.QuickSubnet(values[quickDst]); !ok {
		return false
	}
	if family == eroute.Unspec {
		family = eroute.FamilyOf(s.Src.Addr())
	}
	if eroute.FamilyOf(s.Src.Addr()) != family || eroute.FamilyOf(s.Dst.Addr()) != family {
		return false
	}
	s.Src, s.Dst = s.Src.Masked(), s.Dst.Masked()
	var err error
	if proto != "" {
		if s.Proto, err = p.Names.ParseTransportProto(proto); err != nil {
			return false
		}
	}
	if srcPort == "" && dstPort == "" {
		return true
	}
	if eroute.FieldsOf(s.Proto) != eroute.PortFields {
		return false
	}
	if srcPort != "" {
		if s.SrcPort, err = p.Names.ParsePort(srcPort); err != nil {
			return false
		}
	}
	if dstPort != "" {
		if s.DstPort, err = p.Names.ParsePort(dstPort); err != nil {
			return false
		}
	}
	return true
}

// quickFamily reads --eraf as eroute.ParseFamily does, without an error.
func quickFamily(v string) (eroute.Family, bool) {
	switch v {
	case "inet":
		return eroute.Inet, true
	case "inet6":
		return eroute.Inet6, true
	}
	return eroute.Unspec, false
}

// skipSpaces cuts the spaces (' ' only) off the start of s.
func skipSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// nextWord cuts the first word off s, words being separated by spaces
// (' ' only): "" when s holds no more.
func nextWord(s string) (word, rest string) {
	s = skipSpaces(s)
	// A loop, not strings.IndexByte: words are short, and the call cost
	// more than the search.
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}
