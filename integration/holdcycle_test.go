package integration

import (
	"context"
	"strings"
	"testing"
	"time"
)

// While a steady stream meets a %trap, the monitor's hold for it is put in
// place and reaped again and again; not one packet may leave in the clear.
func TestNoLeakWhileHoldsComeAndGo(t *testing.T) {
	a, b := newPair(t)
	rcv := listenUDP(t, b, pairB4, 7001)
	wire := capture(t, b, vethName(b, a), "udp and dst port 7001")
	snd := dialUDP(t, a, pairA4, 47001, pairB4, 7001)
	if err := snd.Send(1); err != nil || !waitFor(3*time.Second, func() bool { return rcv.Count() == 1 }) {
		t.Fatalf("control: send %v, %d received, want 1", err, rcv.Count())
	}
	sysctl(t, a, "net.core.xfrm_acq_expires=1")
	a.MustEroute("--add", "--src", pairA4.String()+"/32", "--dst", "10.77.0.0/24", "--said", "%trap")
	mon := startMonitor(t, a, "--hold-timeout", "1")

	ctx, stop := context.WithTimeout(context.Background(), 6*time.Second)
	defer stop()
	sent := 0
	for ctx.Err() == nil {
		snd.Send(1)
		sent++
		time.Sleep(2 * time.Millisecond)
	}
	settle()
	cycles := len(mon.Lines())
	t.Logf("%d datagrams sent, %d ACQUIREs (hold cycles)", sent, cycles)
	if cycles < 2 {
		t.Fatalf("only %d hold cycles in 6 s, want at least 2:\nstdout %s\nstderr %s", cycles, mon.Stdout(), mon.Stderr())
	}
	if !strings.Contains(mon.Stderr(), "timed out and was removed") {
		t.Errorf("no hold was reaped meanwhile: %s", mon.Stderr())
	}
	if n := rcv.Count(); n != 1 {
		t.Errorf("the receiver got %d datagrams during the hold cycles, want none (1 from the control)", n-1)
	}
	clear := wire.Count(func(p Packet) bool { return p.Src == pairA4 && p.DstPort == 7001 })
	if clear != 1 {
		t.Errorf("the wire saw %d clear datagrams, want only the control's", clear)
	}
	// Positive control: the same flow, once passed, arrives.
	a.MustEroute("--replace", "--src", pairA4.String()+"/32", "--dst", "10.77.0.0/24", "--said", "%pass")
	a.MustEroute("--replace", "--src", pairA4.String()+"/32", "--dst", pairB4.String()+"/32", "--said", "%pass")
	snd.Send(3)
	if !waitFor(3*time.Second, func() bool { return rcv.Count() >= 2 }) {
		t.Errorf("after %%pass the flow does not arrive: %d", rcv.Count())
	}
}
