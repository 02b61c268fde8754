package cli

import "github.com/eroute/eroute/pkg/eroute"

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
