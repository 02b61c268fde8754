package xfrm

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Any policy, not only an eroute's: directions in, out and fwd, an
// explicit priority, a mark, an if_id and a template with a reqid, read
// back by Policies and GetPolicy as written and as ip xfrm reads it;
// replaced in place, deleted by index and by selector.
func TestKernelAnyPolicy(t *testing.T) {
	tab, ns := openTable(t)
	sel := Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("2001:db8::/32")}
	if err := tab.AddPolicy(Policy{Sel: sel}); err == nil {
		t.Fatal("a selector of two families was written")
	}
	v6 := Selector{Src: netip.MustParsePrefix("2001:db8:1::/48"), Dst: netip.MustParsePrefix("2001:db8:2::/48"), Proto: 6, DstPort: 443, DstPortMask: 0xffff}
	tmpl := Template{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), Proto: 50, Mode: ModeTunnel,
		Reqid: 7, Aalgos: AnyAlgorithms, Ealgos: AnyAlgorithms, Calgos: AnyAlgorithms}
	want := []Policy{
		{Sel: v6, Dir: DirOut, Priority: 1234, Mark: 0x10, Mask: 0xff, IfID: 3, Tmpls: []Template{tmpl}},
		{Sel: v6, Dir: DirIn, Priority: 1234, Tmpls: []Template{tmpl}},
		{Sel: v6, Dir: DirFwd, Priority: 99, Action: ActionBlock},
	}
	for _, p := range want {
		if err := tab.AddPolicy(p); err != nil {
			t.Fatalf("AddPolicy(%+v): %v", p, err)
		}
	}
	if err := tab.AddPolicy(want[0]); !errors.Is(err, ErrExists) {
		t.Errorf("second AddPolicy: %v, want ErrExists", err)
	}
	got, err := tab.Policies()
	if err != nil {
		t.Fatal(err)
	}
	ignore := cmpopts.IgnoreFields(Policy{}, "Index", "AddTime")
	complete := func(p Policy) Policy {
		p.Sel.Family = AFInet6
		for i := range p.Tmpls {
			p.Tmpls[i].Family = AFInet6
		}
		return p
	}
	for _, w := range want {
		w = complete(w)
		found := false
		for _, g := range got {
			found = found || cmp.Equal(w, g, ignore, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}))
		}
		if !found {
			t.Errorf("Policies() lacks %+v; got %+v", w, got)
		}
	}
	wantContains(t, policies(t, ns), "dir out priority 1234", "mark 0x10/0xff", "if_id 0x3", "reqid 7 mode tunnel", "dir fwd action block priority 99")

	// Replace in place, then delete the out policy by its index, the in
	// policy by its selector.
	up := want[0]
	up.Priority = 1000
	if err := tab.UpdatePolicy(up); err != nil {
		t.Fatal(err)
	}
	p, ok, err := tab.GetPolicy(Policy{Sel: v6, Dir: DirOut, Mark: 0x10, Mask: 0xff, IfID: 3})
	if err != nil || !ok || p.Priority != 1000 {
		t.Fatalf("GetPolicy after UpdatePolicy: %+v, %v, %v", p, ok, err)
	}
	if err := tab.DeletePolicy(Policy{Index: p.Index, Dir: DirOut, Mark: 0x10, Mask: 0xff, IfID: 3}); err != nil {
		t.Fatalf("DeletePolicy by index: %v", err)
	}
	if err := tab.DeletePolicy(Policy{Sel: complete(want[1]).Sel, Dir: DirIn}); err != nil {
		t.Fatalf("DeletePolicy by selector: %v", err)
	}
	if err := tab.DeletePolicy(Policy{Sel: complete(want[1]).Sel, Dir: DirIn}); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeletePolicy: %v, want ErrNotFound", err)
	}
	if _, ok, err := tab.GetPolicy(Policy{Sel: v6, Dir: DirOut, Mark: 0x10, Mask: 0xff, IfID: 3}); ok || err != nil {
		t.Errorf("GetPolicy after DeletePolicy: %v, %v", ok, err)
	}
	if out := policies(t, ns); len(out) == 0 || !containsAll(out, "dir fwd") || containsAll(out, "dir out") || containsAll(out, "dir in ") {
		t.Errorf("after the deletes ip xfrm shows:\n%s", out)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A Listener that chose the policy group hears policies made and deleted,
// as typed events carrying the policy.
func TestKernelListenPolicies(t *testing.T) {
	tab, ns := openTable(t)
	l, err := ListenWith(ListenOptions{Netns: ns, Policies: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := Policy{Sel: Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")},
		Dir: DirFwd, Priority: 42, Action: ActionBlock}
	if err := tab.AddPolicy(p); err != nil {
		t.Fatal(err)
	}
	if err := tab.DeletePolicy(p); err != nil {
		t.Fatal(err)
	}
	for _, deleted := range []bool{false, true} {
		ev, err := l.Next()
		pc, ok := ev.(*PolicyChange)
		if err != nil || !ok || pc.Deleted != deleted || pc.Policy.Priority != 42 || pc.Policy.Dir != DirFwd || pc.Policy.Sel.Dst != p.Sel.Dst {
			t.Fatalf("event %T %+v, %v; want the policy, deleted %v", ev, ev, err, deleted)
		}
	}
}
