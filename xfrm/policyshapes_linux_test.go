package xfrm

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// Policies of every shape a daemon writes, through batches refused at
// their end and syncs: each undo leaves the table as it was, and a second
// sync finds nothing to do. Where the kernel keeps a policy otherwise
// than it was written (a mark's bits outside the mask cleared, a missing
// prefix read back as /0), the batch must still find it.

// policyShapes are policies of the shapes a daemon writes, each in a place of
// its own.
func policyShapes() []Policy {
	tmpl := func(src, dst string) Template {
		t := Template{Proto: protoESP, Mode: ModeTunnel, Reqid: 7, Aalgos: AnyAlgorithms, Ealgos: AnyAlgorithms, Calgos: AnyAlgorithms}
		if src != "" {
			t.Src = netip.MustParseAddr(src)
		}
		if dst != "" {
			t.Dst = netip.MustParseAddr(dst)
		}
		return t
	}
	sel := func(i int) Selector {
		return Selector{Src: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 3, 0, byte(i)}), 32), Dst: netip.MustParsePrefix("10.4.0.0/16")}
	}
	var ps []Policy
	add := func(p Policy) { ps = append(ps, p) }
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Priority: 100, Tmpls: []Template{tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: Selector{Src: netip.MustParsePrefix("3049:1::/64"), Dst: netip.MustParsePrefix("3049:2::/64")}, Dir: DirIn, Priority: 100,
		Tmpls: []Template{tmpl("2001:db8::1", "2001:db8::2")}})
	add(Policy{Sel: Selector{Src: netip.MustParsePrefix("10.5.1.2/16"), Dst: netip.MustParsePrefix("10.6.0.0/16")}, Dir: DirOut}) // host bits
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), Proto: unix.IPPROTO_TCP, SrcPort: 1000, SrcPortMask: 0xffff, DstPort: 22, DstPortMask: 0xffff}, Dir: DirOut, Action: ActionBlock})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), Proto: unix.IPPROTO_ICMP, SrcPort: 8, SrcPortMask: 0xffff}, Dir: DirFwd, Action: ActionBlock})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Mark: 0x11, Mask: 0x0f, Tmpls: []Template{tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Mark: 0x10, Mask: 0})
	add(Policy{Sel: sel(len(ps)), Dir: DirIn, IfID: 9, Tmpls: []Template{tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Type: TypeSub, Tmpls: []Template{tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Flags: 1})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, HardAddExpires: 3600})
	tr := tmpl("", "")
	tr.Mode = ModeTransport
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Tmpls: []Template{tr}})
	opt := tmpl("192.0.2.1", "192.0.2.2")
	opt.SPI, opt.Optional, opt.Share, opt.Proto = 0x1234, true, 1, 108
	add(Policy{Sel: sel(len(ps)), Dir: DirIn, Tmpls: []Template{opt, tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: Selector{Src: netip.MustParsePrefix("3049:3::/64"), Dst: netip.MustParsePrefix("3049:4::/64")}, Dir: DirOut, Tmpls: []Template{tmpl("192.0.2.1", "192.0.2.2")}})
	add(Policy{Sel: Selector{Family: AFInet6, Src: netip.MustParsePrefix("::/0"), Dst: netip.MustParsePrefix("::/0")}, Dir: DirFwd, Priority: 5})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src}, Dir: DirOut})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), Ifindex: 1}, Dir: DirOut})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), User: 1000}, Dir: DirOut})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), Proto: unix.IPPROTO_UDP, SrcPort: 500}, Dir: DirOut}) // a port without its mask
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.7.0.0/0")}, Dir: DirOut})
	add(Policy{Sel: Selector{Src: sel(len(ps)).Src, Dst: netip.MustParsePrefix("10.4.0.0/16"), SrcPort: 500, SrcPortMask: 0xffff}, Dir: DirOut}) // ports without a protocol
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Tmpls: []Template{tmpl("2001:db8::1", "2001:db8::2")}})
	tra := tmpl("192.0.2.1", "192.0.2.2")
	tra.Mode = ModeTransport
	add(Policy{Sel: sel(len(ps)), Dir: DirIn, Tmpls: []Template{tra}})
	add(Policy{Sel: sel(len(ps)), Dir: DirOut, Priority: ^uint32(0), Mark: ^uint32(0), Mask: ^uint32(0), IfID: ^uint32(0)})
	return ps
}

func TestKernelPolicyShapesUndone(t *testing.T) {
	taken := Policy{Sel: Selector{Src: netip.MustParsePrefix("10.9.9.9/32"), Dst: netip.MustParsePrefix("10.9.9.8/32")}, Dir: DirOut, Priority: 3}
	for i, p := range policyShapes() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			tab, ns := openTable(t)
			if err := tab.AddPolicy(taken); err != nil {
				t.Fatal(err)
			}
			before := tableText(t, ns)
			err := tab.ApplyPolicies([]PolicyOp{{Kind: PolicyAdd, Policy: p}, {Kind: PolicyAdd, Policy: taken}})
			var be *BatchError
			if !errors.As(err, &be) || be.Index != 1 {
				t.Fatalf("add: %v", err)
			}
			if after := tableText(t, ns); after != before {
				t.Errorf("add undo left:\n%s\nwas:\n%s", after, before)
			}
			// Sync it in, then again: nothing to do.
			p.Priority = 1500
			owns := SyncOptions{Owns: PriorityBand(1000, 1999)}
			if _, err := tab.SyncPolicies([]Policy{p}, owns); err != nil {
				t.Fatal(err)
			}
			res, err := tab.SyncPolicies([]Policy{p}, owns)
			if err != nil || len(res.Ops) != 0 || res.Unchanged != 1 {
				t.Errorf("second sync: %+v, %v", res, err)
			}
			// An update in place, refused after: as before.
			before = tableText(t, ns)
			q := p
			q.Priority = 1600
			q.Action = ActionBlock
			err = tab.ApplyPolicies([]PolicyOp{{Kind: PolicyUpdate, Policy: q}, {Kind: PolicyAdd, Policy: taken}})
			if !errors.As(err, &be) || be.Index != 1 {
				t.Fatalf("update: %v", err)
			}
			if after := tableText(t, ns); after != before {
				t.Errorf("update undo left:\n%s\nwas:\n%s", after, before)
			}
			// Deleted, refused after: as before.
			err = tab.ApplyPolicies([]PolicyOp{{Kind: PolicyDelete, Policy: p}, {Kind: PolicyAdd, Policy: taken}})
			if !errors.As(err, &be) || be.Index != 1 {
				t.Fatalf("delete: %v", err)
			}
			if after := tableText(t, ns); after != before {
				t.Errorf("delete undo left:\n%s\nwas:\n%s", after, before)
			}
			if _, err := tab.SyncPolicies(nil, owns); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A policy added with mark bits outside its mask is found again by the
// same mark: the kernel keeps, and looks up, mark & mask.
func TestKernelMarkOutsideMask(t *testing.T) {
	tab, _ := openTable(t)
	p := Policy{Sel: Selector{Src: netip.MustParsePrefix("10.3.0.1/32"), Dst: netip.MustParsePrefix("10.4.0.0/16")}, Dir: DirOut, Mark: 0x11, Mask: 0x0f}
	if err := tab.AddPolicy(p); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tab.GetPolicy(p); !ok || err != nil {
		t.Errorf("GetPolicy: %v %v", ok, err)
	}
	if err := tab.DeletePolicy(p); err != nil {
		t.Errorf("DeletePolicy: %v", err)
	}
}
