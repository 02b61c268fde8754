package xfrm

import (
	"net/netip"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// A template without an SPI is listed as %trap when no SA answers it, and
// counts the packets of the SAs it finds by reqid (and destination) when
// some do, as the kernel finds them.
func TestResolveForeignTemplates(t *testing.T) {
	sas := newSAIndex()
	sas.add(saInfo{key: saKey{dst: ip("10.0.0.2"), spi: 0xc3cb7566, proto: protoESP}, reqid: 1, packets: 3})
	sas.add(saInfo{key: saKey{dst: ip("10.0.0.2"), spi: 0xc3cb7567, proto: protoESP}, reqid: 1, packets: 2})
	sas.add(saInfo{key: saKey{dst: ip("10.0.0.3"), spi: 0x1000, proto: protoESP}, packets: 7})
	sas.add(saInfo{key: saKey{dst: ip("3049::2"), spi: 0x1001, proto: protoESP}, reqid: 9, packets: 11})
	tun := func(dst string, reqid, spi uint32) Template {
		a := ip(dst)
		return Template{Family: familyOf(a), Dst: a, Proto: protoESP, Mode: ModeTunnel, Reqid: reqid, SPI: spi}
	}
	for _, c := range []struct {
		name  string
		t     Template
		trap  bool
		count uint64
	}{
		{"charon's tunnel, by reqid and peer", tun("10.0.0.2", 1, 0), false, 5},
		{"charon's trap: reqid without SA", tun("10.0.0.2", 2, 0), true, 0},
		{"reqid to another peer", tun("10.0.0.3", 1, 0), true, 0},
		{"pluto's trap: transport, no address", Template{Family: AFInet, Dst: ip("0.0.0.0"), Proto: protoESP, Reqid: 16389}, true, 0},
		{"transport, no address, the reqid of an SA", Template{Family: AFInet6, Dst: ip("::"), Proto: protoESP, Reqid: 9}, false, 11},
		{"reqid 0: any SA to the peer", tun("10.0.0.3", 0, 0), false, 0},
		{"reqid 0, no SA to the peer", tun("10.0.0.4", 0, 0), true, 0},
	} {
		d := detail{p: Policy{Action: ActionAllow, Tmpls: []Template{c.t}}}
		r := recordOf(eroute.Eroute{SAID: eroute.SAID{Proto: eroute.ProtoTun, Dst: c.t.Dst}}, 0, 0)
		d.resolve(&r, sas)
		if d.trap != c.trap || d.count != c.count || (r.said() == eroute.Trap) != c.trap {
			t.Errorf("%s: trap %v count %d, listed %v; want trap %v count %d", c.name, d.trap, d.count, r.said(), c.trap, c.count)
		}
	}
	// A template with an SPI names its SA: never a trap.
	d := detail{p: Policy{Action: ActionAllow, Tmpls: []Template{tun("10.0.0.9", 0, 0x300)}}}
	r := recordOf(eroute.Eroute{SAID: eroute.SAID{Proto: eroute.ProtoTun, SPI: 0x300, Dst: ip("10.0.0.9")}}, 0, 0)
	if d.resolve(&r, sas); d.trap || d.counted {
		t.Errorf("a template with an SPI was resolved: %+v", d)
	}
}

// covers: a foreign policy shadows an eroute only when it takes every
// packet of the eroute's selector, whatever the packet's mark.
func TestCovers(t *testing.T) {
	pol := func(src, dst string, mod func(*Policy)) Policy {
		p := Policy{Dir: DirOut, Sel: Selector{Family: AFInet, Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst)}}
		if mod != nil {
			mod(&p)
		}
		return p
	}
	sel := eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.3.0/24"), Proto: eroute.TCP, DstPort: 22}
	for _, c := range []struct {
		name string
		p    Policy
		want bool
	}{
		{"wider", pol("10.0.0.0/8", "10.2.0.0/16", nil), true},
		{"the same", pol("10.1.0.0/16", "10.2.3.0/24", nil), true},
		{"host bits ignored", pol("10.1.2.3/16", "10.2.3.4/24", nil), true},
		{"narrower source", pol("10.1.1.0/24", "10.2.0.0/16", nil), false},
		{"elsewhere", pol("10.9.0.0/16", "10.2.0.0/16", nil), false},
		{"marked", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Mark, p.Mask = 1, 0xff }), false},
		{"if_id", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.IfID = 3 }), false},
		{"inbound", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Dir = DirIn }), false},
		{"interface", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Ifindex = 2 }), false},
		{"same protocol", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Proto = eroute.TCP }), true},
		{"other protocol", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Proto = eroute.UDP }), false},
		{"same port", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Proto, p.Sel.DstPort, p.Sel.DstPortMask = 6, 22, 0xffff }), true},
		{"port range", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Proto, p.Sel.DstPort, p.Sel.DstPortMask = 6, 16, 0xfff0 }), true},
		{"other port", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.Proto, p.Sel.DstPort, p.Sel.DstPortMask = 6, 80, 0xffff }), false},
		{"a source port the eroute leaves open", pol("0.0.0.0/0", "0.0.0.0/0", func(p *Policy) { p.Sel.SrcPort, p.Sel.SrcPortMask = 5, 0xffff }), false},
	} {
		if got := covers(&c.p, sel); got != c.want {
			t.Errorf("%s: covers = %v, want %v", c.name, got, c.want)
		}
	}
	v6 := pol("0.0.0.0/0", "0.0.0.0/0", nil)
	if covers(&v6, eroute.Selector{Src: netip.MustParsePrefix("::/0"), Dst: netip.MustParsePrefix("::/0")}) {
		t.Error("an IPv4 policy covers an IPv6 eroute")
	}
}
