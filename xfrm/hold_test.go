package xfrm

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

func TestHoldPolicy(t *testing.T) {
	for _, e := range []eroute.Eroute{
		withPorts(er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold"), eroute.UDP, 40001, 9),
		er(t, "fd00:55::1/128", "fd00:56::9/128", "%hold"),
	} {
		p := holdPolicy(e.Selector, 30)
		admin := PolicyOf(e)
		if p.Priority != admin.Priority-uint32(kindHold)+uint32(kindMonitorHold) || p.Action != ActionBlock ||
			len(p.Tmpls) != 0 || p.HardAddExpires != 30 {
			t.Errorf("%v: hold policy %+v", e, p)
		}
		q, err := decodePolicy(encodePolicy(p))
		if err != nil || !reflect.DeepEqual(q, p) {
			t.Errorf("%v: decode(encode) = %+v, %v", e, q, err)
		}
		if got := ErouteOf(q); got != e {
			t.Errorf("%v: hold read as %v", e, got)
		}
		if h, ok := HoldOf(q); !ok || h != (Hold{Selector: e.Selector, Timeout: 30 * time.Second}) {
			t.Errorf("%v: HoldOf = %+v, %v", e, h, ok)
		}
		if _, ok := HoldOf(admin); ok {
			t.Errorf("%v: an administrator's %%hold read as a monitor hold", e)
		}
	}
}

// TestHoldShapes: a monitor hold is its kind, its shape and an expiry; an
// eroute of another kind with an expiry was written by someone else.
func TestHoldShapes(t *testing.T) {
	sel := er(t, "10.55.0.1/32", "10.56.0.9/32", "%hold").Selector
	never := holdPolicy(sel, 0)
	withTmpl := holdPolicy(sel, 5)
	withTmpl.Tmpls = []Template{trapTemplate(AFInet)}
	allow := holdPolicy(sel, 5)
	allow.Action = ActionAllow
	expiringHold := PolicyOf(eroute.Eroute{Selector: sel, SAID: eroute.Hold})
	expiringHold.HardAddExpires = 5
	expiringTrap := PolicyOf(eroute.Eroute{Selector: sel, SAID: eroute.Trap})
	expiringTrap.HardAddExpires = 5
	esp0 := eroute.SAID{Proto: eroute.ProtoESP, Dst: ip("0.0.0.0")} // a trap made by hand
	for _, tt := range []struct {
		name string
		p    Policy
		want eroute.SAID
	}{
		{"kind 9 without expiry", never, eroute.Drop},
		{"kind 9 with a template", withTmpl, eroute.Drop},
		{"kind 9 allowing", allow, eroute.Pass},
		{"kind 6 with expiry", expiringHold, eroute.Drop},
		{"kind 7 with expiry", expiringTrap, esp0},
	} {
		if e := ErouteOf(tt.p); e.SAID != tt.want {
			t.Errorf("%s: read as %v, want %v", tt.name, e.SAID, tt.want)
		}
		if _, ok := HoldOf(tt.p); ok {
			t.Errorf("%s: read as a monitor hold", tt.name)
		}
	}
	if kindOf(eroute.Hold) != kindHold {
		t.Errorf("%%hold is written as kind %d", kindOf(eroute.Hold))
	}
}

// TestPolicyOfNoExpiry: eroutes have no limits and never expire, as bytes.
func TestPolicyOfNoExpiry(t *testing.T) {
	for _, e := range roundTripEroutes(t) {
		b := encodePolicy(PolicyOf(e))
		for i := range 8 {
			want := uint64(0)
			if i < 4 {
				want = math.MaxUint64
			}
			if got := ne.Uint64(b[offPolicyLft+8*i:]); got != want {
				t.Errorf("%v: lifetime field %d is %#x, want %#x", e, i, got, want)
			}
		}
	}
	b := encodePolicy(holdPolicy(er(t, "10.0.0.1/32", "10.0.0.2/32", "%hold").Selector, 7))
	if ne.Uint64(b[offPolicyHardAdd:]) != 7 || ne.Uint64(b[offPolicyLft+32:]) != 0 {
		t.Errorf("hold lifetime % x", b[offPolicyLft:offPolicyLft+sizeLifetime])
	}
}

func TestHoldSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want uint64
	}{
		{time.Nanosecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30},
		{math.MaxInt64, 9223372037},
	} {
		if got, err := holdSeconds(tt.d); got != tt.want || err != nil {
			t.Errorf("holdSeconds(%v) = %d, %v; want %d", tt.d, got, err, tt.want)
		}
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := holdSeconds(d); err == nil {
			t.Errorf("holdSeconds(%v) accepted", d)
		}
	}
	if seconds(math.MaxUint64) != math.MaxInt64 || seconds(2) != 2*time.Second {
		t.Error("seconds does not cap")
	}
}
