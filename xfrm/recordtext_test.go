package xfrm

import (
	"net/netip"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// lineEroutes adds to the usual test eroutes the shapes the record's own
// formatting must write as netip does: zero runs of every place and
// length, IPv4-mapped addresses (selectors and SAIDs), SAIDs of SPI 0 and
// without an address, and long counts.
func lineEroutes(t *testing.T) []eroute.Eroute {
	es := append(roundTripEroutes(t), testEroutes(3000, true, 5)...)
	addrs := []string{"::", "::1", "1::", "1:0:0:1::", "1:0:0:2:0:0:0:3", "1:0:0:2:3:0:0:4", "0:0:1:2:3:4:0:0", "1:0:2:0:0:3:0:4", "0:1:0:0:2:0:0:0",
		"fd00:1::ab:cdef", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.1.2.3", "::10.1.2.3",
		"0:0:0:0:0:ffff:0:0", "1:2:3:4:5:6:7:8", "f:f0:f00:f000::"}
	saids := []eroute.SAID{
		{Proto: eroute.ProtoTun, SPI: 0, Dst: netip.MustParseAddr("192.0.2.1")},
		{Proto: eroute.ProtoTun, SPI: 0, Dst: netip.MustParseAddr("::1")},
		{Proto: eroute.ProtoESP, SPI: 7},
		{Proto: eroute.ProtoTun, SPI: 0x100, Dst: netip.MustParseAddr("::ffff:192.0.2.9")},
		{Proto: eroute.ProtoAH, SPI: 0xffffffff, Dst: netip.MustParseAddr("0.0.0.0")},
		{Proto: 99, SPI: 3, Dst: netip.MustParseAddr("10.0.0.1")},
		{Proto: eroute.ProtoComp, SPI: 0x12000f, Dst: netip.MustParseAddr("10.0.0.2")}, // zeros inside the SPI
		eroute.Passthrough4, eroute.Passthrough6,
	}
	for i, a := range addrs {
		addr := netip.MustParseAddr(a)
		for j, bits := range []int{0, 17, 64, 128} {
			s := saids[(i+j)%len(saids)]
			if s == eroute.Passthrough4 {
				s = eroute.Passthrough6
			}
			es = append(es, eroute.Eroute{Selector: eroute.Selector{Src: netip.PrefixFrom(addr, bits),
				Dst: netip.PrefixFrom(netip.MustParseAddr(addrs[(i+j+1)%len(addrs)]), 128-bits)}, SAID: s})
		}
	}
	for i, s := range saids {
		es = append(es, eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("1.2.3.4/32"),
			Dst: netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 100, 10, byte(i)}), 9*i%33)}, SAID: s})
	}
	return es
}

// TestAppendRecordLine checks the listing's own formatting of a record
// against eroute.Eroute.AppendLine, byte for byte.
func TestAppendRecordLine(t *testing.T) {
	counts := []uint64{0, 7, 123456789, 1<<64 - 1}
	for i, e := range lineEroutes(t) {
		e.Count = counts[i%len(counts)]
		r := recordOf(e, recOwn, uint32(i))
		got := string(appendRecordLine([]byte("x"), &r, e.Count))
		if want := "x" + string(e.AppendLine(nil)); got != want {
			t.Errorf("%v:\n got %q\nwant %q", e, got, want)
		}
	}
}

func FuzzAppendRecordLine(f *testing.F) {
	f.Add([]byte{}, uint8(32), uint8(24), uint8(4), uint32(0x1000), uint64(3), uint8(0), uint16(0), uint16(0))
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 1}, uint8(128), uint8(64), uint8(50), uint32(0), uint64(0), uint8(0), uint16(0), uint16(0))
	f.Add([]byte{}, uint8(24), uint8(24), uint8(4), uint32(0x1005), uint64(0), uint8(eroute.TCP), uint16(0), uint16(6))
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 1}, uint8(64), uint8(48), uint8(4), uint32(9), uint64(1), uint8(eroute.UDP), uint16(500), uint16(4500))
	f.Add([]byte{}, uint8(32), uint8(32), uint8(50), uint32(9), uint64(1), uint8(eroute.ICMP), uint16(8), uint16(0))
	f.Add([]byte{}, uint8(32), uint8(32), uint8(50), uint32(9), uint64(1), uint8(50), uint16(8), uint16(9))
	f.Fuzz(func(t *testing.T, raw []byte, sbits, dbits, proto uint8, spi uint32, count uint64, selProto uint8, sport, dport uint16) {
		var a [48]byte
		copy(a[:], raw)
		v6 := len(raw) > 8 && raw[0]&1 == 1
		var e eroute.Eroute
		if v6 {
			e.Src = netip.PrefixFrom(netip.AddrFrom16([16]byte(a[0:16])), int(sbits%129))
			e.Dst = netip.PrefixFrom(netip.AddrFrom16([16]byte(a[16:32])), int(dbits%129))
			e.SAID = eroute.SAID{Proto: eroute.Proto(proto), SPI: spi, Dst: netip.AddrFrom16([16]byte(a[32:48]))}
		} else {
			e.Src = netip.PrefixFrom(netip.AddrFrom4([4]byte(a[0:4])), int(sbits%33))
			e.Dst = netip.PrefixFrom(netip.AddrFrom4([4]byte(a[4:8])), int(dbits%33))
			e.SAID = eroute.SAID{Proto: eroute.Proto(proto), SPI: spi, Dst: netip.AddrFrom4([4]byte(a[8:12]))}
		}
		if raw != nil && len(raw)%3 == 0 {
			e.SAID.Dst = netip.Addr{}
		}
		e.Proto, e.SrcPort, e.DstPort = selProto, sport, dport
		e.Count = count
		r := recordOf(e, 0, 0)
		if got, want := string(appendRecordLine(nil, &r, count)), string(e.AppendLine(nil)); got != want {
			t.Errorf("%v:\n got %q\nwant %q", e, got, want)
		}
	})
}

func BenchmarkAppendRecordLine(b *testing.B) {
	rs := shuffledRecords(1024)
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = appendRecordLine(buf[:0], &rs[i%len(rs)], 12)
	}
}

func BenchmarkAppendLine(b *testing.B) {
	rs := shuffledRecords(1024)
	var buf []byte
	for i := 0; i < b.N; i++ {
		e := rs[i%len(rs)].eroute()
		e.Count = 12
		buf = e.AppendLine(buf[:0])
	}
}
