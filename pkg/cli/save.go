package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
)

// runSave carries out --save: the table as a --sync file on standard
// output, like iptables-save. Lines come in the listing's order (outbound
// eroutes, then inbound ones), with no date or host in them, so that two
// saves of the same table are the same bytes and a saved file diffs well.
// What is left out is said in comments: the monitor's holds (they time
// out; a restored one never would), and policies eroute did not make,
// which --all writes as --add lines when an eroute can say them.
func runSave(req Request, env Env, t Table) error {
	snap, err := t.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	holds, err := t.Holds()
	if err != nil {
		return err
	}
	inbound, err := t.InboundEntries()
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(env.Stdout, 64*1024)
	s := saver{w: w, parser: env.Parser, all: req.All, holds: map[eroute.Selector]bool{}}
	for _, h := range holds {
		s.holds[h.Selector] = true
	}
	fmt.Fprintf(w, "# eroute --save%s: load with eroute --sync FILE%s\n", allFlag(req.All), allFlag(req.All))
	for i := range snap.Len() {
		s.write("--add", snap.Entry(i))
	}
	for _, e := range inbound {
		s.write("--addin", e)
	}
	s.summary()
	return w.Flush()
}

func allFlag(all bool) string {
	if all {
		return " --all"
	}
	return ""
}

// saver writes the lines of --save and counts what it left out.
type saver struct {
	w       *bufio.Writer
	parser  Parser
	all     bool
	holds   map[eroute.Selector]bool // the monitor's holds
	held    int                      // holds left out
	foreign int                      // foreign policies left out (no --all)
}

// write writes one policy as a line of option, or says in a comment why
// it cannot be one.
func (s *saver) write(option string, e Entry) {
	e.Count = 0
	switch {
	case e.Own && option == "--add" && e.SAID == eroute.Hold && s.holds[e.Selector]:
		s.held++
	case e.Own:
		fmt.Fprintf(s.w, "%s %s --said %s\n", option, selectorArgs(e.Selector), e.SAID)
	case !s.all || option == "--addin":
		s.foreign++
	default:
		line := fmt.Sprintf("%s %s --said %s", option, selectorArgs(e.Selector), e.SAID)
		if why := s.inexpressible(line, e); why != "" {
			fmt.Fprintf(s.w, "# not made by eroute, and %s: %s => %s\n", why, e.Selector, e.SAID)
			return
		}
		fmt.Fprintf(s.w, "# not made by eroute: --sync makes it an eroute (eroute's priority, no mark)\n%s\n", line)
	}
}

// inexpressible says why a foreign policy cannot be written as line, or
// "" when it can: the line must check as a command would and give back
// the same eroute, and a delete by selector must find the policy (no mark,
// no if_id).
func (s *saver) inexpressible(line string, e Entry) string {
	if !e.Deletable {
		return "it has a mark, an if_id or a security context no eroute line can give"
	}
	req, err := s.parser.Parse(strings.Fields(line))
	if err != nil {
		return fmt.Sprintf("no eroute line can give it (%v)", err)
	}
	if req.Eroute != e.Eroute {
		return "no eroute line gives back the same selector and SAID"
	}
	return ""
}

// summary says in comments what was left out, so that a reader of the
// file knows it is not the whole kernel table.
func (s *saver) summary() {
	if s.held > 0 {
		fmt.Fprintf(s.w, "# %d %%hold of eroute --monitor left out: holds time out, a restored one would not\n", s.held)
	}
	if s.foreign > 0 {
		noun := "policies"
		if s.foreign == 1 {
			noun = "policy"
		}
		fmt.Fprintf(s.w, "# %d %s not made by eroute left out (eroute --save --all writes the outbound ones)\n", s.foreign, noun)
	}
}
