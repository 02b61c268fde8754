package xfrm

import (
	"bytes"
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

func mustSAID(t testing.TB, text string) eroute.SAID {
	t.Helper()
	id, err := eroute.ParseSAID(text, nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testSA is an SA with every field the codec writes.
func testSA(t testing.TB, text, src string) sadb.SA {
	sa := sadb.SA{
		SAID: mustSAID(t, text), Src: netip.MustParseAddr(src),
		Soft: sadb.Limits{Bytes: 1000, AddTime: 60}, Hard: sadb.Limits{Bytes: 2000, Packets: 9, UseTime: 30},
		ReplayWindow: 32, Reqid: 0x300, Tunnel: true,
	}
	switch sa.SAID.Proto {
	case eroute.ProtoESP:
		sa.Enc = &sadb.Alg{Name: "cbc(aes)", Key: bytes.Repeat([]byte{0x11}, 16)}
		sa.Auth = &sadb.Alg{Name: "hmac(sha256)", Key: bytes.Repeat([]byte{0x22}, 32), TruncBits: 128}
		sa.Encap = &sadb.Encap{Type: sadb.EncapNonESP, SrcPort: 4500, DstPort: 4501}
	case eroute.ProtoAH:
		sa.Auth = &sadb.Alg{Name: "hmac(md5)", Key: bytes.Repeat([]byte{0x33}, 16), TruncBits: 96}
	case eroute.ProtoComp:
		sa.Comp = &sadb.Alg{Name: "deflate"}
	}
	return sa
}

// What appendSA writes, decodeState reads back, address families included
// (an IPv6 address with zero tail bytes stays IPv6).
func TestStateRoundTrip(t *testing.T) {
	for _, c := range [][2]string{
		{"esp.300@192.0.2.2", "192.0.2.1"}, {"ah:301@3049:1::", "3049:2::"}, {"comp.302@10.0.0.2", "10.0.0.1"},
	} {
		sa := testSA(t, c[0], c[1])
		got, err := decodeState(appendSA(nil, &sa))
		if err != nil {
			t.Fatalf("%s: %v", c[0], err)
		}
		if !reflect.DeepEqual(got, sa) {
			t.Errorf("%s: read back\n%+v\nwant\n%+v", c[0], got, sa)
		}
	}
}

// A replay window above 32 goes as a bitmap (XFRMA_REPLAY_ESN_VAL), which
// the kernel takes only with replay_window 0 in xfrm_usersa_info.
func TestStateReplayWindow64(t *testing.T) {
	sa := testSA(t, "esp.300@192.0.2.2", "192.0.2.1")
	sa.ReplayWindow = 64
	b := appendSA(nil, &sa)
	if b[offSAReplayWin] != 0 {
		t.Errorf("replay_window in xfrm_usersa_info: %d, want 0", b[offSAReplayWin])
	}
	got, err := decodeState(b)
	if err != nil || got.ReplayWindow != 64 {
		t.Errorf("read back window %d, %v; want 64", got.ReplayWindow, err)
	}
	var esn []byte
	walkAttrs(b[sizeSAInfo:], func(typ uint16, v []byte) {
		if typ == attrReplayESN {
			esn = v
		}
	})
	if len(esn) != sizeReplayES+8 || ne.Uint32(esn) != 2 {
		t.Errorf("ESN attribute %x: want bmp_len 2 and two bitmap words", esn)
	}
}

// Unset byte and packet limits are XFRM_INF: 0 would expire the SA at once.
func TestStateNoLimits(t *testing.T) {
	sa := sadb.SA{SAID: mustSAID(t, "esp.300@192.0.2.2"), Enc: &sadb.Alg{Name: "cbc(aes)", Key: make([]byte, 16)}}
	b := appendSA(nil, &sa)
	for i := 0; i < 4; i++ {
		if v := ne.Uint64(b[offSALft+8*i:]); v != xfrmInf {
			t.Errorf("lft word %d = %#x, want XFRM_INF", i, v)
		}
	}
	for i := 4; i < 8; i++ {
		if v := ne.Uint64(b[offSALft+8*i:]); v != 0 {
			t.Errorf("lft word %d = %d, want 0", i, v)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	for _, c := range [][2]string{{"esp.300@192.0.2.2", "192.0.2.1"}, {"ah:301@3049:1::", "3049:2::"}} {
		sa := testSA(f, c[0], c[1])
		f.Add(appendSA(nil, &sa))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sa, err := decodeState(b)
		if err != nil {
			return
		}
		// A decoded SA encodes without panicking, and its addresses are
		// of the SA's family or invalid.
		appendSA(nil, &sa)
		if sa.Src.IsValid() && sa.SAID.Dst.IsValid() && sa.Src.Is4() != sa.SAID.Dst.Is4() {
			t.Errorf("addresses of two families: %v %v", sa.Src, sa.SAID.Dst)
		}
	})
}

// groupSAs gives the SAs of the group tun.300@gw (an ESP tunnel and AH in
// transport mode) and an ESP tunnel of another group, tun.400@198.51.100.1.
func groupSAs(t *testing.T, gw string) (esp, ah, other sadb.SA) {
	esp = testSA(t, "esp.301@"+gw, "192.0.2.1")
	ah = testSA(t, "ah.302@"+gw, "192.0.2.1")
	ah.Tunnel = false
	other = testSA(t, "esp.401@198.51.100.1", "192.0.2.1")
	other.Reqid = 0x400
	return esp, ah, other
}

// The templates of a group, and reading them back as the head's SAID.
func TestGroupTemplates(t *testing.T) {
	gw := "192.0.2.2"
	esp, ah, other := groupSAs(t, gw)
	sas := []sadb.SA{ah, other, esp}
	ts, ok := groupTemplates(sas, mustSAID(t, "tun.300@"+gw))
	if !ok || len(ts) != 2 {
		t.Fatalf("templates %+v, %v", ts, ok)
	}
	want0 := Template{Family: AFInet, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr(gw), Proto: protoESP,
		Reqid: 0x300, Mode: ModeTunnel, Aalgos: anyAlgos, Ealgos: anyAlgos, Calgos: anyAlgos}
	want1 := Template{Family: AFInet, Src: netip.IPv4Unspecified(), Dst: netip.MustParseAddr(gw), Proto: protoAH,
		Reqid: 0x300, Mode: ModeTransport, Aalgos: anyAlgos, Ealgos: anyAlgos, Calgos: anyAlgos}
	if ts[0] != want0 || ts[1] != want1 {
		t.Errorf("templates\n%+v\nwant\n%+v\n%+v", ts, want0, want1)
	}
	if s, ok := groupSAID(ts); !ok || s != mustSAID(t, "tun.300@"+gw) {
		t.Errorf("groupSAID = %v, %v", s, ok)
	}
	// An eroute to the head is written with them and reads back as itself,
	// as eroute's own.
	e := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")},
		SAID: mustSAID(t, "tun.300@"+gw)}
	p := withGroup(PolicyOf(e), ts)
	v := viewOf(p)
	if got, own, ok := v.eroute(); !ok || !own || got != e {
		t.Errorf("read back %v own %v ok %v; want %v, own", got, own, ok, e)
	}
	// In and forward policies take IPCOMP as optional, never ESP or AH.
	comp := testSA(t, "comp.303@"+gw, "192.0.2.1")
	sas = append(sas, comp)
	sas[2].Tunnel = false // esp is no longer the innermost
	ts, _ = groupTemplates(sas, mustSAID(t, "tun.300@"+gw))
	in := PolicyOf(e)
	in.Dir = DirIn
	in = withGroup(in, ts)
	if len(in.Tmpls) != 3 || !in.Tmpls[0].Optional || in.Tmpls[1].Optional || in.Tmpls[0].Proto != protoComp {
		t.Errorf("in templates %+v", in.Tmpls)
	}
	if out := withGroup(PolicyOf(e), ts); out.Tmpls[0].Optional {
		t.Error("an outbound IPCOMP template is optional")
	}
	// No group: a tunnel SA of reqid 0 (ip xfrm's) is no group.
	plain := testSA(t, "esp.500@"+gw, "192.0.2.1")
	plain.Reqid = 0
	if _, ok := groupTemplates([]sadb.SA{plain}, mustSAID(t, "tun.500@"+gw)); ok {
		t.Error("a tunnel SA of reqid 0 made a group")
	}
}

// groupHeads groups the SAs once, with every head groupTemplates finds,
// and nothing for SAs that make no group.
func TestGroupHeads(t *testing.T) {
	gw := "192.0.2.2"
	esp, ah, other := groupSAs(t, gw)
	plain := testSA(t, "esp.500@"+gw, "192.0.2.1")
	plain.Reqid = 0
	sas := []sadb.SA{ah, plain, other, esp}
	heads := groupHeads(sas)
	if len(heads) != 2 {
		t.Errorf("heads %v, want tun.300@%s and tun.400@198.51.100.1", heads, gw)
	}
	for _, s := range []string{"tun.300@" + gw, "tun.400@198.51.100.1"} {
		want, ok := groupTemplates(sas, mustSAID(t, s))
		if got := heads[mustSAID(t, s)]; !ok || !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("heads[%s] = %+v, want %+v", s, got, want)
		}
	}
	if h := groupHeads([]sadb.SA{plain}); h != nil {
		t.Errorf("groupHeads of a plain SA: %v", h)
	}
}

// Templates that are not a group's read back as before.
func TestGroupSAIDRefuses(t *testing.T) {
	base := Template{Family: AFInet, Dst: netip.MustParseAddr("192.0.2.2"), Proto: protoESP, Reqid: 0x300, Mode: ModeTunnel}
	for name, ts := range map[string][]Template{
		"spi":         {func() Template { t := base; t.SPI = 0x300; return t }()},
		"small reqid": {func() Template { t := base; t.Reqid = 1; return t }()},
		"two reqids":  {base, func() Template { t := base; t.Reqid = 0x301; t.Proto = protoAH; t.Mode = ModeTransport; return t }()},
		"ah then esp": {func() Template { t := base; t.Proto = protoAH; return t }(), func() Template { t := base; t.Mode = ModeTransport; return t }()},
		"two tunnels": {base, func() Template { t := base; t.Proto = protoAH; return t }()},
		"none":        {},
		"protocol 4":  {func() Template { t := base; t.Proto = 4; return t }()},
	} {
		if s, ok := groupSAID(ts); ok {
			t.Errorf("%s: read as group %v", name, s)
		}
	}
}

// What no spi option sets is named in Unsaid (so --save writes a comment);
// the SAs appendSA makes, tunnel or transport, name nothing.
func TestStateUnsaid(t *testing.T) {
	sa := testSA(t, "esp.300@192.0.2.2", "192.0.2.1")
	tunnel := sa
	tunnel.Tunnel, tunnel.Reqid = true, 0x300
	for _, s := range []sadb.SA{sa, tunnel} {
		if got, _ := decodeState(appendSA(nil, &s)); got.Unsaid != "" {
			t.Errorf("tunnel %v: Unsaid %q", s.Tunnel, got.Unsaid)
		}
	}
	b := appendSA(nil, &sa)
	b[offSASelPrefixes] = 24
	b[offSAFlags] |= 0x80 // XFRM_STATE_ESN
	b = appendAttr(b, attrMark, []byte{5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	b = appendAttr(b, attrIfID, []byte{0, 0, 0, 0}) // if_id 0 is none
	got, err := decodeState(b)
	if want := "a selector, state flags 0x80, a mark"; err != nil || got.Unsaid != want {
		t.Errorf("Unsaid %q, %v; want %q", got.Unsaid, err, want)
	}
}
