// Package xfrm reads and changes the Linux kernel's IPsec tables, the
// XFRM policies and SAs of a network namespace, over netlink
// (NETLINK_XFRM). It was written for eroute, the KLIPS `ipsec eroute`
// command reborn on XFRM, and serves any Go program that drives XFRM: an
// IKE daemon, an SD-WAN agent, a test harness.
//
// What it does that github.com/vishvananda/netlink does not: addresses are
// decoded with their own family (an IPv6 prefix such as 3049:2::/64 never
// reads back as IPv4), ACQUIREs are decoded, many changes go to the kernel
// pipelined as one all-or-nothing batch, and a table of 100,000 policies
// is walked in 6.4 MB. The decoder is fuzzed and cannot panic.
//
// # A Table
//
// A Table is the XFRM tables of one network namespace, reached through
// one netlink socket. Open("") opens the caller's namespace; Open("blue")
// the namespace `ip netns add blue` made. The socket is made inside that
// namespace on an OS thread that is then thrown away, so the process never
// changes namespace and the Table works from any goroutine. Reading or
// changing the tables takes CAP_NET_ADMIN; entering another namespace
// takes CAP_SYS_ADMIN too. Every send and every wait for the kernel's
// answer ends after 10 seconds; OpenWith's OpenOptions.Timeout changes
// that. Close releases the socket; calling it again does nothing more.
//
//	t, err := xfrm.Open("")
//	if err != nil {
//		return err
//	}
//	defer t.Close()
//
// Outside Linux every package builds, and Open fails with ErrNoXFRM.
//
// # Policies of any shape
//
// A Policy is one XFRM policy as the kernel holds it: a Selector (family,
// source and destination prefixes, protocol, ports with their masks), a
// direction (DirOut, DirIn, DirFwd), an action (ActionAllow, ActionBlock),
// a priority (of the policies that match a packet, the kernel takes the
// one with the lowest value), a type (TypeMain, TypeSub), a mark and mask,
// an XFRM interface id (IfID), and templates: the SAs a packet must go
// through, each a Template with its protocol (50 ESP, 51 AH, 108 IPComp),
// mode, SPI (0: any), reqid, tunnel ends and algorithm masks (use
// AnyAlgorithms, as ip xfrm does: 0 allows no SA at all).
//
// AddPolicy adds one (exclusive: ErrExists when a policy with the same
// selector, direction, type, mark and if_id is there, whatever its
// priority); UpdatePolicy adds or replaces in one step, so that no packet
// meets a gap; DeletePolicy and GetPolicy find a policy by its Index (the
// kernel's name for it) or by its selector, with its direction, type, mark
// and if_id; Policies gives every policy, decoded. A zero Selector.Family
// or Template.Family is taken from the addresses.
//
//	err := t.AddPolicy(xfrm.Policy{
//		Sel:      xfrm.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")},
//		Dir:      xfrm.DirOut,
//		Priority: 1000,
//		Mark:     0x10, Mask: 0xff,
//		Tmpls: []xfrm.Template{{Proto: 50, Mode: xfrm.ModeTunnel, Reqid: 1,
//			Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
//			Aalgos: xfrm.AnyAlgorithms, Ealgos: xfrm.AnyAlgorithms, Calgos: xfrm.AnyAlgorithms}},
//	})
//
// # Eroutes
//
// Most of the Table's methods speak eroutes (package pkg/eroute): an
// eroute is a selector (two prefixes, a protocol and ports) and a SAID
// (esp0x200@192.0.2.2, tun0x100@192.0.2.2, %trap, %drop, %pass, %hold...),
// stored as one outbound policy whose priority the package computes so
// that the most specific eroute wins, whatever the order they were added
// in. Add, Replace, Delete, List, Walk (the table one eroute at a time,
// without holding it as eroutes) and WalkEntries (with the kernel's view
// of each policy: priority, index, mark, templates) work on them;
// AddInbound adds the in and forward policies of a tunnel. A policy that
// reads back exactly as the package writes an eroute is eroute's own
// (Entry.Own); every other one, an IKE daemon's or ip xfrm's, is foreign,
// and is listed as closely as an eroute can say it.
//
// # Batches and sync
//
// Apply carries out many Ops (eroute.OpAdd, OpReplace, OpDelete, OpClear)
// as one change, all or nothing: the requests go pipelined, many to a
// datagram, and the kernel answers only those it refuses. When it refuses
// one, every op it carried out is undone exactly and Apply returns a
// *BatchError naming the op (Index) and why (Err, which matches ErrExists,
// ErrNotFound...); should the undo fail too, an *UndoError says the table
// is not as it was. ApplyFunc takes the ops from a function rather than a
// slice; ApplyFuncUntil also stops, and undoes, when a channel closes (a
// signal). An Op with Force may change a foreign policy; an Idempotent one
// succeeds when its effect is already in place (a delete of what is gone),
// for a caller that wants a state rather than a change.
//
// To make the table equal to a wanted state, read it once with Snapshot,
// compare its entries with what you want, and hand the difference to
// Snapshot.Apply: it undoes from what the snapshot read instead of dumping
// the table again, and dumps only when a policy changed since. The
// entries come three ways: Len and Entry in the listing's order (the
// first Entry sorts them), Each in the dump's order, and Match, which
// looks a list of selectors up among the deletable policies by a hash
// index and gives the ones no selector named: for a large table the
// cheapest comparison, as no side is sorted (eroute --sync's).
//
// # Batches and sync of any policies
//
// ApplyPolicies is Apply for policies of any shape: PolicyOps of kind
// PolicyAdd, PolicyUpdate and PolicyDelete (what AddPolicy, UpdatePolicy
// and DeletePolicy do), pipelined, all or nothing, with the same
// *BatchError and *UndoError. A policy is known, as the kernel knows it,
// by its selector, direction, type, mark and if_id: an add of a place that
// is taken fails with ErrExists whatever the priorities.
//
//	err := t.ApplyPolicies([]xfrm.PolicyOp{
//		{Kind: xfrm.PolicyUpdate, Policy: out},
//		{Kind: xfrm.PolicyUpdate, Policy: in},
//		{Kind: xfrm.PolicyDelete, Policy: old},
//	})
//
// SyncPolicies makes the policies a program owns equal to a wanted set in
// one such batch, and leaves every other policy alone: SyncOptions.Owns
// says which are the program's (PriorityBand(lo, hi) takes a band of
// priorities; a mark, an if_id or the reqids of the templates do as well),
// and every wanted policy must be one it takes. The sync updates the owned
// policies that differ (a new priority, action or template), adds the
// missing ones, deletes the owned ones not wanted, and says what it did in
// a SyncResult; SyncOptions.DryRun gives the plan and changes nothing. A
// wanted policy whose place holds a policy the program does not own is a
// *ConflictError (errors.Is finds ErrExists), and nothing changes.
//
//	res, err := t.SyncPolicies(want, xfrm.SyncOptions{Owns: xfrm.PriorityBand(1000, 1999)})
//
// # Events
//
// Listen (or ListenWith, whose ListenOptions choose the events) opens a
// Listener: Next gives each *Acquire (a packet met a policy whose template
// no SA answers: the flow, the policy that trapped it and the SA the
// kernel wants), *PolicyExpire, with ListenOptions.Policies each
// *PolicyChange and *PolicyFlush, with ListenOptions.SAExpires each
// *SAExpire (an SA reached a soft limit, time to make its successor, or a
// hard one, and the kernel deleted it), and with ListenOptions.SAs each
// *SAChange (an SA made, changed or deleted) and *SAFlush. An event carries
// what it is about decoded (a Policy, a sadb.SA with its mark and if_id).
// When the socket's buffer overflowed the kernel dropped messages: Next
// says so once with ErrOverrun and goes on. Close, from any goroutine,
// makes a waiting Next return ErrClosed; SetDeadline bounds its waits (an
// error that matches os.ErrDeadlineExceeded, and the listener goes on).
//
// # Errors
//
// Errors match, with errors.Is, this package's sentinels (ErrExists,
// ErrNotFound, ErrPermission and its narrower ErrReadPermission and
// ErrNetnsPermission, ErrNoXFRM, ErrDumpInterrupted, ErrOverrun,
// ErrClosed; a *ConflictError is ErrExists), the standard error of their kind (fs.ErrExist,
// fs.ErrNotExist, fs.ErrPermission, errors.ErrUnsupported, net.ErrClosed)
// and the kernel's errno (unix.EEXIST, unix.EPERM...); a request the kernel
// never answered, and a Listener's wait past its deadline, match
// os.ErrDeadlineExceeded. A refusal of no kind
// above reads "kernel refused the request: " and the errno, with the
// kernel's own words (its extended ack) when it gave some.
//
// # SAs
//
// The Table is also the namespace's SA table: SAs and States read the
// states, AddSA, DeleteSA and FlushSAs change them (the SA type is
// pkg/sadb's), LocalAddrs gives the namespace's addresses.
//
// docs/DESIGN.md in the eroute repository says why each choice was made,
// and how an eroute is stored in a policy.
package xfrm
