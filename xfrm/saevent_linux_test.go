package xfrm

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The SA messages of testdata (sa-*.bin): run as root with
//
//	go test ./xfrm -run TestCaptureSAEvents -capture
//
// and update the add times and sequence numbers TestDecodeSAEvents checks.
func TestCaptureSAEvents(t *testing.T) {
	if !*capture {
		t.Skip("regenerates testdata only with -capture")
	}
	ns := newNetns(t)
	l, err := ListenWith(ListenOptions{Netns: ns, SAs: true, SAExpires: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ipn(t, ns, append(append([]string{"xfrm", "state", "add"}, markedSA...), softLimit...)...)
	writeTestdata(t, "sa-new.bin", rawMessage(t, l, msgNewSA))
	writeTestdata(t, "sa-expire-soft.bin", rawMessage(t, l, msgExpire))
	ipn(t, ns, append(append([]string{"xfrm", "state", "add"}, plainSA4...), hardLimit...)...)
	writeTestdata(t, "sa-expire-hard.bin", rawMessage(t, l, msgExpire))
	ipn(t, ns, append([]string{"xfrm", "state", "add"}, plainSA6...)...)
	ipn(t, ns, "xfrm", "state", "delete", "src", "2001:db8::1", "dst", "2001:db8::2", "proto", "esp", "spi", "0x201")
	writeTestdata(t, "sa-del6.bin", rawMessage(t, l, msgDelSA))
	ipn(t, ns, append([]string{"xfrm", "state", "add"}, plainSA6...)...)
	ipn(t, ns, "xfrm", "state", "flush", "proto", "esp") // an empty table's flush is not announced
	writeTestdata(t, "sa-flush-esp.bin", rawMessage(t, l, msgFlushSA))
}

// markedSA is an ESP tunnel SA with a mark, an if_id and keys, as ip
// xfrm state add takes it.
var markedSA = []string{"src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "spi", "0x100", "reqid", "7", "mode", "tunnel",
	"mark", "0x5", "mask", "0xff", "if_id", "9",
	"enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff",
	"auth-trunc", "hmac(sha256)", "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "128"}

// softLimit and hardLimit are ip xfrm's limits of an SA that expires
// soft (in a second) and of one that expires hard. One SA with both is no
// test of the soft: the kernel looks at the limits on a timer in whole
// seconds, and a look that comes late (the VM under TCG: over 4 s) finds
// both past and sends the hard expiry alone.
var (
	softLimit = []string{"limit", "time-soft", "1", "limit", "time-hard", "600"}
	hardLimit = []string{"limit", "time-hard", "1"}
)

// plainSA4 is an IPv4 transport SA; plainSA6 an IPv6 one.
var plainSA4 = []string{"src", "192.0.2.1", "dst", "192.0.2.3", "proto", "esp", "spi", "0x102", "reqid", "6", "mode", "transport",
	"enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff"}

var plainSA6 = []string{"src", "2001:db8::1", "dst", "2001:db8::2", "proto", "esp", "spi", "0x201", "reqid", "8", "mode", "transport",
	"enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff", "auth", "hmac(sha1)", "0x00112233445566778899aabbccddeeff00112233"}

// A Listener that asked for SA events hears an SA made (with its mark,
// if_id, reqid, keys and limits), a soft expiry and a hard one, SAs
// deleted and a flush, as typed events; one that asked for policy
// expiries only hears none of them. The development kernels have no ESP:
// the VM suite runs this test (xfrmlib.sh).
func TestKernelListenSAs(t *testing.T) {
	ns := newNetns(t)
	l, err := ListenWith(ListenOptions{Netns: ns, SAs: true, SAExpires: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	polOnly, err := ListenWith(ListenOptions{Netns: ns, Expires: true})
	if err != nil {
		t.Fatal(err)
	}
	defer polOnly.Close()
	addSA := append(append([]string{"-n", ns, "xfrm", "state", "add"}, markedSA...), softLimit...)
	if out, err := exec.Command("ip", addSA...).CombinedOutput(); err != nil {
		if strings.Contains(string(out), "Requested type not found") {
			t.Skip("the kernel has no ESP (esp4): no SA can exist; the VM suite runs this test on one that has")
		}
		t.Fatalf("ip %s: %v\n%s", strings.Join(addSA, " "), err, out)
	}
	next := func(l *Listener) Event {
		t.Helper()
		timer := time.AfterFunc(20*time.Second, func() { l.Close() })
		defer timer.Stop()
		ev, err := l.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return ev
	}
	made, ok := next(l).(*SAChange)
	if !ok || made.Deleted || made.SA.SAID.SPI != 0x100 || made.SA.Reqid != 7 || !made.SA.Tunnel ||
		made.Mark != 5 || made.Mask != 0xff || made.IfID != 9 || made.SA.Enc == nil || made.SA.Soft.AddTime != 1 {
		t.Fatalf("event %#v, want the marked SA made", made)
	}
	if e, ok := next(l).(*SAExpire); !ok || e.Hard || e.SA.SAID.SPI != 0x100 || e.Mark != 5 || e.IfID != 9 || e.SA.Reqid != 7 {
		t.Fatalf("event %#v, want the marked SA's soft expiry", e)
	}
	ipn(t, ns, append(append([]string{"xfrm", "state", "add"}, plainSA4...), hardLimit...)...)
	if c, ok := next(l).(*SAChange); !ok || c.Deleted || c.SA.SAID.SPI != 0x102 {
		t.Fatalf("event %#v, want the IPv4 SA made", c)
	}
	if e, ok := next(l).(*SAExpire); !ok || !e.Hard || e.SA.SAID.SPI != 0x102 || e.SA.Reqid != 6 || e.SA.Tunnel || e.IfID != 0 {
		t.Fatalf("event %#v, want the IPv4 SA's hard expiry", e)
	}
	ipn(t, ns, "xfrm", "state", "delete", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "spi", "0x100", "mark", "5", "mask", "0xff")
	if c, ok := next(l).(*SAChange); !ok || !c.Deleted || c.SA.SAID.SPI != 0x100 || c.Mark != 5 || c.IfID != 9 || c.SA.Auth == nil {
		t.Fatalf("event %#v, want the marked SA deleted", c)
	}

	ipn(t, ns, append([]string{"xfrm", "state", "add"}, plainSA6...)...)
	ipn(t, ns, "xfrm", "state", "delete", "src", "2001:db8::1", "dst", "2001:db8::2", "proto", "esp", "spi", "0x201")
	ipn(t, ns, append([]string{"xfrm", "state", "add"}, plainSA6...)...)
	ipn(t, ns, "xfrm", "state", "flush", "proto", "esp") // an empty table's flush is not announced
	for _, deleted := range []bool{false, true, false} {
		c, ok := next(l).(*SAChange)
		if !ok || c.Deleted != deleted || c.SA.SAID.SPI != 0x201 || c.SA.SAID.Dst != netip.MustParseAddr("2001:db8::2") ||
			c.SA.Src != netip.MustParseAddr("2001:db8::1") || c.SA.Reqid != 8 || c.SA.Tunnel || c.IfID != 0 || c.SA.Auth == nil {
			t.Fatalf("event %#v, want the IPv6 SA, deleted %v", c, deleted)
		}
	}
	if f, ok := next(l).(*SAFlush); !ok || f.Proto != protoESP {
		t.Fatalf("event %#v, want a flush of ESP", f)
	}

	// The policy-expiry listener heard the SAs' expiries from the same
	// group, and left them out: the policy's expiry is its first event.
	hold := Policy{Sel: Selector{Src: pfx("10.1.0.1/32"), Dst: pfx("10.2.0.1/32")}, Dir: DirOut, Action: ActionBlock, HardAddExpires: 1}
	tab, err := Open(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := tab.AddPolicy(hold); err != nil {
		t.Fatal(err)
	}
	if e, ok := next(polOnly).(*PolicyExpire); !ok || !e.Hard || e.Policy.Sel.Dst != hold.Sel.Dst {
		t.Fatalf("policy listener's first event %#v, want the policy's expiry", e)
	}
}
