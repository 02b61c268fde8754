package xfrm

import (
	"net/netip"
	"testing"
)

// A policy to write gets the families its addresses say, and one whose
// addresses contradict a family is refused before anything is sent.
func TestCompletePolicy(t *testing.T) {
	tmpls := []Template{{Dst: netip.MustParseAddr("2001:db8::2")}, {}}
	p, err := completePolicy(Policy{Sel: Selector{Dst: netip.MustParsePrefix("10.2.0.0/16")}, Tmpls: tmpls})
	if err != nil || p.Sel.Family != AFInet || p.Tmpls[0].Family != AFInet6 || p.Tmpls[1].Family != AFInet {
		t.Errorf("completePolicy: %+v, %v", p, err)
	}
	if tmpls[0].Family != 0 {
		t.Error("completePolicy changed the caller's templates")
	}
	for _, bad := range []Policy{
		{},
		{Sel: Selector{Family: AFInet6, Src: netip.MustParsePrefix("10.1.0.0/16")}},
		{Sel: Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("2001:db8::/32")}},
		{Sel: Selector{Src: netip.MustParsePrefix("10.1.0.0/16")}, Tmpls: []Template{{Family: AFInet, Dst: netip.MustParseAddr("2001:db8::2")}}},
	} {
		if _, err := completePolicy(bad); err == nil {
			t.Errorf("completePolicy(%+v) took it", bad)
		}
	}
	id := Policy{Index: 8, Dir: DirOut}
	if err := completeSelector(&id.Sel); err != nil || id.Sel.Family != 0 {
		t.Errorf("a policy named by index: %+v, %v", id, err)
	}
}

func TestListenGroups(t *testing.T) {
	for _, c := range []struct {
		o    ListenOptions
		want uint32
	}{
		{ListenOptions{}, 1<<(grpAcquire-1) | 1<<(grpExpire-1)},
		{ListenOptions{Policies: true}, 1 << (grpPolicy - 1)},
		{ListenOptions{Acquires: true, Policies: true}, 1<<(grpAcquire-1) | 1<<(grpPolicy-1)},
		{ListenOptions{Expires: true}, 1 << (grpExpire - 1)},
	} {
		if got := c.o.groups(); got != c.want {
			t.Errorf("%+v: groups %#x, want %#x", c.o, got, c.want)
		}
	}
}
