package xfrm

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// readTestdata reads a message captured on this project's little-endian
// development machines (see capture_linux_test.go).
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	if ne.Uint16([]byte{1, 0}) != 1 {
		t.Skip("testdata was captured on a little-endian machine")
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// captured is when the kernel added the policies of testdata, by its clock.
var captured = time.Unix(1795763628, 0)

// kernelPolicy is an eroute's policy as a dump or a message shows it.
func kernelPolicy(p Policy, index uint32) Policy {
	p.Index, p.AddTime = index, captured
	return p
}

func TestDecodeCaptured(t *testing.T) {
	trap4 := er(t, "10.55.0.0/24", "10.56.0.0/24", "%trap")
	trap6 := withPorts(er(t, "fd00:55::/64", "fd00:56::/64", "%trap"), eroute.TCP, 0, 80)
	tun := er(t, "10.55.0.0/24", "10.58.0.0/24", "tun0x135@fd00:56::2")
	tmpl := func(t Template, src, dst string) Template {
		t.Src, t.Dst = ip(src), ip(dst)
		return t
	}
	tests := []struct {
		file   string
		flow   eroute.Selector
		sel    Selector
		eroute eroute.Eroute
		index  uint32
		tmpl   Template
		seq    uint32
	}{
		{"acquire-udp4.bin",
			eroute.Selector{Src: pfx("10.55.0.1/32"), Dst: pfx("10.56.0.9/32"), Proto: 17, SrcPort: 40001, DstPort: 9},
			Selector{Family: AFInet, Src: pfx("10.55.0.1/32"), Dst: pfx("10.56.0.9/32"), Proto: 17,
				SrcPort: 40001, SrcPortMask: 0xffff, DstPort: 9, DstPortMask: 0xffff, Ifindex: 3},
			trap4, 1, tmpl(trapTemplate(AFInet), "10.55.0.1", "10.56.0.9"), 0xd4},
		{"acquire-tcp6.bin",
			eroute.Selector{Src: pfx("fd00:55::1/128"), Dst: pfx("fd00:56::9/128"), Proto: 6, SrcPort: 40002, DstPort: 80},
			// A TCP socket's flow has no output device yet.
			Selector{Family: AFInet6, Src: pfx("fd00:55::1/128"), Dst: pfx("fd00:56::9/128"), Proto: 6,
				SrcPort: 40002, SrcPortMask: 0xffff, DstPort: 80, DstPortMask: 0xffff},
			trap6, 9, tmpl(trapTemplate(AFInet6), "fd00:55::1", "fd00:56::9"), 0xd5},
		{"acquire-tun46.bin",
			eroute.Selector{Src: pfx("10.55.0.1/32"), Dst: pfx("10.58.0.7/32"), Proto: 17, SrcPort: 40003, DstPort: 53},
			Selector{Family: AFInet, Src: pfx("10.55.0.1/32"), Dst: pfx("10.58.0.7/32"), Proto: 17,
				SrcPort: 40003, SrcPortMask: 0xffff, DstPort: 53, DstPortMask: 0xffff, Ifindex: 3},
			// The SA is IPv6: the source is the one the kernel chose.
			tun, 17, tmpl(saTemplate(tun.SAID, AFInet), "fd00:55::1", "fd00:56::2"), 0xd6},
		{"acquire-icmp4.bin",
			// ICMP type 8 and code 0 are the kernel's ports, not the flow's.
			eroute.Selector{Src: pfx("10.55.0.1/32"), Dst: pfx("10.56.0.10/32"), Proto: 1},
			Selector{Family: AFInet, Src: pfx("10.55.0.1/32"), Dst: pfx("10.56.0.10/32"), Proto: 1,
				SrcPort: 8, SrcPortMask: 0xffff, DstPort: 0, DstPortMask: 0xffff, Ifindex: 3},
			trap4, 1, tmpl(trapTemplate(AFInet), "10.55.0.1", "10.56.0.10"), 0xd7},
	}
	for _, tt := range tests {
		a, err := DecodeAcquire(readTestdata(t, tt.file))
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		if a.Flow != tt.flow || a.Flow.Validate() != nil {
			t.Errorf("%s: flow %v, want %v", tt.file, a.Flow, tt.flow)
		}
		if a.Sel != tt.sel {
			t.Errorf("%s: selector\n%+v, want\n%+v", tt.file, a.Sel, tt.sel)
		}
		if want := kernelPolicy(PolicyOf(tt.eroute), tt.index); !reflect.DeepEqual(a.Policy, want) {
			t.Errorf("%s: policy\n%+v, want\n%+v", tt.file, a.Policy, want)
		}
		if a.Eroute != tt.eroute {
			t.Errorf("%s: eroute %v, want %v", tt.file, a.Eroute, tt.eroute)
		}
		if a.Tmpl != tt.tmpl {
			t.Errorf("%s: template\n%+v, want\n%+v", tt.file, a.Tmpl, tt.tmpl)
		}
		if a.Seq != tt.seq {
			t.Errorf("%s: seq %#x, want %#x", tt.file, a.Seq, tt.seq)
		}
	}
}

func TestDecodeCapturedPolicyExpire(t *testing.T) {
	sel := withPorts(er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold"), eroute.UDP, 40001, 9).Selector
	e, err := decodePolicyExpire(readTestdata(t, "polexpire-hold.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if want := kernelPolicy(holdPolicy(holdFor(sel), 1), 25); !reflect.DeepEqual(e.Policy, want) || !e.Hard {
		t.Errorf("POLEXPIRE hard %v of\n%+v, want hard of\n%+v", e.Hard, e.Policy, want)
	}
	if e.Eroute != (eroute.Eroute{Selector: sel, SAID: eroute.Hold}) {
		t.Errorf("POLEXPIRE of %v", e.Eroute)
	}
	h, ok := HoldOf(e.Policy)
	if want := (Hold{Selector: sel, Priority: holdFor(sel).Priority, Added: captured, Timeout: time.Second, Index: 25}); !ok || h != want {
		t.Errorf("HoldOf = %+v, %v; want %+v", h, ok, want)
	}
}

// TestDecodeTruncated cuts captured messages short: the fixed part must be
// whole, and no attribute may run past the end (a cut in the padding after
// the last one, or fewer than 4 bytes after one, is as lenient as
// decodePolicy).
func TestDecodeTruncated(t *testing.T) {
	b := readTestdata(t, "acquire-udp4.bin")
	for n := range sizeAcquire {
		if _, err := DecodeAcquire(b[:n]); err == nil {
			t.Errorf("%d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := DecodeAcquire(b[:sizeAcquire+20]); err == nil {
		t.Error("template attribute cut short decoded")
	}
	if _, err := DecodeAcquire(b[:sizeAcquire]); err != nil {
		t.Errorf("without attributes: %v", err)
	}
	pe := readTestdata(t, "polexpire-hold.bin")
	for n := range sizePolExpire {
		if _, err := decodePolicyExpire(pe[:n]); err == nil {
			t.Errorf("POLEXPIRE, %d of %d bytes decoded", n, len(pe))
		}
	}
	family := append([]byte(nil), b...)
	ne.PutUint16(family[offAcqSel+40:], 7)
	if _, err := DecodeAcquire(family); err != errFlowFamily {
		t.Errorf("flow of family 7: %v", err)
	}
}

// TestAppendEvents frames messages as the kernel does; other types and
// undecodable messages are skipped, a bad length ends the datagram.
func TestAppendEvents(t *testing.T) {
	acq, pe := readTestdata(t, "acquire-udp4.bin"), readTestdata(t, "polexpire-hold.bin")
	var d []byte
	for _, m := range []struct {
		typ     uint16
		payload []byte
	}{{msgAcquire, acq}, {msgNewPolicy, pe}, {msgAcquire, acq[:100]}, {msgPolExpire, pe[:sizePolExpire-1]}, {msgPolExpire, pe}} {
		d = append(d, nlmsg(m.typ, m.payload)...)
	}
	evs := appendEvents(nil, append(d, 0xff, 0, 0, 0, 0, 0), 0)
	if len(evs) != 2 || !isAcquire(evs[0]) {
		t.Fatalf("events %#v", evs)
	}
	if e, ok := evs[1].(*PolicyExpire); !ok || !e.Hard {
		t.Errorf("second event %#v", evs[1])
	}
}

func isAcquire(ev Event) bool { _, ok := ev.(*Acquire); return ok }

// nlmsg frames a payload with a netlink header and padding.
func nlmsg(typ uint16, payload []byte) []byte {
	b := ne.AppendUint32(nil, uint32(sizeNlmsghdr+len(payload)))
	b = ne.AppendUint16(b, typ)
	b = append(b, make([]byte, 10)...)
	b = append(b, payload...)
	return append(b, make([]byte, align4(len(b))-len(b))...)
}

func FuzzDecodeAcquire(f *testing.F) {
	for _, name := range []string{"acquire-udp4.bin", "acquire-tcp6.bin", "acquire-tun46.bin", "acquire-icmp4.bin", "polexpire-hold.bin"} {
		b := readTestdata(f, name)
		f.Add(b)
		f.Add(nlmsg(msgAcquire, b))
	}
	for typ, b := range saMessages() {
		f.Add(b)
		f.Add(nlmsg(typ, b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, typ := range []uint16{msgNewSA, msgUpdSA, msgExpire, msgDelSA, msgFlushSA} {
			if ev, err := decodeEvent(typ, b); (err == nil) != (ev != nil) {
				t.Errorf("type %#x: event %#v and error %v", typ, ev, err)
			}
		}
		if a, err := DecodeAcquire(b); err == nil {
			if a.Eroute != ErouteOf(a.Policy) {
				t.Errorf("eroute %v is not ErouteOf(policy) %v", a.Eroute, ErouteOf(a.Policy))
			}
			if a.Flow.Proto != eroute.TCP && a.Flow.Proto != eroute.UDP && (a.Flow.SrcPort != 0 || a.Flow.DstPort != 0) {
				t.Errorf("ports in a flow of protocol %d", a.Flow.Proto)
			}
		}
		if e, err := decodePolicyExpire(b); err == nil {
			HoldOf(e.Policy)
		}
		appendEvents(nil, b, 0)
	})
}
