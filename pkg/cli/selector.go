package cli

import (
	"fmt"

	"github.com/eroute/eroute/pkg/eroute"
)

// erouteFamily is --eraf, checked against the numeric addresses, or when
// absent the family the addresses show (IPv4 when only names are given).
func erouteFamily(set map[string]string) (eroute.Family, error) {
	family := eroute.Unspec
	from := ""
	if v, ok := set["eraf"]; ok {
		f, err := eroute.ParseFamily(v)
		if err != nil {
			return 0, fmt.Errorf("Invalid address family parameter for eroute: --eraf %q: %v", v, err)
		}
		family, from = f, "--eraf"
	}
	for _, end := range []string{"src", "dst"} {
		f := eroute.AddrFamily(set[end])
		switch {
		case f == eroute.Unspec:
		case family == eroute.Unspec:
			family, from = f, "--"+end
		case f != family:
			return 0, fmt.Errorf("Error, --%s %s is %s, but %s is %s", end, set[end], f, from, family)
		}
	}
	if family == eroute.Unspec {
		family = eroute.Inet
	}
	return family, nil
}

// selector reads --src, --dst, --transport-proto and the ports.
func (p Parser) selector(set map[string]string, family eroute.Family) (eroute.Selector, error) {
	var s eroute.Selector
	var err error
	if v, ok := set["transport-proto"]; ok {
		if s.Proto, err = p.Names.ParseTransportProto(v); err != nil {
			return s, fmt.Errorf("Invalid --transport-proto parameter %q: %v", v, err)
		}
	}
	_, hasSrcPort := set["src-port"]
	_, hasDstPort := set["dst-port"]
	if (hasSrcPort || hasDstPort) && s.Proto != eroute.TCP && s.Proto != eroute.UDP {
		return s, fmt.Errorf("%s (--transport-proto is %d)", msgPortsNeedTCP, s.Proto)
	}
	if s.SrcPort, err = p.port(set, "src-port"); err != nil {
		return s, err
	}
	if s.DstPort, err = p.port(set, "dst-port"); err != nil {
		return s, err
	}
	if s.Src, err = eroute.ParseSubnet(set["src"], family, p.Resolver); err != nil {
		return s, fmt.Errorf("Error, %v converting --src argument: %s", err, set["src"])
	}
	if s.Dst, err = eroute.ParseSubnet(set["dst"], family, p.Resolver); err != nil {
		return s, fmt.Errorf("Error, %v converting --dst argument: %s", err, set["dst"])
	}
	return s, nil
}

func (p Parser) port(set map[string]string, name string) (uint16, error) {
	v, ok := set[name]
	if !ok {
		return 0, nil
	}
	n, err := p.Names.ParsePort(v)
	if err != nil {
		return 0, fmt.Errorf("Invalid --%s parameter %q: %v", name, v, err)
	}
	return n, nil
}
