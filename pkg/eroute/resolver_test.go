package eroute

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// fakeResolver answers from a fixed table, as /etc/hosts would, and records
// the lookups it was asked for.
type fakeResolver struct {
	hosts map[string][]string
	calls []string
}

func newFakeResolver() *fakeResolver {
	return &fakeResolver{hosts: map[string][]string{
		"company.com":  {"192.0.2.77", "2001:db8::77"},
		"gw.ngo.org":   {"198.51.100.1"},
		"mail.ngo.org": {"198.51.100.25"},
		"v6only.org":   {"2001:db8:6::1"},
	}}
}

func (r *fakeResolver) LookupHost(name string, family Family) (netip.Addr, error) {
	r.calls = append(r.calls, fmt.Sprintf("%s/%s", name, family))
	texts, ok := r.hosts[name]
	if !ok {
		return netip.Addr{}, fmt.Errorf("host name %q not found", name)
	}
	var addrs []netip.Addr
	for _, t := range texts {
		addrs = append(addrs, netip.MustParseAddr(t))
	}
	return pickAddr(addrs, family, name)
}

// badResolver breaks the Resolver contract: it answers with whatever it holds.
type badResolver struct{ addr netip.Addr }

func (r badResolver) LookupHost(string, Family) (netip.Addr, error) { return r.addr, nil }

func TestPickAddr(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	mapped := netip.MustParseAddr("::ffff:192.0.2.9")
	tests := []struct {
		addrs  []netip.Addr
		family Family
		want   netip.Addr
		err    bool
	}{
		{[]netip.Addr{v6, v4}, Unspec, v4, false},
		{[]netip.Addr{v6, v4}, Inet6, v6, false},
		{[]netip.Addr{v6}, Unspec, v6, false},
		{[]netip.Addr{v6}, Inet, netip.Addr{}, true},
		{[]netip.Addr{mapped}, Inet, netip.MustParseAddr("192.0.2.9"), false},
		{nil, Unspec, netip.Addr{}, true},
	}
	for _, tt := range tests {
		got, err := pickAddr(tt.addrs, tt.family, "h")
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("pickAddr(%v, %s) = %v, %v; want %v, err %v", tt.addrs, tt.family, got, err, tt.want, tt.err)
		}
	}
}

func TestNoResolver(t *testing.T) {
	_, err := NoResolver{}.LookupHost("example.com", Inet)
	if err == nil {
		t.Fatal("NoResolver resolved a name")
	}
	// A nil Resolver means NoResolver.
	if _, err := ParseAddr("example.com", Inet, nil); err == nil {
		t.Fatal("ParseAddr with a nil Resolver resolved a name")
	}
}

func TestSystemResolverLocalhost(t *testing.T) {
	// /etc/hosts names localhost on most systems; without it the test is
	// skipped, as it must not depend on the network.
	a, err := SystemResolver{}.LookupHost("localhost", Inet)
	if err != nil {
		t.Skipf("localhost not resolvable here: %v", err)
	}
	if !a.Is4() || !a.IsLoopback() {
		t.Errorf("localhost = %v, want an IPv4 loopback address", a)
	}
	if _, err := (SystemResolver{Timeout: 2 * time.Second}).LookupHost("no-such-host.invalid", Inet); err == nil {
		t.Errorf("no-such-host.invalid resolved")
	}
}
