package xfrm

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// TestOwnIndex checks the index against a map through adds, replaces and
// deletes across several merges, with every kind of SAID.
func TestOwnIndex(t *testing.T) {
	saids := []eroute.SAID{
		eroute.Trap, eroute.Pass, eroute.Passthrough6, eroute.Drop, eroute.Hold, eroute.TrapSubnet,
		{Proto: eroute.ProtoTun, SPI: 0x135, Dst: netip.MustParseAddr("192.168.0.2")},
		{Proto: eroute.ProtoESP, SPI: 0x101, Dst: netip.MustParseAddr("3049:1::2")},
		{Proto: eroute.ProtoAH, SPI: 0xffffffff, Dst: netip.MustParseAddr("10.0.0.1")},
		{Proto: eroute.ProtoComp, SPI: 0x200},
	}
	x := newOwnIndex(0)
	want := map[uint32]eroute.SAID{}
	for i := uint32(0); i < 3000; i++ { // the base, as a dump gives it: unsorted
		index := (i*7919)%100000*8 + 1
		s := saids[int(i)%len(saids)]
		x.appendBase(index, x.refOf(s, kindOf(s)))
		want[index] = s
	}
	x.sortBase()
	r := rand.New(rand.NewSource(1))
	for step := 0; step < 20000; step++ {
		index := uint32(r.Intn(100000))*8 + 1
		if r.Intn(3) == 0 {
			x.remove(index)
			delete(want, index)
		} else {
			s := saids[r.Intn(len(saids))]
			x.set(index, s, kindOf(s))
			want[index] = s
		}
		if step%997 == 0 {
			checkOwnIndex(t, x, want)
		}
	}
	checkOwnIndex(t, x, want)
	if len(x.overlay) >= max(1024, len(x.base)/2) {
		t.Errorf("overlay of %d entries beside a base of %d: not merged", len(x.overlay), len(x.base))
	}
}

func checkOwnIndex(t *testing.T, x *ownIndex, want map[uint32]eroute.SAID) {
	t.Helper()
	if x.len() != len(want) {
		t.Fatalf("len %d, want %d", x.len(), len(want))
	}
	for index, s := range want {
		if got, ok := x.get(index); !ok || got != s {
			t.Fatalf("index %d: %v %v, want %v", index, got, ok, s)
		}
	}
	for _, index := range []uint32{0, 2, 800001} {
		if s, ok := x.get(index); ok {
			t.Fatalf("index %d never set: %v", index, s)
		}
	}
}

// TestOwnIndexSize: a million IPv4 tun eroutes fit in 8 bytes each and 10
// for their SAIDs.
func TestOwnIndexSize(t *testing.T) {
	const n = 1000000
	x := newOwnIndex(n)
	for i := uint32(0); i < n; i++ {
		s := eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x100 + i, Dst: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})}
		x.appendBase(i*8+1, x.refOf(s, kindSA))
	}
	x.sortBase()
	if size := cap(x.base)*8 + cap(x.saids); size > 20<<20 {
		t.Errorf("%d bytes for %d eroutes", size, n)
	}
	if s, _ := x.get(8*12345 + 1); s.SPI != 0x100+12345 || s.Dst != netip.MustParseAddr("10.0.48.57") {
		t.Errorf("entry 12345: %v", s)
	}
}

func TestStateLines(t *testing.T) {
	for _, e := range []eroute.Eroute{
		{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}, SAID: eroute.Trap},
		{Selector: eroute.Selector{Src: netip.MustParsePrefix("3049:1::1/128"), Dst: netip.MustParsePrefix("3049:2::/64"), Proto: 6, DstPort: 22},
			SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x145, Dst: netip.MustParseAddr("3049:1::2")}},
		{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.5/32")}, SAID: eroute.Passthrough4},
	} {
		line := fmt.Sprintf("%d %s", 4242, stateLine(e))
		index, got, err := parseStateLine(line)
		if err != nil || index != 4242 || got != e {
			t.Errorf("%q read as %d %v, %v; want %v", line, index, got, err, e)
		}
	}
	for _, bad := range []string{"", "1 10.0.0.0/8 10.1.0.0/16 0 0 0", "x 10.0.0.0/8 10.1.0.0/16 0 0 0 %trap",
		"1 10.0.0.1/8 10.1.0.0/16 0 0 0 %trap", "1 10.0.0.0/8 10.1.0.0/16 300 0 0 %trap", "1 10.0.0.0/8 10.1.0.0/16 0 0 0 %bogus"} {
		if _, e, err := parseStateLine(bad); err == nil {
			t.Errorf("%q accepted as %v", bad, e)
		}
	}
}

func FuzzParseStateLine(f *testing.F) {
	f.Add("4242 10.1.0.0/16 10.2.0.0/16 0 0 0 %trap")
	f.Add("1 3049:1::1/128 3049:2::/64 6 0 22 tun0x145@3049:1::2")
	f.Fuzz(func(t *testing.T, line string) {
		index, e, err := parseStateLine(line)
		if err != nil {
			return
		}
		again, e2, err := parseStateLine(fmt.Sprintf("%d %s", index, stateLine(e)))
		if err != nil || again != index || e2 != e {
			t.Errorf("%q: %v, written back read as %d %v, %v", line, e, again, e2, err)
		}
		if strings.ContainsAny(stateLine(e), "\n") {
			t.Errorf("%v writes a line break", e)
		}
	})
}

// TestDecodeDeletedPolicy reads a DELPOLICY notification as the kernel
// writes it: xfrm_userpolicy_id, the policy in XFRMA_POLICY, then its
// templates and mark beside it.
func TestDecodeDeletedPolicy(t *testing.T) {
	p := PolicyOf(eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")},
		SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x135, Dst: netip.MustParseAddr("192.168.0.2")}})
	p.Index, p.Mark, p.Mask = 4242, 1, 0xff
	info := encodePolicy(Policy{Sel: p.Sel, Dir: p.Dir, Priority: p.Priority, Index: p.Index})
	b := encodePolicyID(Policy{Dir: p.Dir})[:sizePolicyID]
	b = appendAttr(b, attrPolicy, info)
	full := encodePolicy(p)
	b = append(b, full[sizePolicyInfo:]...) // the templates and the mark
	got, err := decodeDeletedPolicy(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != 4242 || got.Sel != p.Sel || got.Priority != p.Priority || got.Mark != 1 || got.Mask != 0xff ||
		len(got.Tmpls) != 1 || got.Tmpls[0] != p.Tmpls[0] {
		t.Errorf("decoded %+v\nwant %+v", got, p)
	}
	ev, err := decodeEvent(msgDelPolicy, b)
	if pc, ok := ev.(*PolicyChange); err != nil || !ok || !pc.Deleted || pc.Policy.Index != 4242 {
		t.Errorf("decodeEvent: %#v, %v", ev, err)
	}
	for n := 0; n < len(b); n++ {
		decodeDeletedPolicy(b[:n]) // never panics
	}
}

// FuzzDecodeEvent: no notification a listener reads makes it panic.
func FuzzDecodeEvent(f *testing.F) {
	p := PolicyOf(eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")}, SAID: eroute.Trap})
	f.Add(uint16(msgUpdPolicy), encodePolicy(p))
	f.Add(uint16(msgDelPolicy), appendAttr(make([]byte, sizePolicyID), attrPolicy, encodePolicy(p)))
	f.Add(uint16(msgFlushPol), []byte{})
	f.Fuzz(func(t *testing.T, typ uint16, b []byte) {
		if ev, err := decodeEvent(typ, b); err == nil && ev != nil {
			if pc, ok := ev.(*PolicyChange); ok {
				ErouteOf(pc.Policy)
				IsMonitorHold(pc.Policy)
			}
		}
		appendEvents(nil, b, 0)
	})
}
