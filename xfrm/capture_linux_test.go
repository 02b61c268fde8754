package xfrm

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
	"golang.org/x/sys/unix"
)

// The testdata/*.bin files are payloads of messages this kernel sent (the
// netlink header taken off), which TestDecodeCaptured and the fuzz seeds
// read. To make them again, as root:
//
//	go test ./xfrm -run TestCaptureTestdata -capture
//
// then update the values that differ between runs (sequence numbers,
// indexes, add times, interface indexes) in TestDecodeCaptured.
var capture = flag.Bool("capture", false, "rewrite xfrm/testdata/*.bin from this kernel's messages")

func TestCaptureTestdata(t *testing.T) {
	if !*capture {
		t.Skip("regenerates testdata only with -capture")
	}
	tb, ns := trapNetns(t)
	for _, e := range []eroute.Eroute{
		er(t, "10.55.0.0/24", "10.56.0.0/24", "%trap"),
		withPorts(er(t, "fd00:55::/64", "fd00:56::/64", "%trap"), eroute.TCP, 0, 80),
		er(t, "10.55.0.0/24", "10.58.0.0/24", "tun0x135@fd00:56::2"),
	} {
		if err := tb.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	l := listenT(t, ns, 0)
	for _, c := range []struct {
		file     string
		proto    int
		from, to string
	}{
		{"acquire-udp4.bin", eroute.UDP, "10.55.0.1:40001", "10.56.0.9:9"},
		{"acquire-tcp6.bin", eroute.TCP, "[fd00:55::1]:40002", "[fd00:56::9]:80"},
		{"acquire-tun46.bin", eroute.UDP, "10.55.0.1:40003", "10.58.0.7:53"},
		{"acquire-icmp4.bin", unix.IPPROTO_ICMP, "10.55.0.1:0", "10.56.0.10:0"},
	} {
		send(t, ns, c.proto, addrPort(c.from), addrPort(c.to))
		writeTestdata(t, c.file, rawMessage(t, l, msgAcquire))
	}
	hold := withPorts(er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold"), eroute.UDP, 40001, 9).Selector
	if err := tb.AddHold(holdFor(hold), time.Second); err != nil {
		t.Fatal(err)
	}
	writeTestdata(t, "polexpire-hold.bin", rawMessage(t, l, msgPolExpire))
}

// rawMessage gives the payload of the next message of type typ.
func rawMessage(t *testing.T, l *Listener, typ uint16) []byte {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() { l.Close() })
	defer timer.Stop()
	for {
		b, err := l.c.read(false)
		if err != nil {
			t.Fatalf("waiting for message type %#x: %v", typ, err)
		}
		if len(b) >= unix.NLMSG_HDRLEN && ne.Uint16(b[4:]) == typ {
			n := min(int(ne.Uint32(b)), len(b))
			return b[unix.NLMSG_HDRLEN:n]
		}
	}
}

func writeTestdata(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/%s, %d bytes", name, len(b))
}
