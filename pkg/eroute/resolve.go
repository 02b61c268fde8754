package eroute

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// A Resolver turns a host name into an address of the wanted family
// (Unspec: any, IPv4 preferred).
type Resolver interface {
	LookupHost(name string, family Family) (netip.Addr, error)
}

// SystemResolver looks names up through Go's resolver, which reads /etc/hosts
// (so `ip netns exec` and its /etc/netns/NS/hosts are honoured) and then DNS.
// Lookups give up after Timeout, so that a script does not hang on a dead
// name server.
type SystemResolver struct {
	Timeout time.Duration
}

var _ Resolver = SystemResolver{}

// LookupHost implements Resolver.
func (r SystemResolver) LookupHost(name string, family Family) (netip.Addr, error) {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	network := map[Family]string{Unspec: "ip", Inet: "ip4", Inet6: "ip6"}[family]
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, name)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return netip.Addr{}, fmt.Errorf("host name %q not found", name)
		}
		if dnsErr != nil && dnsErr.Err != "" {
			return netip.Addr{}, fmt.Errorf("cannot resolve host name %q: %s", name, dnsErr.Err)
		}
		return netip.Addr{}, fmt.Errorf("cannot resolve host name %q", name)
	}
	return pickAddr(addrs, family, name)
}

// pickAddr takes the first address of the family, IPv4 first when any will do,
// as the KLIPS library (gethostbyname) did.
func pickAddr(addrs []netip.Addr, family Family, name string) (netip.Addr, error) {
	for _, want := range []Family{Inet, Inet6} {
		if family != Unspec && family != want {
			continue
		}
		for _, a := range addrs {
			a = a.Unmap().WithZone("")
			if FamilyOf(a) == want {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("host name %q has no %s address", name, family)
}

// NoResolver refuses every name: for callers that accept numbers only.
type NoResolver struct{}

// LookupHost implements Resolver.
func (NoResolver) LookupHost(name string, _ Family) (netip.Addr, error) {
	return netip.Addr{}, fmt.Errorf("host name %q not allowed here", name)
}
