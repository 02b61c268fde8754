package xfrm

import (
	"cmp"
	"math/rand"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// genEroute gives the i-th of a family of distinct eroutes: host-to-host
// (/32, /128) and subnet selectors, IPv4 and IPv6, with ports now and then,
// and every kind of SAID.
func genEroute(i int) eroute.Eroute {
	c, a, b := byte(i>>16), byte(i>>8), byte(i) // distinct up to 2^24
	var e eroute.Eroute
	switch i % 4 {
	case 0:
		e.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, c, a, b}), 32)
		e.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{11, c, a, b}), 32)
	case 1:
		e.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte{12, c, a, b}), 32)
		e.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16 + a%16, b, 0}), 24)
	case 2:
		e.Src = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 1, 13: c, 14: a, 15: b}), 128)
		e.Dst = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 2, 13: c, 14: a, 15: b}), 128)
	case 3:
		e.Src = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 3, 5: c, 6: a, 7: b}), 64)
		e.Dst = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 4, 4: a, 5: b}), 48)
	}
	if i%7 == 3 {
		e.Proto, e.DstPort = eroute.TCP, uint16(1+i%1000)
	}
	e.SAID = genSAID(i, e.Src.Addr().Is6())
	return e
}

func genSAID(i int, v6 bool) eroute.SAID {
	peer := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
	if v6 {
		peer = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	switch i % 11 {
	case 1:
		return eroute.Pass
	case 2:
		return eroute.Drop
	case 3:
		return eroute.Trap
	case 4:
		return eroute.Hold
	case 5:
		return eroute.Reject
	case 6:
		return eroute.SAID{Proto: eroute.ProtoESP, SPI: 0x1000 + uint32(i), Dst: peer}
	case 7:
		if v6 {
			return eroute.Passthrough6
		}
		return eroute.Passthrough4
	}
	return eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x1000 + uint32(i), Dst: peer}
}

// testEroutes gives n eroutes of every shape: both families, host and
// subnet selectors, ports, every SAID; with repeated selectors (as marks
// and if_ids give a listing) when dups is set.
func testEroutes(n int, dups bool, seed int64) []eroute.Eroute {
	r := rand.New(rand.NewSource(seed))
	es := make([]eroute.Eroute, 0, n)
	for len(es) < n {
		var e eroute.Eroute
		if r.Intn(2) == 0 {
			a := netip.AddrFrom4([4]byte{10, byte(r.Intn(4)), byte(r.Intn(256)), byte(r.Intn(256))})
			b := netip.AddrFrom4([4]byte{10, byte(r.Intn(4)), byte(r.Intn(256)), byte(r.Intn(256))})
			e.Src = netip.PrefixFrom(a, []int{0, 8, 24, 32}[r.Intn(4)]).Masked()
			e.Dst = netip.PrefixFrom(b, []int{8, 16, 32}[r.Intn(3)]).Masked()
		} else {
			a := netip.AddrFrom16([16]byte{0x30, 0x49, 0, byte(r.Intn(3)), 15: byte(r.Intn(256))})
			b := netip.AddrFrom16([16]byte{0x30, 0x49, 0, byte(r.Intn(3)), 15: byte(r.Intn(256))})
			e.Src = netip.PrefixFrom(a, []int{0, 48, 64, 128}[r.Intn(4)]).Masked()
			e.Dst = netip.PrefixFrom(b, []int{64, 128}[r.Intn(2)]).Masked()
		}
		if r.Intn(4) == 0 {
			e.Proto = []uint8{eroute.TCP, eroute.UDP}[r.Intn(2)]
			e.SrcPort, e.DstPort = uint16(r.Intn(3)), uint16(r.Intn(3))
		}
		e.SAID = genSAID(r.Intn(22), e.Src.Addr().Is6())
		if r.Intn(5) == 0 {
			e.SAID.Dst = netip.AddrFrom4([4]byte{1, 2, 3, byte(r.Intn(3))})
		}
		es = append(es, e)
		if dups && r.Intn(3) == 0 {
			d := e
			d.SAID = genSAID(r.Intn(22), e.Src.Addr().Is6())
			es = append(es, d, e)
		}
	}
	return es[:n]
}

func TestRecordRoundTrip(t *testing.T) {
	es := append(roundTripEroutes(t), testEroutes(2000, false, 1)...)
	for _, e := range es {
		r := recordOf(e, recOwn, 7)
		if got := r.eroute(); got != e {
			t.Errorf("record of %v reads back as %v", e, got)
		}
	}
}

// TestSortRecords checks the hand-written sort against compareRecords and
// against List's order of eroutes: selector, then SAID text.
func TestSortRecords(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 13, 100, 5000, 40000} {
		for seed := int64(0); seed < 3; seed++ {
			es := testEroutes(n, true, seed)
			rs := make([]record, len(es))
			for i, e := range es {
				rs[i] = recordOf(e, uint8(i%4), uint32(i))
			}
			want := slices.Clone(rs)
			slices.SortStableFunc(want, func(a, b record) int { return compareRecords(&a, &b) })
			sortRecords(rs)
			if !slices.Equal(rs, want) {
				t.Fatalf("n=%d seed=%d: sortRecords differs from a stable sort by compareRecords", n, seed)
			}
			for i := 1; i < len(rs); i++ {
				a, b := rs[i-1].eroute(), rs[i].eroute()
				c := cmp.Or(eroute.Compare(a.Selector, b.Selector), strings.Compare(a.SAID.String(), b.SAID.String()))
				if c > 0 {
					t.Fatalf("n=%d: %v listed before %v", n, a, b)
				}
			}
		}
	}
	// Sorted, reversed and equal inputs: the cases a quicksort can go wrong on.
	es := testEroutes(3000, false, 9)
	rs := make([]record, len(es))
	for i, e := range es {
		rs[i] = recordOf(e, 0, uint32(i))
	}
	sortRecords(rs)
	slices.Reverse(rs)
	sortRecords(rs)
	if !slices.IsSortedFunc(rs, func(a, b record) int { return compareRecords(&a, &b) }) {
		t.Error("reversed input not sorted")
	}
	same := make([]record, 1000)
	for i := range same {
		same[i] = recordOf(es[0], 0, uint32(1000-i))
	}
	sortRecords(same)
	if !slices.IsSortedFunc(same, func(a, b record) int { return compareRecords(&a, &b) }) {
		t.Error("equal selectors not sorted by dump position")
	}
}

// TestScanPolicyMatchesDecode: the streaming decoder reads what the full
// one reads, and gives the same eroute.
func TestScanPolicyMatchesDecode(t *testing.T) {
	var msgs [][]byte
	for _, e := range append(roundTripEroutes(t), testEroutes(500, false, 2)...) {
		msgs = append(msgs, encodePolicy(PolicyOf(e)))
	}
	for _, p := range foreignTestPolicies() {
		msgs = append(msgs, encodePolicy(p))
	}
	msgs = append(msgs, encodePolicy(holdPolicy(holdFor(genEroute(1).Selector), 30)))
	for _, m := range msgs {
		checkScan(t, m)
	}
}

// foreignTestPolicies are shapes eroute never writes.
func foreignTestPolicies() []Policy {
	sel := Selector{Family: AFInet, Src: pfx("10.0.0.0/8"), Dst: pfx("10.1.0.0/16")}
	tun := Template{Family: AFInet6, Dst: ip("3049::1"), Src: ip("3049::2"), Proto: protoESP, Mode: ModeTunnel, SPI: 9}
	tr := Template{Family: AFInet, Dst: ip("1.1.1.1"), Src: ip("0.0.0.0"), Proto: protoComp}
	return []Policy{
		{Sel: sel, Dir: DirOut, Tmpls: []Template{tr, tun}},
		{Sel: sel, Dir: DirOut, Mark: 5, Mask: 0xff, Action: ActionBlock},
		{Sel: sel, Dir: DirOut, IfID: 7, Tmpls: []Template{tun, tr, tun}},
		{Sel: sel, Dir: DirIn, Type: TypeSub, Priority: PrioBase},
		{Sel: Selector{Family: AFInet, Src: pfx("10.0.0.1/8"), Dst: pfx("10.1.0.0/16"), Ifindex: 3}, Dir: DirOut},
		{Sel: Selector{Family: 7}, Dir: DirOut},
	}
}

func checkScan(t *testing.T, m []byte) {
	t.Helper()
	p, derr := decodePolicy(m)
	var v policyView
	serr := scanPolicy(m, &v)
	if (derr == nil) != (serr == nil) {
		t.Fatalf("decodePolicy: %v, scanPolicy: %v", derr, serr)
	}
	if derr != nil {
		return
	}
	want := viewOf(p)
	want.AddTime = v.AddTime // scanPolicy leaves it out
	if !viewEqual(v, want) {
		t.Fatalf("scanPolicy:\n%+v\nwant\n%+v", v, want)
	}
	e, own, ok := v.eroute()
	we, wok := erouteOf(p)
	if ok != wok || e != we {
		t.Fatalf("scanned eroute %v %v, decoded %v %v", e, ok, we, wok)
	}
	if wantOwn := samePolicyShape(PolicyOf(e), p) || holdOf(p); ok && own != wantOwn {
		t.Fatalf("own %v, want %v, for %+v", own, wantOwn, p)
	}
}

func viewEqual(a, b policyView) bool {
	return a.Policy.Sel == b.Policy.Sel && a.Dir == b.Dir && a.Action == b.Action && a.Flags == b.Flags &&
		a.Priority == b.Priority && a.Index == b.Index && a.Type == b.Type && a.Mark == b.Mark &&
		a.Mask == b.Mask && a.IfID == b.IfID && a.SecCtx == b.SecCtx && a.HardAddExpires == b.HardAddExpires &&
		a.nTmpls == b.nTmpls && a.first == b.first && a.tunnel == b.tunnel && a.hasTunnel == b.hasTunnel
}

// samePolicyShape compares what ErouteOf compares to call a policy eroute's.
func samePolicyShape(want, got Policy) bool {
	return want.Sel == got.Sel && want.Dir == got.Dir && want.Type == got.Type &&
		want.Action == got.Action && want.Priority == got.Priority && want.Mark == got.Mark &&
		want.Mask == got.Mask && want.IfID == got.IfID && want.HardAddExpires == got.HardAddExpires &&
		!got.SecCtx && slices.Equal(want.Tmpls, got.Tmpls)
}

func holdOf(p Policy) bool { _, ok := HoldOf(p); return ok }

func FuzzScanPolicy(f *testing.F) {
	for _, e := range roundTripEroutes(f) {
		f.Add(encodePolicy(PolicyOf(e)))
	}
	for _, p := range foreignTestPolicies() {
		f.Add(encodePolicy(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScan(t, b)
	})
}

// TestAppendPolicyInPlace: the append forms write what the encoders write,
// after whatever the buffer already holds.
func TestAppendPolicyInPlace(t *testing.T) {
	for _, p := range append(foreignTestPolicies(), PolicyOf(genEroute(3)), holdPolicy(holdFor(genEroute(2).Selector), 9)) {
		prefix := []byte("xyz")
		got := appendPolicy(slices.Clone(prefix), &p)
		if want := append(slices.Clone(prefix), encodePolicy(p)...); !slices.Equal(got, want) {
			t.Errorf("appendPolicy(%+v) differs from encodePolicy", p)
		}
		got = appendPolicyID(slices.Clone(prefix), &p)
		if want := append(slices.Clone(prefix), encodePolicyID(p)...); !slices.Equal(got, want) {
			t.Errorf("appendPolicyID(%+v) differs from encodePolicyID", p)
		}
	}
}

// Benchmarks of the per-policy work of a batch (encoding) and of a listing
// (decoding, reading back as an eroute, packing, sorting).

func benchMessages(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = encodePolicy(PolicyOf(genEroute(i)))
	}
	return msgs
}

func BenchmarkEncodePolicy(b *testing.B) {
	es := make([]eroute.Eroute, 1024)
	for i := range es {
		es[i] = genEroute(i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = encodePolicy(PolicyOf(es[i%len(es)]))
	}
}

// BenchmarkAppendPolicy is what Apply does per op: into a reused buffer.
func BenchmarkAppendPolicy(b *testing.B) {
	es := make([]eroute.Eroute, 1024)
	for i := range es {
		es[i] = genEroute(i)
	}
	var tmpl [1]Template
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, t, ok := shapeOf(es[i%len(es)])
		if ok {
			tmpl[0] = t
			p.Tmpls = tmpl[:]
		}
		buf = appendPolicy(buf[:0], &p)
	}
}

func BenchmarkDecodePolicy(b *testing.B) {
	msgs := benchMessages(1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, _ := decodePolicy(msgs[i%len(msgs)])
		_ = ErouteOf(p)
	}
}

// BenchmarkScanPolicy is what a listing does per policy of the dump.
func BenchmarkScanPolicy(b *testing.B) {
	msgs := benchMessages(1024)
	var v policyView
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = scanPolicy(msgs[i%len(msgs)], &v)
		e, own, _ := v.eroute()
		_ = recordOf(e, boolByte(own)|boolByte(v.deletable(e.Selector))<<1, uint32(i))
	}
}

// shuffledRecords gives n records of genEroute, in a shuffled order.
func shuffledRecords(n int) []record {
	es := make([]eroute.Eroute, n)
	for i := range es {
		es[i] = genEroute(i)
	}
	rand.New(rand.NewSource(1)).Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	rs := make([]record, len(es))
	for i, e := range es {
		rs[i] = recordOf(e, 0, uint32(i))
	}
	return rs
}

func BenchmarkSortRecords100k(b *testing.B) {
	src := shuffledRecords(100000)
	rs := make([]record, len(src))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(rs, src)
		sortRecords(rs)
	}
}

func BenchmarkSortFunc100k(b *testing.B) {
	src := shuffledRecords(100000)
	rs := make([]record, len(src))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(rs, src)
		slices.SortFunc(rs, func(a, b record) int { return compareRecords(&a, &b) })
	}
}
