package xfrm

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

func said(t testing.TB, s string) eroute.SAID {
	t.Helper()
	v, err := eroute.ParseSAID(s, nil)
	if err != nil {
		t.Fatalf("ParseSAID(%q): %v", s, err)
	}
	return v
}

// er builds an eroute from text: "SRC DST" selector parts and a SAID.
func er(t testing.TB, src, dst, saidText string) eroute.Eroute {
	return eroute.Eroute{Selector: eroute.Selector{Src: pfx(src), Dst: pfx(dst)}, SAID: said(t, saidText)}
}

// tunSPI0 is a tun SAID with SPI 0, as IKE daemons write them; ParseSAID
// refuses SPIs below 0x100.
func tunSPI0(dst string) eroute.SAID {
	return eroute.SAID{Proto: eroute.ProtoTun, Dst: ip(dst)}
}

// withPorts sets a transport protocol and ports on an eroute.
func withPorts(e eroute.Eroute, proto uint8, sport, dport uint16) eroute.Eroute {
	e.Proto, e.SrcPort, e.DstPort = proto, sport, dport
	return e
}

// roundTripEroutes covers every magic SAID and every SA kind, both families.
func roundTripEroutes(t testing.TB) []eroute.Eroute {
	var es []eroute.Eroute
	for i, m := range []string{"%pass", "%drop", "%reject", "%hold", "%trap", "%trapsubnet", "%passthrough4", "%passthrough6"} {
		es = append(es,
			er(t, "192.168.6.0/24", fmt.Sprintf("192.168.%d.0/24", 10+i), m),
			er(t, "3049:1::/64", fmt.Sprintf("3049:%x::/64", 0x10+i), m))
	}
	return append(es,
		er(t, "192.168.0.1/32", "192.168.2.0/24", "tun0x135@192.168.0.2"),
		er(t, "3049:1::1/128", "3049:2::/64", "tun0x145@3049:1::2"),
		er(t, "10.0.0.0/8", "10.1.0.0/16", "tun0x135@3049:1::2"), // IPv4 in IPv6
		er(t, "3049:1::/64", "3049:9::/64", "tun0x146@192.168.0.2"),
		er(t, "10.2.0.0/16", "10.3.0.0/16", "esp0x101@1.2.3.0"),
		er(t, "10.2.0.0/16", "10.4.0.0/16", "ah0x102@1.2.3.0"),
		er(t, "10.2.0.0/16", "10.5.0.0/16", "comp0x103@1.2.3.0"),
		er(t, "3049:1::/64", "3049:3::/64", "esp0x101@3049:1::2"),
		er(t, "3049:1::/64", "3049:4::/64", "ah0xffffffff@3049:1::2"),
		er(t, "0.0.0.0/0", "0.0.0.0/0", "tun0x100@10.9.9.9"),
		er(t, "::/0", "::/0", "%drop"),
		withPorts(er(t, "10.0.0.0/24", "10.1.1.1/32", "tun0x135@10.9.9.9"), 6, 0, 110),
		withPorts(er(t, "3049:1::/64", "3049:5::1/128", "%pass"), 17, 53, 0),
		withPorts(er(t, "10.0.0.0/24", "10.1.1.2/32", "%reject"), 1, 0, 0),
	)
}

func TestRoundTrip(t *testing.T) {
	for _, e := range roundTripEroutes(t) {
		p := PolicyOf(e)
		if got := ErouteOf(p); got != e {
			t.Errorf("ErouteOf(PolicyOf(%v)) = %v", e, got)
		}
		q, err := decodePolicy(encodePolicy(p))
		if err != nil {
			t.Fatalf("%v: decode: %v", e, err)
		}
		if !reflect.DeepEqual(q, p) {
			t.Errorf("%v: decode(encode(p)) =\n%+v, want\n%+v", e, q, p)
		}
		if got := ErouteOf(q); got != e {
			t.Errorf("%v read back from bytes as %v", e, got)
		}
	}
}

func TestPolicyOfShape(t *testing.T) {
	v4, v6 := uint16(AFInet), uint16(AFInet6)
	tests := []struct {
		e      eroute.Eroute
		action uint8
		kind   kind
		tmpl   *Template
	}{
		{er(t, "192.168.0.1/32", "192.168.2.0/24", "tun0x135@192.168.0.2"), ActionAllow, kindSA,
			&Template{Family: v4, Src: ip("0.0.0.0"), Dst: ip("192.168.0.2"), Proto: 50, SPI: 0x135, Mode: ModeTunnel}},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "tun0x135@3049:1::2"), ActionAllow, kindSA,
			&Template{Family: v6, Src: ip("::"), Dst: ip("3049:1::2"), Proto: 50, SPI: 0x135, Mode: ModeTunnel}},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "esp0x101@1.2.3.0"), ActionAllow, kindSA,
			&Template{Family: v4, Src: ip("0.0.0.0"), Dst: ip("1.2.3.0"), Proto: 50, SPI: 0x101, Mode: ModeTransport}},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "ah0x101@1.2.3.0"), ActionAllow, kindSA,
			&Template{Family: v4, Src: ip("0.0.0.0"), Dst: ip("1.2.3.0"), Proto: 51, SPI: 0x101, Mode: ModeTransport}},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "comp0x101@1.2.3.0"), ActionAllow, kindSA,
			&Template{Family: v4, Src: ip("0.0.0.0"), Dst: ip("1.2.3.0"), Proto: 108, SPI: 0x101, Mode: ModeTransport}},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%pass"), ActionAllow, kindPass, nil},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%passthrough4"), ActionAllow, kindPassthrough4, nil},
		{er(t, "3049::/16", "3049::/16", "%passthrough6"), ActionAllow, kindPassthrough6, nil},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%drop"), ActionBlock, kindDrop, nil},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%reject"), ActionBlock, kindReject, nil},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%hold"), ActionBlock, kindHold, nil},
		{er(t, "10.0.0.0/8", "10.1.0.0/16", "%trap"), ActionAllow, kindTrap,
			&Template{Family: v4, Src: ip("0.0.0.0"), Dst: ip("0.0.0.0"), Proto: 50, Mode: ModeTransport}},
		{er(t, "3049::/16", "3049::/16", "%trapsubnet"), ActionAllow, kindTrapSubnet,
			&Template{Family: v6, Src: ip("::"), Dst: ip("::"), Proto: 50, Mode: ModeTransport}},
	}
	for _, tt := range tests {
		p := PolicyOf(tt.e)
		wantPrio := PrioBase + (eroute.MaxSpecificity-tt.e.Specificity())*16 + uint32(tt.kind)
		if p.Dir != DirOut || p.Type != TypeMain || p.Action != tt.action || p.Priority != wantPrio {
			t.Errorf("%v: dir %d type %d action %d priority %d, want out main %d %d",
				tt.e, p.Dir, p.Type, p.Action, p.Priority, tt.action, wantPrio)
		}
		if p.Mark != 0 || p.Mask != 0 || p.IfID != 0 || p.Index != 0 || p.Sel.Ifindex != 0 || p.Sel.User != 0 {
			t.Errorf("%v: unexpected mark, if_id, index, ifindex or user: %+v", tt.e, p)
		}
		var want []Template
		if tt.tmpl != nil {
			w := *tt.tmpl
			w.Aalgos, w.Ealgos, w.Calgos = anyAlgos, anyAlgos, anyAlgos
			want = []Template{w}
		}
		if !reflect.DeepEqual(p.Tmpls, want) {
			t.Errorf("%v: templates %+v, want %+v", tt.e, p.Tmpls, want)
		}
	}
}

func TestSelectorOf(t *testing.T) {
	e := withPorts(er(t, "3049:1::/64", "3049:2::/64", "%pass"), 6, 1024, 110)
	got := PolicyOf(e).Sel
	want := Selector{Family: AFInet6, Src: pfx("3049:1::/64"), Dst: pfx("3049:2::/64"), Proto: 6,
		SrcPort: 1024, SrcPortMask: 0xffff, DstPort: 110, DstPortMask: 0xffff}
	if got != want {
		t.Errorf("selector %+v, want %+v", got, want)
	}
	b := encodePolicy(PolicyOf(e))
	// dport, dport_mask, sport, sport_mask: big-endian, as the kernel wants.
	if w := []byte{0, 110, 0xff, 0xff, 4, 0, 0xff, 0xff}; !bytes.Equal(b[32:40], w) {
		t.Errorf("port bytes % x, want % x", b[32:40], w)
	}
	if b[42] != 64 || b[43] != 64 || b[44] != 6 {
		t.Errorf("prefixlen_d %d prefixlen_s %d proto %d", b[42], b[43], b[44])
	}
}

func TestPriorityOrder(t *testing.T) {
	prio := func(e eroute.Eroute) uint32 { return PolicyOf(e).Priority }
	tests := []struct {
		name              string
		specific, general eroute.Eroute
	}{
		{"/32 source beats /24", er(t, "10.0.0.1/32", "10.1.0.0/16", "%trapsubnet"), er(t, "10.0.0.0/24", "10.1.0.0/16", "tun0x100@1.1.1.1")},
		{"/32 destination beats /24", er(t, "10.0.0.0/24", "10.1.0.1/32", "%drop"), er(t, "10.0.0.0/24", "10.1.0.0/24", "%pass")},
		{"source before destination", er(t, "10.0.0.0/25", "0.0.0.0/0", "%pass"), er(t, "10.0.0.0/24", "10.1.0.1/32", "%pass")},
		{"ports beat no ports", withPorts(er(t, "10.0.0.0/24", "10.1.1.1/32", "tun0x135@10.9.9.9"), 6, 0, 110), er(t, "10.0.0.0/24", "10.1.1.1/32", "%pass")},
		{"protocol beats none", withPorts(er(t, "10.0.0.0/24", "10.1.1.1/32", "%drop"), 17, 0, 0), er(t, "10.0.0.0/24", "10.1.1.1/32", "%pass")},
		{"IPv6 /128 beats /64", er(t, "3049:1::1/128", "3049:2::/64", "%passthrough6"), er(t, "3049:1::/64", "3049:2::/64", "%drop")},
	}
	for _, tt := range tests {
		if ps, pg := prio(tt.specific), prio(tt.general); ps >= pg {
			t.Errorf("%s: %v has priority %d, not below %v's %d", tt.name, tt.specific, ps, tt.general, pg)
		}
	}
	least := prio(er(t, "0.0.0.0/0", "0.0.0.0/0", "%trapsubnet"))
	most := prio(withPorts(er(t, "3049::1/128", "3049::2/128", "tun0x100@3049::3"), 6, 1, 2))
	if most != PrioBase || least <= most || least < PrioBase || least > PrioBase+eroute.MaxSpecificity*16+15 {
		t.Errorf("priorities out of the band: most specific %d, least %d", most, least)
	}
}

func TestForeignPolicies(t *testing.T) {
	sel := Selector{Family: AFInet, Src: pfx("10.0.0.0/8"), Dst: pfx("10.1.0.0/16")}
	esel := eroute.Selector{Src: pfx("10.0.0.0/8"), Dst: pfx("10.1.0.0/16")}
	tun := func(dst string, spi uint32) Template {
		a := ip(dst)
		return Template{Family: familyOf(a), Dst: a, Src: unspecified(familyOf(a)), Proto: 50, SPI: spi, Mode: ModeTunnel}
	}
	transport := func(proto uint8, spi uint32) Template {
		return Template{Family: AFInet, Dst: ip("0.0.0.0"), Src: ip("0.0.0.0"), Proto: proto, SPI: spi}
	}
	own := func(saidText string) Policy { return PolicyOf(eroute.Eroute{Selector: esel, SAID: said(t, saidText)}) }
	marked := own("%reject")
	marked.Mark, marked.Mask = 5, 0xff
	withCtx := own("%hold")
	withCtx.SecCtx = true
	passWithTmpl := own("%passthrough6")
	passWithTmpl.Tmpls = []Template{tun("2.2.2.2", 0)}
	otherRank := own("%reject")
	otherRank.Sel.Dst = pfx("10.1.0.0/24")
	hostBits := Policy{Dir: DirOut, Sel: Selector{Family: AFInet, Src: pfx("10.0.0.1/8"), Dst: pfx("10.1.0.0/16")}}
	tests := []struct {
		name string
		p    Policy
		want string
	}{
		{"block", Policy{Dir: DirOut, Sel: sel, Action: ActionBlock}, "%drop"},
		{"block with template", Policy{Dir: DirOut, Sel: sel, Action: ActionBlock, Tmpls: []Template{tun("2.2.2.2", 0)}}, "%drop"},
		{"allow", Policy{Dir: DirOut, Sel: sel}, "%pass"},
		{"ESP tunnel, SPI 0", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{tun("2.2.2.2", 0)}}, "tun0x0@2.2.2.2"},
		{"IPv4 in IPv6", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{tun("3049::1", 0x200)}}, "tun0x200@3049::1"},
		{"transport then tunnel", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{transport(108, 0), tun("3.3.3.3", 0x300)}}, "tun0x300@3.3.3.3"},
		{"two transport", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{transport(51, 0x400), transport(50, 0x401)}}, "ah0x400@0.0.0.0"},
		{"AH tunnel", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{{Family: AFInet, Dst: ip("4.4.4.4"), Proto: 51, Mode: ModeTunnel}}}, "ah0x0@4.4.4.4"},
		{"other protocol", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{transport(43, 0)}}, "proto(43)0x0@0.0.0.0"},
		{"trap made by hand", Policy{Dir: DirOut, Sel: sel, Tmpls: []Template{transport(50, 0)}}, "esp0x0@0.0.0.0"},
		{"our priority with a mark", marked, "%drop"},
		{"our priority with a security context", withCtx, "%drop"},
		{"our priority, other shape", passWithTmpl, "tun0x0@2.2.2.2"},
		{"priority of another rank", otherRank, "%drop"},
		{"host bits kept", hostBits, "%pass"},
	}
	for _, tt := range tests {
		e, ok := erouteOf(tt.p)
		if !ok || e.SAID.String() != tt.want {
			t.Errorf("%s: read as %v (ok %v), want SAID %s", tt.name, e, ok, tt.want)
		}
		if e.Selector.Src != tt.p.Sel.Src || e.Selector.Dst != tt.p.Sel.Dst {
			t.Errorf("%s: selector %v, want %v -> %v", tt.name, e.Selector, tt.p.Sel.Src, tt.p.Sel.Dst)
		}
	}
}

func TestUnmappableSelector(t *testing.T) {
	for _, s := range []Selector{{Family: 0}, {Family: 7}, {Family: AFInet, Src: pfx("10.0.0.0/8")}} {
		if e, ok := erouteOf(Policy{Sel: s}); ok || e != (eroute.Eroute{}) {
			t.Errorf("selector %+v read as %v", s, e)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	policies := []Policy{
		{Sel: Selector{Family: AFInet6, Src: pfx("3049:1::/64"), Dst: pfx("3049:2::/64"), Proto: 17,
			DstPort: 53, DstPortMask: 0xffff, Ifindex: 3, User: 1000},
			Dir: DirFwd, Action: ActionBlock, Flags: 2, Priority: 7, Index: 0x1234, Type: TypeSub,
			Mark: 5, Mask: 0xff, IfID: 9},
		{Sel: Selector{Family: AFInet, Src: pfx("10.0.0.1/8"), Dst: pfx("0.0.0.0/0")}, Dir: DirOut,
			Tmpls: []Template{
				{Family: AFInet, Src: ip("0.0.0.0"), Dst: ip("0.0.0.0"), Proto: 108, Mode: ModeTransport, Optional: true, Calgos: 1},
				{Family: AFInet6, Src: ip("3049::1"), Dst: ip("3049:2::"), Proto: 50, SPI: 0xdeadbeef, Mode: ModeTunnel, Reqid: 42, Share: 1, Aalgos: 3, Ealgos: 4},
			}},
	}
	for _, p := range policies {
		got, err := decodePolicy(encodePolicy(p))
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", p, got, err)
		}
	}
	// The id.spi of the second template, big-endian at offset 16.
	b := encodePolicy(policies[1])
	tmpl2 := sizePolicyInfo + 4 + sizeTmpl
	if w := []byte{0xde, 0xad, 0xbe, 0xef}; !bytes.Equal(b[tmpl2+16:tmpl2+20], w) {
		t.Errorf("spi bytes % x, want % x", b[tmpl2+16:tmpl2+20], w)
	}
}

func TestDecodeIPv6NotGuessed(t *testing.T) {
	// 3049:2::/64 has 12 zero bytes at the end: a family guess reads 48.73.0.2.
	p := PolicyOf(er(t, "3049:2::/64", "3049:2::/64", "tun0x145@3049:2::"))
	got, err := decodePolicy(encodePolicy(p))
	if err != nil || got.Sel.Src != pfx("3049:2::/64") || got.Sel.Dst != pfx("3049:2::/64") || got.Tmpls[0].Dst != ip("3049:2::") {
		t.Errorf("read back %+v, %v", got, err)
	}
}

func TestDecodePolicyAttrs(t *testing.T) {
	base := encodePolicy(PolicyOf(er(t, "10.0.0.0/8", "10.1.0.0/16", "%pass")))
	withCtx := appendAttr(append([]byte(nil), base...), attrSecCtx, []byte{1, 2, 3, 4, 5})
	if p, err := decodePolicy(withCtx); err != nil || !p.SecCtx {
		t.Errorf("security context not seen: %+v, %v", p, err)
	}
	// NLA_F_NESTED and NLA_F_NET_BYTEORDER are not part of the type.
	flagged := appendAttr(append([]byte(nil), base...), attrIfID|0x8000, []byte{7, 0, 0, 0})
	if p, err := decodePolicy(flagged); err != nil || p.IfID != ne.Uint32([]byte{7, 0, 0, 0}) {
		t.Errorf("flagged if_id not read: %+v, %v", p, err)
	}
	truncated := appendAttr(append([]byte(nil), base...), attrTmpl, make([]byte, sizeTmpl))[:len(base)+20]
	if _, err := decodePolicy(truncated); err == nil {
		t.Error("truncated attribute accepted")
	}
	if _, err := decodePolicy(base[:sizePolicyInfo-1]); err == nil {
		t.Error("short message accepted")
	}
}

func TestDecodeSA(t *testing.T) {
	b := make([]byte, 224)
	copy(b[offSADaddr:], ip("3049:2::").AsSlice())
	be.PutUint32(b[offSASPI:], 0x145)
	b[offSAProto] = 50
	ne.PutUint64(b[offSAPackets:], 12)
	ne.PutUint16(b[offSAFamily:], AFInet6)
	k, n, err := decodeSA(b)
	want, _ := saKeyOf(said(t, "tun0x145@3049:2::"))
	if err != nil || k != want || n != 12 {
		t.Errorf("decodeSA = %+v, %d, %v; want %+v, 12", k, n, err, want)
	}
	if _, _, err := decodeSA(b[:minSAInfo-1]); err == nil {
		t.Error("short SA accepted")
	}
}

func TestSAKeyOf(t *testing.T) {
	for _, m := range []eroute.SAID{eroute.Pass, eroute.Drop, eroute.Trap, eroute.Passthrough4, eroute.Passthrough6, {}} {
		if _, ok := saKeyOf(m); ok {
			t.Errorf("%v names an SA", m)
		}
	}
	k, ok := saKeyOf(said(t, "ah0x102@1.2.3.0"))
	if !ok || k != (saKey{dst: ip("1.2.3.0"), spi: 0x102, proto: 51}) {
		t.Errorf("ah SAID key %+v", k)
	}
}

func FuzzDecodePolicy(f *testing.F) {
	for _, e := range roundTripEroutes(f) {
		f.Add(encodePolicy(PolicyOf(e)))
	}
	f.Add(make([]byte, sizePolicyInfo+3))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePolicy(b)
		if err != nil {
			return
		}
		ErouteOf(p)
		if _, err := decodePolicy(encodePolicy(p)); err != nil {
			t.Fatalf("re-encoded policy does not decode: %v", err)
		}
	})
}

// The kind numbers are in every table eroute ever wrote: renumbering one
// would misread existing policies, so each is pinned here.
func TestKindNumbersPinned(t *testing.T) {
	pinned := []struct {
		k    kind
		n    uint32
		said eroute.SAID
	}{
		{kindSA, 0, eroute.SAID{}},
		{kindPass, 1, eroute.Pass},
		{kindPassthrough4, 2, eroute.Passthrough4},
		{kindPassthrough6, 3, eroute.Passthrough6},
		{kindDrop, 4, eroute.Drop},
		{kindReject, 5, eroute.Reject},
		{kindHold, 6, eroute.Hold},
		{kindTrap, 7, eroute.Trap},
		{kindTrapSubnet, 8, eroute.TrapSubnet},
		{kindMonitorHold, 9, eroute.Hold},
	}
	if len(pinned) != numKinds {
		t.Fatalf("%d kinds pinned, numKinds is %d: pin the new kind here", len(pinned), numKinds)
	}
	for _, p := range pinned {
		if uint32(p.k) != p.n {
			t.Errorf("kind %d is now %d: kind numbers are stored in kernel priorities and must not change", p.n, p.k)
		}
		if kindSAIDs[p.k] != p.said {
			t.Errorf("kind %d reads back as %v, want %v", p.n, kindSAIDs[p.k], p.said)
		}
	}
}
