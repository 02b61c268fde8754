package xfrm

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// The SA events' messages, built as xfrm_user.c builds them: NEWSA the SA
// and its attributes; EXPIRE xfrm_user_expire (the SA, hard, padding to
// 232 bytes) then the mark and if_id; DELSA an xfrm_usersa_id, the SA in
// XFRMA_SA and its other attributes beside it; FLUSHSA the protocol.
// TestKernelListenSAs reads the kernel's own (on a kernel with ESP: the VM
// suite's).

func eventSA() sadb.SA {
	return sadb.SA{
		SAID:  eroute.SAID{Proto: eroute.ProtoESP, SPI: 0x100, Dst: netip.MustParseAddr("2001:db8::2")},
		Src:   netip.MustParseAddr("2001:db8::1"),
		Enc:   &sadb.Alg{Name: "cbc(aes)", Key: make([]byte, 16)},
		Auth:  &sadb.Alg{Name: "hmac(sha256)", Key: make([]byte, 32), TruncBits: 128},
		Reqid: 7, Tunnel: true,
		Soft: sadb.Limits{AddTime: 1}, Hard: sadb.Limits{AddTime: 2},
	}
}

func scopeAttrs(mark, mask, ifID uint32) []byte {
	var m, i [8]byte
	ne.PutUint32(m[:], mark)
	ne.PutUint32(m[4:], mask)
	ne.PutUint32(i[:], ifID)
	return appendAttr(appendAttr(nil, attrMark, m[:]), attrIfID, i[:4])
}

// saMessages gives the payloads of NEWSA, EXPIRE (hard), DELSA and FLUSHSA.
func saMessages() map[uint16][]byte {
	sa := eventSA()
	newSA := appendSA(nil, &sa)
	info, algs := newSA[:sizeSAInfo], newSA[sizeSAInfo:]
	expire := append(append([]byte(nil), info...), make([]byte, sizeUserExpire-sizeSAInfo)...)
	expire[offExpireHard] = 1
	del := appendSAID(nil, sa.SAID)
	del = appendAttr(del, attrSA, info)
	return map[uint16][]byte{
		msgNewSA:   append(append([]byte(nil), newSA...), scopeAttrs(5, 0xff, 9)...),
		msgExpire:  append(expire, scopeAttrs(5, 0xff, 9)...),
		msgDelSA:   append(append(del, algs...), scopeAttrs(5, 0xff, 9)...),
		msgFlushSA: {protoESP, 0, 0, 0},
	}
}

func TestDecodeSAEvents(t *testing.T) {
	want := eventSA()
	msgs := saMessages()
	sameSA := func(what string, got sadb.SA, algs bool) {
		t.Helper()
		w := want
		if !algs {
			w.Enc, w.Auth = nil, nil
		}
		got.Unsaid = ""
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: SA\n%+v, want\n%+v", what, got, w)
		}
	}
	ev, err := decodeEvent(msgNewSA, msgs[msgNewSA])
	if c, ok := ev.(*SAChange); err != nil || !ok || c.Deleted || c.Mark != 5 || c.Mask != 0xff || c.IfID != 9 {
		t.Fatalf("NEWSA: %#v, %v", ev, err)
	} else {
		sameSA("NEWSA", c.SA, true)
	}
	ev, err = decodeEvent(msgExpire, msgs[msgExpire])
	if e, ok := ev.(*SAExpire); err != nil || !ok || !e.Hard || e.Mark != 5 || e.IfID != 9 {
		t.Fatalf("EXPIRE: %#v, %v", ev, err)
	} else {
		sameSA("EXPIRE", e.SA, false)
	}
	ev, err = decodeEvent(msgDelSA, msgs[msgDelSA])
	if c, ok := ev.(*SAChange); err != nil || !ok || !c.Deleted || c.Mark != 5 || c.IfID != 9 {
		t.Fatalf("DELSA: %#v, %v", ev, err)
	} else {
		sameSA("DELSA", c.SA, true)
	}
	ev, err = decodeEvent(msgFlushSA, msgs[msgFlushSA])
	if f, ok := ev.(*SAFlush); err != nil || !ok || f.Proto != protoESP {
		t.Fatalf("FLUSHSA: %#v, %v", ev, err)
	}
	soft := append([]byte(nil), msgs[msgExpire]...)
	soft[offExpireHard] = 0
	if ev, err := decodeEvent(msgExpire, soft); err != nil || ev.(*SAExpire).Hard {
		t.Errorf("soft EXPIRE: %#v, %v", ev, err)
	}
}

// Cut short, an SA message is an error (or, past its fixed part, decodes
// as leniently as decodePolicy), never a panic; a DELSA without the SA is
// an error.
func TestDecodeSAEventsTruncated(t *testing.T) {
	fixed := map[uint16]int{msgNewSA: minSAInfo, msgExpire: sizeUserExpire, msgDelSA: sizeSAID + 4 + sizeSAInfo, msgFlushSA: 1}
	for typ, b := range saMessages() {
		for n := range fixed[typ] {
			if ev, err := decodeEvent(typ, b[:n]); err == nil {
				t.Errorf("type %#x: %d of %d bytes decoded: %#v", typ, n, len(b), ev)
			}
		}
		for n := fixed[typ]; n <= len(b); n++ {
			decodeEvent(typ, b[:n])
		}
	}
	if _, err := decodeEvent(msgDelSA, appendSAID(nil, eventSA().SAID)); err != errNoSA {
		t.Errorf("DELSA without XFRMA_SA: %v", err)
	}
}

// A Listener leaves out the types it was not asked for, though the group
// it joined carries them: Listen's default hears policy expiries, not the
// SAs'; SAExpires alone hears the SAs', not the policies'.
func TestListenSkip(t *testing.T) {
	pe := readTestdata(t, "polexpire-hold.bin")
	d := append(nlmsg(msgExpire, saMessages()[msgExpire]), nlmsg(msgPolExpire, pe)...)
	kinds := func(o ListenOptions) []string {
		var ks []string
		for _, ev := range appendEvents(nil, d, o.skip()) {
			ks = append(ks, reflect.TypeOf(ev).Elem().Name())
		}
		return ks
	}
	for _, c := range []struct {
		o    ListenOptions
		want []string
	}{
		{ListenOptions{}, []string{"PolicyExpire"}},
		{ListenOptions{Expires: true}, []string{"PolicyExpire"}},
		{ListenOptions{SAExpires: true}, []string{"SAExpire"}},
		{ListenOptions{Expires: true, SAExpires: true}, []string{"SAExpire", "PolicyExpire"}},
	} {
		if got := kinds(c.o); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.o, got, c.want)
		}
	}
	if g := (ListenOptions{SAs: true}).groups(); g != 1<<(grpSA-1) {
		t.Errorf("SAs joins %#x", g)
	}
	if g := (ListenOptions{SAExpires: true}).groups(); g != 1<<(grpExpire-1) {
		t.Errorf("SAExpires joins %#x", g)
	}
}
