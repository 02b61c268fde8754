package xfrm_test

// The examples change the XFRM tables of the namespace they run in, and
// need CAP_NET_ADMIN: they are compiled by go test, not run (no Output).

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
