package spi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// SpiProg is the name `ipsec spi` messages start with, as KLIPS's did.
const SpiProg = "spi"

// Action is what one spi command does.
type Action int

// The actions of ipsec spi; List is the form without one.
const (
	List Action = iota
	AddAH
	AddESP
	AddComp
	AddIP4
	AddIP6
	Delete
	Clear
	Get
	Save
	Help
	Version
)

var actionOptions = map[string]Action{
	"ah": AddAH, "esp": AddESP, "comp": AddComp, "ip4": AddIP4, "ip6": AddIP6,
	"del": Delete, "clear": Clear, "get": Get, "save": Save,
}

var spiOptions = []opt{
	{"ah", true}, {"esp", true}, {"comp", true}, {"ip4", false}, {"ip6", false},
	{"del", false}, {"clear", false}, {"get", false}, {"save", true},
	{"af", true}, {"edst", true}, {"spi", true}, {"proto", true}, {"said", true},
	{"src", true}, {"dst", true}, {"enckey", true}, {"authkey", true}, {"iv", true},
	{"replay_window", true}, {"life", true}, {"natt", true}, {"sport", true}, {"dport", true},
	{"outif", true}, {"saref", true}, {"sarefme", true}, {"saref_me", true},
	{"sarefhim", true}, {"saref_him", true}, {"dumpsaref", false}, {"listenreply", false},
	{"label", true}, {"debug", false}, {"help", false}, {"version", false},
	{"netns", true}, {"json", false},
}

// noXFRM are KLIPS options with no XFRM equivalent, and why.
var noXFRM = map[string]string{
	"outif":       "KLIPS mast interfaces have no XFRM equivalent",
	"saref":       "XFRM has no SAref table",
	"sarefme":     "XFRM has no SAref table",
	"saref_me":    "XFRM has no SAref table",
	"sarefhim":    "XFRM has no SAref table",
	"saref_him":   "XFRM has no SAref table",
	"dumpsaref":   "XFRM has no SAref table",
	"listenreply": "XFRM answers every request; there is no PF_KEY reply to wait for",
}

// klipsNames are the names KLIPS gave options in redefinition messages.
var klipsNames = map[string]string{
	"af": "ADDRESS FAMILY", "edst": "EDST", "spi": "SPI", "proto": "PROTO", "said": "SAID",
	"src": "SRC", "dst": "DST",
}

// Request is a checked spi command line. SA holds what an add sends,
// keys included; nothing prints it whole.
type Request struct {
	Action Action
	SA     SA
	Netns  string
	Label  string
	Debug  bool
	JSON   bool
	Note   string // a warning worth printing (an ignored --life allocations)
	File   string // --save's file
}

// ParseSpi checks an spi command line; nothing is sent anywhere.
func ParseSpi(args []string, r eroute.Resolver) (Request, error) {
	opts, words, err := getopt(spiOptions, args)
	req := Request{Action: List}
	for _, o := range opts {
		if o.name == "label" && req.Label == "" {
			req.Label = o.value
		}
	}
	if err != nil {
		return req, err
	}
	for _, o := range opts {
		switch o.name {
		case "help":
			return Request{Action: Help}, nil
		case "version":
			return Request{Action: Version}, nil
		}
	}
	if len(words) > 0 {
		return req, fmt.Errorf("unexpected argument '%s'", words[0])
	}
	set := map[string]string{}
	for _, o := range opts {
		if a, ok := actionOptions[o.name]; ok {
			if req.Action != List {
				return req, errors.New("Only one of '--ah', '--esp', '--comp', '--ip4', '--ip6', '--del' or '--clear' options permitted.")
			}
			req.Action = a
		}
		if why, ok := noXFRM[o.name]; ok {
			return req, fmt.Errorf("--%s is not supported: %s", o.name, why)
		}
		if old, dup := set[o.name]; dup && o.name != "debug" && o.name != "json" {
			name := klipsNames[o.name]
			if name == "" {
				name = "--" + o.name
			}
			return req, fmt.Errorf("Error, %s parameter redefined:%s, already defined as:%s", name, o.value, old)
		}
		set[o.name] = o.value
	}
	req.Netns, req.Debug = set["netns"], has(set, "debug")
	req.JSON = has(set, "json")
	if req.JSON && req.Action != List {
		return req, errors.New("--json goes with the listing only")
	}
	return req, parseAction(&req, set, r)
}

func has(set map[string]string, name string) bool {
	_, ok := set[name]
	return ok
}

// saOptions are the options that name or describe one SA.
var saOptions = []string{"af", "edst", "spi", "proto", "said", "src", "dst", "enckey", "authkey", "iv",
	"replay_window", "life", "natt", "sport", "dport"}

func parseAction(req *Request, set map[string]string, r eroute.Resolver) error {
	switch req.Action {
	case List, Clear, Save:
		req.File = set["save"]
		for _, name := range saOptions {
			if has(set, name) {
				switch req.Action {
				case Clear:
					return fmt.Errorf("--clear deletes every SA and takes no --%s", name)
				case Save:
					return fmt.Errorf("--save writes every SA and takes no --%s", name)
				}
				return fmt.Errorf("No action chosen.  See '%s --help' for usage.", SpiProg)
			}
		}
		return nil
	}
	id, err := saidOf(set, r)
	if err != nil {
		return err
	}
	req.SA.SAID = id
	if v, ok := set["src"]; ok {
		if req.SA.Src, err = eroute.ParseAddr(v, eroute.FamilyOf(id.Dst), r); err != nil {
			return fmt.Errorf("Error, %v converting --src argument:%s", err, v)
		}
	}
	if v, ok := set["dst"]; ok { // checked, then ignored, as in KLIPS
		if _, err = eroute.ParseAddr(v, eroute.Unspec, r); err != nil {
			return fmt.Errorf("Error, %v converting --dst argument:%s", err, v)
		}
	}
	if v, ok := set["iv"]; ok { // checked, then ignored: XFRM makes IVs
		if _, err := DecodeKey(v); err != nil {
			return fmt.Errorf("malformed IV: %v", err)
		}
	}
	switch req.Action {
	case Delete, Get:
		return onlyFor(set, req.Action, "af", "edst", "spi", "proto", "said", "src")
	case AddIP4, AddIP6:
		return checkTun(req, set)
	}
	return parseAdd(req, set)
}

// onlyFor refuses options an action does not take.
func onlyFor(set map[string]string, a Action, allowed ...string) error {
	for _, name := range saOptions {
		if has(set, name) && !contains(allowed, name) {
			return fmt.Errorf("--%s does not go with --%s", name, actionName(a))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func actionName(a Action) string {
	for name, act := range actionOptions {
		if act == a {
			return name
		}
	}
	return ""
}

// saidOf reads --said, or --af --edst --spi --proto, in any order (KLIPS
// wanted --af first, since it reset the others; here nothing resets).
func saidOf(set map[string]string, r eroute.Resolver) (eroute.SAID, error) {
	af := eroute.Unspec
	if v, ok := set["af"]; ok {
		var err error
		if af, err = eroute.ParseFamily(v); err != nil {
			return eroute.SAID{}, fmt.Errorf("Invalid ADDRESS FAMILY parameter: %s.", v)
		}
	}
	if text, ok := set["said"]; ok {
		for _, part := range []string{"edst", "spi", "proto"} {
			if v, ok := set[part]; ok {
				return eroute.SAID{}, fmt.Errorf("Error, %s parameter redefined:%s, already defined in SA:%s", klipsNames[part], v, text)
			}
		}
		id, err := eroute.ParseSAID(text, r)
		switch {
		case err != nil:
			return id, fmt.Errorf("Error, %v converting --said argument:%s", err, text)
		case id.IsMagic() || id.Proto == eroute.ProtoInt:
			return id, fmt.Errorf("Error, %s names no SA converting --said argument:%s", text, text)
		case af != eroute.Unspec && eroute.FamilyOf(id.Dst) != af:
			return id, fmt.Errorf("Error, specified address family (%s) is different that of SAID: %s", af, text)
		}
		return id, nil
	}
	var id eroute.SAID
	v, ok := set["edst"]
	if !ok {
		return id, errors.New("SA destination not specified.")
	}
	dst, err := eroute.ParseAddr(v, eroute.Unspec, r)
	if err != nil {
		return id, fmt.Errorf("Error, %v converting --edst argument:%s", err, v)
	}
	id.Dst = dst
	if v, ok = set["spi"]; !ok {
		return id, errors.New("SA SPI not specified.")
	}
	if id.SPI, err = eroute.ParseSPI(v); err != nil {
		if errors.Is(err, eroute.ErrReservedSPI) {
			return id, fmt.Errorf("Invalid SPI parameter \"%s\": 0 - 0xFF are reserved", v)
		}
		return id, fmt.Errorf("Invalid SPI parameter \"%s\": %v", v, err)
	}
	if v, ok = set["proto"]; !ok {
		return id, errors.New("SA PROTO not specified.")
	}
	if id.Proto, err = eroute.ParseProto(v); err != nil {
		return id, fmt.Errorf("Invalid PROTO parameter: %s", v)
	}
	if af != eroute.Unspec && eroute.FamilyOf(dst) != af {
		return id, errors.New("Defined address family and address family of SA mismatch.")
	}
	return id, nil
}

// wantProto checks that the SA is of the protocol the action adds.
func wantProto(id eroute.SAID, a Action, p eroute.Proto) error {
	if id.Proto != p {
		return fmt.Errorf("--%s adds a %s SA, but the SA given is %s", actionName(a), p, id.AFString())
	}
	return nil
}

// checkTun checks --ip4 and --ip6. A tun SA has no XFRM object of its
// own: it becomes the tunnel mode of the group spigrp makes of it, so the
// add only checks (see Run).
func checkTun(req *Request, set map[string]string) error {
	id := req.SA.SAID
	if err := wantProto(id, req.Action, eroute.ProtoTun); err != nil {
		return err
	}
	want := eroute.Inet
	if req.Action == AddIP6 {
		want = eroute.Inet6
	}
	if f := eroute.FamilyOf(id.Dst); f != want {
		return fmt.Errorf("--%s makes an %s tunnel, but %s is %s", actionName(req.Action), want, id.AFString(), f)
	}
	return onlyFor(set, req.Action, "af", "edst", "spi", "proto", "said", "src", "dst")
}

// parseAdd reads --ah, --esp and --comp with their keys and options. The
// keys are decoded first, whatever the SA: a malformed key is the error
// reported before the SA's other faults.
func parseAdd(req *Request, set map[string]string) error {
	var keys saKeys
	var err error
	if keys.enc, keys.hasEnc, err = key(set, "enckey", "Encryption Key"); err != nil {
		return err
	}
	if keys.auth, keys.hasAuth, err = key(set, "authkey", "Authentication Key"); err != nil {
		return err
	}
	switch req.Action {
	case AddESP:
		err = parseESPAdd(req, set, keys)
	case AddAH:
		err = parseAHAdd(req, set, keys)
	case AddComp:
		err = parseCompAdd(req, set)
	}
	if err != nil {
		return err
	}
	return parseSAOptions(req, set)
}

// saKeys are the decoded --enckey and --authkey, and whether each was given.
type saKeys struct {
	enc, auth       []byte
	hasEnc, hasAuth bool
}

// addOptions are the options every --ah, --esp and --comp add takes; each
// adds its own.
var addOptions = []string{"af", "edst", "spi", "proto", "said", "src", "dst", "iv", "replay_window", "life"}

// parseESPAdd reads --esp: the algorithms, their keys, and NAT-T's UDP
// encapsulation.
func parseESPAdd(req *Request, set map[string]string, keys saKeys) error {
	sa := &req.SA
	if err := wantProto(sa.SAID, req.Action, eroute.ProtoESP); err != nil {
		return err
	}
	alg, err := ParseESP(set["esp"])
	if err != nil {
		return err
	}
	if sa.Enc, sa.Auth, err = alg.Transforms(keys.enc, keys.auth, keys.hasEnc, keys.hasAuth); err != nil {
		return err
	}
	if err := onlyFor(set, req.Action, append(addOptions[:len(addOptions):len(addOptions)], "enckey", "authkey", "natt", "sport", "dport")...); err != nil {
		return err
	}
	sa.Encap, err = natt(set)
	return err
}

// parseAHAdd reads --ah: the algorithm and its key.
func parseAHAdd(req *Request, set map[string]string, keys saKeys) error {
	sa := &req.SA
	if err := wantProto(sa.SAID, req.Action, eroute.ProtoAH); err != nil {
		return err
	}
	alg, err := ParseAH(set["ah"])
	if err != nil {
		return err
	}
	if sa.Auth, err = alg.Transform(keys.auth, keys.hasAuth); err != nil {
		return err
	}
	return onlyFor(set, req.Action, append(addOptions[:len(addOptions):len(addOptions)], "authkey")...)
}

// parseCompAdd reads --comp: the algorithm, for a CPI of 16 bits. An
// IPCOMP SA has no replay window.
func parseCompAdd(req *Request, set map[string]string) error {
	sa := &req.SA
	if err := wantProto(sa.SAID, req.Action, eroute.ProtoComp); err != nil {
		return err
	}
	if sa.SAID.SPI > MaxCPI {
		return fmt.Errorf("Invalid CPI 0x%x of %s: an IPCOMP CPI has 16 bits, so it must be below 0x10000", sa.SAID.SPI, sa.SAID.AFString())
	}
	var err error
	if sa.Comp, err = ParseComp(set["comp"]); err != nil {
		return err
	}
	return onlyFor(set, req.Action, "af", "edst", "spi", "proto", "said", "src", "dst", "iv", "life")
}

// parseSAOptions reads what any SA may have: --replay_window and --life.
func parseSAOptions(req *Request, set map[string]string) error {
	sa := &req.SA
	if v, ok := set["replay_window"]; ok {
		n, err := eroute.ParseNumber(v, 1<<32-1)
		if err != nil {
			return fmt.Errorf("Invalid replay_window parameter: %v", err)
		}
		if n < 1 || n > 64 {
			return fmt.Errorf("Failed -- Illegal window size: arg=%s, replay_window=%d, must be 1 <= size <= 64.", v, n)
		}
		sa.ReplayWindow = uint32(n)
	}
	if v, ok := set["life"]; ok {
		var err error
		if sa.Soft, sa.Hard, req.Note, err = ParseLife(v); err != nil {
			return err
		}
	}
	return nil
}

// key decodes a key option: KLIPS's "malformed <what>: <why>".
func key(set map[string]string, name, what string) ([]byte, bool, error) {
	v, ok := set[name]
	if !ok {
		return nil, false, nil
	}
	b, err := DecodeKey(v)
	if err != nil {
		return nil, true, fmt.Errorf("malformed %s: %v", what, err)
	}
	return b, true, nil
}

// natt reads --natt with --sport and --dport. Unlike KLIPS, which stored
// --sport as the destination port and --dport as the source port, each
// sets the port it names (the SA's UDP source and destination ports).
func natt(set map[string]string) (*Encap, error) {
	v, ok := set["natt"]
	if !ok {
		for _, p := range []string{"sport", "dport"} {
			if has(set, p) {
				return nil, fmt.Errorf("--%s goes with --natt", p)
			}
		}
		return nil, nil
	}
	e := &Encap{SrcPort: 4500, DstPort: 4500}
	switch v {
	case "none":
		return nil, nil
	case "nonesp":
		e.Type = sadb.EncapNonESP
	case "nonike":
		e.Type = sadb.EncapNonIKE
	default:
		n, err := eroute.ParseNumber(v, 2)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("Invalid character in natt parameter \"%s\": want nonesp, nonike or none", v)
		}
		e.Type = uint16(n)
	}
	for _, p := range []struct {
		name, what string
		port       *uint16
	}{{"sport", "source", &e.SrcPort}, {"dport", "destination", &e.DstPort}} {
		if v, ok := set[p.name]; ok {
			n, err := eroute.ParseNumber(v, 0xffff)
			if err != nil {
				return nil, fmt.Errorf("Invalid %s port parameter \"%s\": %v", p.what, v, err)
			}
			*p.port = uint16(n)
		}
	}
	return e, nil
}

// RunSpi carries out one `ipsec spi` command line and gives the exit
// status: 0 success, 1 any error (one line on Stderr).
func RunSpi(args []string, env Env) int {
	req, err := ParseSpi(args, env.Resolver)
	prog := progName(SpiProg, req.Label)
	if err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	switch req.Action {
	case Help:
		io.WriteString(env.Stdout, spiUsage)
		return 0
	case Version:
		fmt.Fprintf(env.Stdout, "%s, %s (eroute: KLIPS ipsec spi on Linux XFRM)\n", SpiProg, VersionString)
		return 0
	}
	if req.Note != "" {
		report(env.Stderr, prog, errors.New(req.Note))
	}
	if req.Debug {
		fmt.Fprintf(env.Stdout, "%s: debug: %s\n", prog, describe(&req))
	}
	if err := executeSpi(req, env, prog); err != nil {
		report(env.Stderr, prog, err)
		return 1
	}
	return 0
}

func executeSpi(req Request, env Env, prog string) error {
	k, err := env.Open(req.Netns)
	if err != nil {
		return err
	}
	defer k.Close()
	if req.Action != List && req.Action != Get && req.Action != Save {
		release, err := env.lock(req.Netns)
		if err != nil {
			return err
		}
		defer release()
	}
	id := req.SA.SAID
	switch req.Action {
	case List:
		return withSAs(k, func(sas []SA) error { return listSAs(k, env, sas, req.JSON) })
	case Clear:
		return k.FlushSAs()
	case Save:
		saved, refused, err := saveSAs(k, req.File, env.Self)
		if err == nil && req.Debug {
			fmt.Fprintf(env.Stdout, "%s: debug: %d SAs written to %s, %d not (see the comments at its end)\n", prog, saved, req.File, refused)
		}
		return err
	case AddAH, AddESP, AddComp:
		if err := k.AddSA(req.SA); err != nil {
			return fmt.Errorf("%s: %w", id.AFString(), err)
		}
		return nil
	case AddIP4, AddIP6:
		return addTun(k, id, req.Debug, env.Stdout, prog)
	case Delete:
		return deleteGroup(k, id)
	case Get:
		return getSA(k, id, env.Stdout, prog)
	}
	return nil
}

func listSAs(k Kernel, env Env, sas []SA, asJSON bool) error {
	if !asJSON {
		inbound, err := k.InboundPolicies()
		if err != nil {
			return err
		}
		return writeLines(env.Stdout, Listing(sas, inbound, env.Now()))
	}
	heads := map[eroute.SAID]eroute.SAID{}
	for _, g := range sadb.Groups(sas) {
		for _, m := range g.Members {
			heads[m.SAID] = g.Head
		}
	}
	w := bufio.NewWriter(env.Stdout)
	for i := range sas {
		b, err := JSON(&sas[i], heads[sas[i].SAID])
		if err != nil {
			return err
		}
		w.Write(append(b, '\n'))
	}
	return w.Flush()
}

// addTun takes a tun SA: XFRM has no IP-in-IP SA, so nothing is sent; the
// SA exists once spigrp groups it (its addresses come from the member that
// carries the tunnel). A group with this handle is refused as KLIPS
// refused a second tun SA with the same SAID.
func addTun(k Kernel, id eroute.SAID, debug bool, out io.Writer, prog string) error {
	return withSAs(k, func(sas []SA) error {
		for _, g := range sadb.Groups(sas) {
			if g.Tunnel() && g.Head == id {
				return fmt.Errorf("%s: %w", id.AFString(), ErrSAExists)
			}
		}
		if debug {
			fmt.Fprintf(out, "%s: debug: %s has no XFRM state of its own: spigrp makes it the tunnel mode of its group\n", prog, id.AFString())
		}
		return nil
	})
}

// deleteGroup deletes the SA and its whole group, as KLIPS did.
func deleteGroup(k Kernel, id eroute.SAID) error {
	return withSAs(k, func(sas []SA) error {
		victims, err := PlanDelete(sas, id)
		if err != nil {
			return err
		}
		var first error
		for _, v := range victims {
			if err := k.DeleteSA(v.SAID); err != nil && !errors.Is(err, ErrSANotFound) && first == nil {
				first = fmt.Errorf("%s: %w", v.SAID.AFString(), err)
			}
		}
		return first
	})
}

// getSA prints the SA's current lifetime counters as KLIPS's --get did.
// XFRM keeps no allocation count (KLIPS's started at 1, so 1 is shown) and
// gives add and use times in seconds since 1970, where KLIPS gave
// seconds since boot. A tun SAID reads the member that carries the tunnel.
func getSA(k Kernel, id eroute.SAID, out io.Writer, prog string) error {
	return withSAs(k, func(sas []SA) error {
		sa := find(sas, id)
		if id.Proto == eroute.ProtoTun {
			if g := groupNamed(sadb.Groups(sas), sas, id); g != nil && g.Tunnel() {
				sa = g.Members[0]
			}
		}
		if sa == nil {
			return fmt.Errorf("%s: SA does not exist.", id.AFString())
		}
		c := sa.Current
		var add, use int64
		if !c.AddTime.IsZero() {
			add = c.AddTime.Unix()
		}
		if !c.UseTime.IsZero() {
			use = c.UseTime.Unix()
		}
		_, err := fmt.Fprintf(out, "%s: lifetime_current=%d(allocations)/%d(bytes)/%d(addtime)/%d(usetime)\n",
			prog, 1, c.Bytes, add, use)
		return err
	})
}

// describe says what a request will do, for --debug, without keys.
func describe(req *Request) string {
	sa := &req.SA
	var b strings.Builder
	b.WriteString(actionWord(req))
	if !sa.SAID.IsZero() {
		b.WriteString(" " + sa.SAID.AFString())
	}
	if validSrc(sa.Src) {
		b.WriteString(" src " + sa.Src.String())
	}
	for _, a := range []struct {
		what string
		alg  *Alg
	}{{"enc", sa.Enc}, {"auth", sa.Auth}, {"comp", sa.Comp}} {
		if a.alg == nil {
			continue
		}
		fmt.Fprintf(&b, " %s %s", a.what, a.alg.Name)
		if n := a.alg.KeyBits(); n != 0 {
			fmt.Fprintf(&b, " (%d-bit key)", n)
		}
		if a.alg.TruncBits != 0 {
			fmt.Fprintf(&b, " icv %d bits", a.alg.TruncBits)
		}
	}
	if sa.ReplayWindow != 0 {
		fmt.Fprintf(&b, " replay-window %d", sa.ReplayWindow)
	}
	if req.Netns != "" {
		b.WriteString(" in network namespace " + req.Netns)
	}
	return b.String()
}

func actionWord(req *Request) string {
	a := req.Action
	switch a {
	case List:
		return "list"
	case Save:
		return "save to " + req.File
	case AddAH, AddESP, AddComp, AddIP4, AddIP6:
		return "add"
	}
	return actionName(a)
}

const spiUsage = `usage: spi [ --json ]                             list the SAs (as /proc/net/ipsec_spi)
       spi --clear                                  delete every ESP, AH and IPCOMP SA
       spi --save <file>                            write them, keys too, as a script (mode 0600)
       spi --help
       spi --version
       spi --del <SA>                               delete the SA and its group
       spi --get <SA>                               print its lifetime counters
       spi --ip4 <SA> --src <encap-src> [ --dst <encap-dst> ]
       spi --ip6 <SA> --src <encap-src> [ --dst <encap-dst> ]
       spi --ah <algo> <SA> [ <life> ] [ --replay_window <n> ] [ --src <src> ] --authkey <akey>
            <algo>: hmac-md5-96 | hmac-sha1-96 | hmac-sha2_256 | hmac-sha2_384 | hmac-sha2_512
       spi --esp <algo> <SA> [ <life> ] [ --replay_window <n> ] [ --src <src> ] --enckey <ekey> [ --authkey <akey> ]
            [ --natt <nonesp | nonike | none> [ --sport <port> ] [ --dport <port> ] ]
            <algo>: 3des | 3des-md5-96 | 3des-sha1-96 | <enc>[<bits>][-<integ>[-<icvbits>]]
            <enc>: 3des aes twofish serpent cast camellia null
            <integ>: md5 sha1 sha2_256 sha2_384 sha2_512 aes_xcbc null
       spi --comp deflate <SA> [ --src <src> ]
where <SA> is '--af <inet | inet6> --edst <dstaddr> --spi <spi> --proto <ah | esp | comp | tun>'
           OR '--said <proto><.|:><spi>@<dstaddr>'
      <life> is '--life <soft|hard>-<allocations|bytes|addtime|usetime|packets>=<value>[,...]'
      keys are 0x<hex digits>, 0s<base64> or 0t<text>
[ --debug ] [ --label <label> ] [ --netns <name> ] go with any spi command.
`
