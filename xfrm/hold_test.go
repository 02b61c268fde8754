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
		p := holdPolicy(holdFor(e.Selector), 30)
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
		if h, ok := HoldOf(q); !ok || h != (Hold{Selector: e.Selector, Priority: p.Priority, Timeout: 30 * time.Second}) {
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
	never := holdPolicy(holdFor(sel), 0)
	withTmpl := holdPolicy(holdFor(sel), 5)
	withTmpl.Tmpls = []Template{trapTemplate(AFInet)}
	allow := holdPolicy(holdFor(sel), 5)
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
	b := encodePolicy(holdPolicy(holdFor(er(t, "10.0.0.1/32", "10.0.0.2/32", "%hold").Selector), 7))
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

// holdFor is a hold on sel with the priority of kind 9 of its own
// selector, as monitors before priority-below-the-trap wrote them.
func holdFor(sel eroute.Selector) Hold {
	return Hold{Selector: sel, Priority: priority(sel, kindMonitorHold)}
}

// TestHoldPriority: a hold wins over the policy that trapped and over
// nothing more specific than it; the values below 10 leave no room.
func TestHoldPriority(t *testing.T) {
	for _, tt := range []struct{ trap, want uint32 }{{10, 9}, {25, 9}, {26, 25}, {41, 25}, {42, 41}, {1 << 24, 1<<24 - 7}} {
		if got, ok := HoldPriority(tt.trap); !ok || got != tt.want {
			t.Errorf("HoldPriority(%d) = %d, %v; want %d", tt.trap, got, ok, tt.want)
		}
	}
	for _, trap := range []uint32{0, 1, 9} {
		if got, ok := HoldPriority(trap); ok {
			t.Errorf("HoldPriority(%d) = %d, want none", trap, got)
		}
	}
	trap := er(t, "10.1.0.0/16", "10.2.0.0/16", "%trap")
	narrower := []eroute.Eroute{
		er(t, "10.1.0.0/16", "10.2.0.5/32", "%pass"),
		withPorts(er(t, "10.1.0.0/16", "10.2.0.5/32", "%pass"), eroute.TCP, 0, 22),
		er(t, "10.1.0.0/17", "10.2.0.0/16", "%drop"),
		er(t, "10.1.0.0/16", "10.2.0.0/17", "%hold"),
		withPorts(er(t, "10.1.0.0/16", "10.2.0.0/16", "%pass"), eroute.UDP, 0, 0),
	}
	for _, said := range []eroute.SAID{eroute.Trap, eroute.TrapSubnet} {
		trap.SAID = said
		tp := PolicyOf(trap).Priority
		hp, ok := HoldPriority(tp)
		if !ok || hp >= tp {
			t.Fatalf("%v: hold priority %d, %v", trap, hp, ok)
		}
		for _, e := range narrower {
			for k := kindSA; k < kindMonitorHold; k++ {
				if p := priority(e.Selector, k); p >= hp {
					t.Errorf("%v as kind %d: priority %d, not below the hold's %d under %v", e, k, p, hp, trap)
				}
			}
		}
		h := Hold{Selector: er(t, "10.1.0.7/32", "10.2.0.5/32", "%hold").Selector, Priority: hp,
			Scope: Scope{Mark: 1, Mask: 0xff, IfID: 7, Ifindex: 3}}
		p, err := decodePolicy(encodePolicy(holdPolicy(h, 30)))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := HoldOf(p)
		if want := (Hold{Selector: h.Selector, Scope: h.Scope, Priority: hp, Timeout: 30 * time.Second}); !ok || got != want {
			t.Errorf("HoldOf = %+v, %v; want %+v", got, ok, want)
		}
		// Unscoped, it lists as eroute's own %hold, whatever its specificity.
		h.Scope = Scope{}
		v := viewOf(holdPolicy(h, 30))
		if e, own, ok := v.eroute(); !ok || !own || e.SAID != eroute.Hold || e.Selector != h.Selector {
			t.Errorf("hold below %v read as %v (own %v)", trap, e, own)
		}
	}
}
