package xfrm

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// ownRecordSeeds gives the messages of eroute's own policies of every
// kind and shape, and of policies it must leave to the general path.
func ownRecordSeeds(t testing.TB) [][]byte {
	var ps []Policy
	es := roundTripEroutes(t)
	for i := 0; i < 64; i++ {
		es = append(es, genEroute(i))
	}
	for _, e := range es {
		ps = append(ps, PolicyOf(e))
	}
	ps = append(ps, foreignTestPolicies()...)
	ps = append(ps, holdPolicy(holdFor(genEroute(2).Selector), 9), holdPolicy(holdFor(genEroute(3).Selector), 0))
	ps = append(ps, nearOwnPolicies()...)
	msgs := make([][]byte, len(ps))
	for i, p := range ps {
		p.Index = uint32(8*i + 1)
		msgs[i] = encodePolicy(p)
	}
	return append(msgs, longPrefixMessage())
}

// nearOwnPolicies are policies one field away from eroute's own, of a
// priority that still fits their selector: foreign, but only just.
func nearOwnPolicies() []Policy {
	own := func(change func(p *Policy)) Policy {
		p := PolicyOf(genEroute(6)) // esp0x1006@192.0.2.6
		change(&p)
		return p
	}
	withPort := func(change func(p *Policy)) Policy {
		p := PolicyOf(withPorts(genEroute(10), 6, 0, 110))
		change(&p)
		return p
	}
	tunNoSPI := eroute.Eroute{Selector: genEroute(10).Selector, SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 1, Dst: netip.IPv4Unspecified()}}
	return []Policy{
		PolicyOf(tunNoSPI), // an SPI of 0 makes it %passthrough4's shape
		own(func(p *Policy) { p.Tmpls[0].Reqid = 0x1234 }), // an SA group of one
		own(func(p *Policy) { p.Mask = 5 }),
		own(func(p *Policy) { p.Mark = 5 }),
		own(func(p *Policy) { p.IfID = 5 }),
		own(func(p *Policy) { p.Type = TypeSub }),
		own(func(p *Policy) { p.Tmpls = append(p.Tmpls, p.Tmpls[0]) }),
		own(func(p *Policy) { p.Tmpls = nil }),
		own(func(p *Policy) { p.Action = ActionBlock }),
		own(func(p *Policy) { p.Tmpls[0].Src = netip.MustParseAddr("192.0.2.1") }),
		withPort(func(p *Policy) { p.Sel.DstPort = 0 }),
		withPort(func(p *Policy) { p.Sel.DstPortMask = 0xff00 }),
		withPort(func(p *Policy) { p.Sel.DstPort, p.Sel.DstPortMask = 0, 0 }),
		own(func(p *Policy) { p.Sel.DstPortMask = 0xffff }), // no port, all of its mask
	}
}

// longPrefixMessage is the message of an IPv4 eroute of its own with a
// source prefix of 33 bits, under the priority that length would have:
// not a prefix netip (or the listing) takes.
func longPrefixMessage() []byte {
	e := genEroute(0) // 10.0.0.0/32 -> 11.0.0.0/32
	b := encodePolicy(PolicyOf(e))
	b[offSelSbits]++
	ne.PutUint32(b[offPolicyPriority:], ne.Uint32(b[offPolicyPriority:])-8*129*prioStep)
	return b
}

// checkOwnRecord: add (the fast path first) makes of b exactly what the
// general path alone makes, with and without keepOrder.
func checkOwnRecord(t *testing.T, b []byte) {
	t.Helper()
	for _, keepOrder := range []bool{false, true} {
		fast, general := recordScan{keepOrder: keepOrder}, recordScan{keepOrder: keepOrder}
		fast.add(msgNewPolicy, b)
		general.addGeneral(b)
		same := slices.Equal(fast.d.recs, general.d.recs) && slices.Equal(fast.d.order, general.d.order) &&
			reflect.DeepEqual(fast.d.details, general.d.details)
		if !same || fast.names != general.names || fast.unnamed != general.unnamed {
			t.Fatalf("keepOrder %v: add gives\n%+v names %v\nthe general path\n%+v names %v\nfor %x",
				keepOrder, fast.d, fast.names, general.d, general.names, b)
		}
	}
}

// TestOwnRecordTaken: every policy eroute writes takes the fast path, and
// gives there the record the general path gives.
func TestOwnRecordTaken(t *testing.T) {
	es := roundTripEroutes(t)
	for i := 0; i < 2000; i++ {
		es = append(es, genEroute(i))
	}
	for i, e := range es {
		p := PolicyOf(e)
		p.Index = uint32(i)
		b := encodePolicy(p)
		var r record
		if _, ok := ownRecord(b, &r); !ok {
			t.Fatalf("%v: not read by ownRecord", e)
		}
		checkOwnRecord(t, b)
	}
}

// TestOwnRecordMutated: every message of ownRecordSeeds with any one byte
// changed gives the same records both ways (the fast path must refuse
// whatever makes a policy foreign, or read it as the general path does).
func TestOwnRecordMutated(t *testing.T) {
	for _, m := range ownRecordSeeds(t) {
		checkOwnRecord(t, m)
		b := append([]byte(nil), m...)
		for i := range b {
			for _, x := range []byte{0, 1, 2, 0xff, m[i] ^ 1, m[i] ^ 0x80, m[i] + 16, m[i] - 16} {
				b[i] = x
				checkOwnRecord(t, b)
			}
			b[i] = m[i]
		}
		for n := range len(m) {
			checkOwnRecord(t, m[:n])
		}
	}
}

func FuzzOwnRecord(f *testing.F) {
	for _, m := range ownRecordSeeds(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkOwnRecord(t, b)
	})
}

// BenchmarkOwnRecord is the fast path's work per policy of a listing (see
// BenchmarkScanPolicy for the general path's).
func BenchmarkOwnRecord(b *testing.B) {
	msgs := benchMessages(1024)
	var r record
	for i := 0; i < b.N; i++ {
		if _, ok := ownRecord(msgs[i%len(msgs)], &r); !ok {
			b.Fatal("not own")
		}
	}
}
