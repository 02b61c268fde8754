package xfrm_test

// Most examples change the XFRM tables of the namespace they run in, and
// need CAP_NET_ADMIN: they are compiled by go test, not run (no Output).
// Those that need no kernel (ExamplePriorityBand) run, and check their
// Output.

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/netip"
	"os"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/xfrm"
)

// Open the table of the network namespace `ip netns add blue` made, and
// print every outbound policy as an eroute, one at a time.
func Example() {
	t, err := xfrm.Open("blue")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	err = t.Walk(func(e eroute.Eroute) error {
		fmt.Println(e.Selector, "=>", e.SAID)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

// A tunnel policy for marked packets, with an explicit priority and the
// reqid the daemon's SA carries, and its inbound and forward twins.
func ExampleTable_AddPolicy() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	sel := xfrm.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}
	out := xfrm.Template{Proto: 50, Mode: xfrm.ModeTunnel, Reqid: 7,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2"),
		Aalgos: xfrm.AnyAlgorithms, Ealgos: xfrm.AnyAlgorithms, Calgos: xfrm.AnyAlgorithms}
	in := out
	in.Src, in.Dst = out.Dst, out.Src
	rev := xfrm.Selector{Src: sel.Dst, Dst: sel.Src}
	for _, p := range []xfrm.Policy{
		{Sel: sel, Dir: xfrm.DirOut, Priority: 1000, Mark: 0x10, Mask: 0xff, Tmpls: []xfrm.Template{out}},
		{Sel: rev, Dir: xfrm.DirIn, Priority: 1000, Tmpls: []xfrm.Template{in}},
		{Sel: rev, Dir: xfrm.DirFwd, Priority: 1000, Tmpls: []xfrm.Template{in}},
	} {
		if err := t.UpdatePolicy(p); err != nil {
			log.Fatal(err)
		}
	}
}

// Three changes as one: if the kernel refuses any, none is left in place.
func ExampleTable_Apply() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	gw := netip.MustParseAddr("192.0.2.2")
	sel := func(src, dst string) eroute.Selector {
		return eroute.Selector{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst)}
	}
	err = t.Apply([]xfrm.Op{
		{Kind: eroute.OpAdd, Eroute: eroute.Eroute{Selector: sel("10.1.0.0/16", "10.2.0.0/16"),
			SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x100, Dst: gw}}},
		{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: sel("10.1.0.0/16", "10.3.0.0/16"), SAID: eroute.Trap}},
		{Kind: eroute.OpDelete, Eroute: eroute.Eroute{Selector: sel("10.1.0.0/16", "10.4.0.0/16")}},
	})
	var be *xfrm.BatchError
	switch {
	case errors.As(err, &be) && errors.Is(be.Err, fs.ErrNotExist):
		fmt.Printf("op %d: nothing to delete; the table is as it was\n", be.Index)
	case err != nil:
		log.Fatal(err)
	}
}

// Make the outbound eroutes equal to a wanted set: read the table once,
// add what is missing, delete what is not wanted (eroute's own only), and
// apply the difference against the snapshot.
func ExampleTable_Snapshot() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	want := map[eroute.Selector]eroute.SAID{
		{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}: eroute.Drop,
	}
	s, err := t.Snapshot()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	var ops []xfrm.Op
	seen := map[eroute.Selector]bool{}
	for i := 0; i < s.Len(); i++ {
		e := s.Entry(i)
		seen[e.Selector] = true
		switch said, ok := want[e.Selector]; {
		case !ok && e.Own && e.Deletable:
			ops = append(ops, xfrm.Op{Kind: eroute.OpDelete, Eroute: e.Eroute, Idempotent: true})
		case ok && said != e.SAID && e.Own:
			ops = append(ops, xfrm.Op{Kind: eroute.OpReplace, Eroute: eroute.Eroute{Selector: e.Selector, SAID: said}})
		}
	}
	for sel, said := range want {
		if !seen[sel] {
			ops = append(ops, xfrm.Op{Kind: eroute.OpAdd, Eroute: eroute.Eroute{Selector: sel, SAID: said}, Idempotent: true})
		}
	}
	if err := s.Apply(ops); err != nil {
		log.Fatal(err)
	}
}

// Print what the kernel asks the key managers for, and every policy made
// or deleted, until the listener is closed.
func ExampleListenWith() {
	l, err := xfrm.ListenWith(xfrm.ListenOptions{Acquires: true, Policies: true})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		ev, err := l.Next()
		switch {
		case errors.Is(err, xfrm.ErrOverrun):
			fmt.Fprintln(os.Stderr, "events lost; listening goes on")
			continue
		case errors.Is(err, xfrm.ErrClosed):
			return
		case err != nil:
			log.Fatal(err)
		}
		switch ev := ev.(type) {
		case *xfrm.Acquire:
			fmt.Printf("ACQUIRE %s: the policy %s wants an SA to %s\n", ev.Flow, ev.Eroute, ev.Tmpl.Dst)
		case *xfrm.PolicyChange:
			fmt.Printf("policy %d %s -> %s deleted=%v\n", ev.Policy.Index, ev.Policy.Sel.Src, ev.Policy.Sel.Dst, ev.Deleted)
		}
	}
}

// Errors tell their kind to errors.Is in the package's terms and the
// standard library's.
func ExampleErrExists() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	e := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"),
		Dst: netip.MustParsePrefix("10.2.0.0/16")}, SAID: eroute.Drop}
	switch err := t.Add(e); {
	case errors.Is(err, xfrm.ErrExists): // also fs.ErrExist and unix.EEXIST
		fmt.Println("the selector is taken")
	case errors.Is(err, fs.ErrPermission):
		fmt.Println("run as root (CAP_NET_ADMIN)")
	case err != nil:
		log.Fatal(err)
	}
}

// An IKE daemon installs a child SA's policies, out, in and fwd, with the
// reqid its SAs carry, an XFRM interface id and an explicit priority, as
// one change: if the kernel refuses any, none is left in place.
func ExampleTable_ApplyPolicies() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	local, remote := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	tmpl := func(src, dst netip.Addr) []xfrm.Template {
		return []xfrm.Template{{Proto: 50, Mode: xfrm.ModeTunnel, Reqid: 42, Src: src, Dst: dst,
			Aalgos: xfrm.AnyAlgorithms, Ealgos: xfrm.AnyAlgorithms, Calgos: xfrm.AnyAlgorithms}}
	}
	out := xfrm.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}
	in := xfrm.Selector{Src: out.Dst, Dst: out.Src}
	err = t.ApplyPolicies([]xfrm.PolicyOp{
		{Kind: xfrm.PolicyAdd, Policy: xfrm.Policy{Sel: out, Dir: xfrm.DirOut, Priority: 1500, IfID: 7, Tmpls: tmpl(local, remote)}},
		{Kind: xfrm.PolicyAdd, Policy: xfrm.Policy{Sel: in, Dir: xfrm.DirIn, Priority: 1500, IfID: 7, Tmpls: tmpl(remote, local)}},
		{Kind: xfrm.PolicyAdd, Policy: xfrm.Policy{Sel: in, Dir: xfrm.DirFwd, Priority: 1500, IfID: 7, Tmpls: tmpl(remote, local)}},
	})
	var be *xfrm.BatchError
	switch {
	case errors.As(err, &be) && errors.Is(err, fs.ErrExist):
		fmt.Printf("policy %d is there already; nothing was changed\n", be.Index)
	case err != nil:
		log.Fatal(err) // an *UndoError says the table is not as it was
	}
}

// A program keeps its policies in the priority band 1000-1999 equal to
// its configuration, and leaves everyone else's alone: first it shows
// the plan, then carries it out.
func ExampleTable_SyncPolicies() {
	t, err := xfrm.Open("")
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	want := []xfrm.Policy{
		{Sel: xfrm.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.3.0.0/16")},
			Dir: xfrm.DirOut, Priority: 1200, Action: xfrm.ActionBlock},
		{Sel: xfrm.Selector{Src: netip.MustParsePrefix("10.3.0.0/16"), Dst: netip.MustParsePrefix("10.1.0.0/16")},
			Dir: xfrm.DirFwd, Priority: 1200, Action: xfrm.ActionBlock},
	}
	o := xfrm.SyncOptions{Owns: xfrm.PriorityBand(1000, 1999), DryRun: true}
	plan, err := t.SyncPolicies(want, o)
	var ce *xfrm.ConflictError
	switch {
	case errors.As(err, &ce):
		log.Fatalf("wanted policy %d: its place holds a policy of priority %d, not ours", ce.Index, ce.Holder.Priority)
	case err != nil:
		log.Fatal(err)
	}
	for _, op := range plan.Ops {
		fmt.Println(op.Kind, op.Policy.Sel.Src, "->", op.Policy.Sel.Dst, "dir", op.Policy.Dir)
	}
	o.DryRun = false
	if _, err := t.SyncPolicies(want, o); err != nil {
		log.Fatal(err)
	}
}

// PriorityBand is the usual way to tell a sync which policies are the
// program's.
func ExamplePriorityBand() {
	owns := xfrm.PriorityBand(1000, 1999)
	for _, prio := range []uint32{999, 1000, 1500, 2000} {
		fmt.Println(prio, owns(xfrm.Policy{Priority: prio}))
	}
	// Output:
	// 999 false
	// 1000 true
	// 1500 true
	// 2000 false
}

// A key manager rekeys on a soft expiry and forgets the SA on a hard one;
// it also hears the SAs others add and delete.
func ExampleListenWith_saEvents() {
	l, err := xfrm.ListenWith(xfrm.ListenOptions{SAExpires: true, SAs: true})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		ev, err := l.Next()
		if errors.Is(err, xfrm.ErrClosed) {
			return
		}
		if err != nil && !errors.Is(err, xfrm.ErrOverrun) {
			log.Fatal(err)
		}
		switch ev := ev.(type) {
		case *xfrm.SAExpire:
			if ev.Hard {
				fmt.Printf("SA %s (reqid %d, if_id %d) is gone\n", ev.SA.SAID, ev.SA.Reqid, ev.IfID)
			} else {
				fmt.Printf("SA %s reached its soft limit: negotiate its successor\n", ev.SA.SAID)
			}
		case *xfrm.SAChange:
			fmt.Printf("SA %s deleted=%v\n", ev.SA.SAID, ev.Deleted)
		case *xfrm.SAFlush:
			fmt.Printf("every SA of protocol %d went\n", ev.Proto)
		}
	}
}
