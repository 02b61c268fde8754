package cli

import (
	"fmt"

	"github.com/eroute/eroute/pkg/eroute"
)

// erouteFamily is --eraf, checked against the numeric addresses, or when
// absent the family the addresses show (IPv4 when only names are given).
func erouteFamily(set *optionSet) (eroute.Family, error) {
	family := eroute.Unspec
	from := ""
	if v, ok := set.get(optEraf); ok {
		f, err := eroute.ParseFamily(v)
		if err != nil {
			return 0, fmt.Errorf("Invalid address family parameter for eroute: --eraf %q: %v", v, err)
		}
		family, from = f, "--eraf"
	}
	for _, end := range [...]optID{optSrc, optDst} {
		f := eroute.AddrFamily(set.value(end))
		switch {
		case f == eroute.Unspec:
		case family == eroute.Unspec:
			family, from = f, "--"+end.String()
		case f != family:
			return 0, fmt.Errorf("Error, --%s %s is %s, but %s is %s", end, set.value(end), f, from, family)
		}
	}
	if family == eroute.Unspec {
		family = eroute.Inet
	}
	return family, nil
}

// selector reads --src, --dst, --transport-proto and the ports.
func (p Parser) selector(set *optionSet, family eroute.Family) (eroute.Selector, error) {
	var s eroute.Selector
	var err error
	if v, ok := set.get(optTransportProto); ok {
		if s.Proto, err = p.Names.ParseTransportProto(v); err != nil {
			return s, fmt.Errorf("Invalid --transport-proto parameter %q: %v", v, err)
		}
	}
	hasSrcPort, hasDstPort := set.given(optSrcPort), set.given(optDstPort)
	if (hasSrcPort || hasDstPort) && s.Proto != eroute.TCP && s.Proto != eroute.UDP {
		return s, fmt.Errorf("%s (--transport-proto is %d)", msgPortsNeedTCP, s.Proto)
	}
	if s.SrcPort, err = p.port(set, optSrcPort); err != nil {
		return s, err
	}
	if s.DstPort, err = p.port(set, optDstPort); err != nil {
		return s, err
	}
	if s.Src, err = eroute.ParseSubnet(set.value(optSrc), family, p.Resolver); err != nil {
		return s, fmt.Errorf("Error, %v converting --src argument: %s", err, set.value(optSrc))
	}
	if s.Dst, err = eroute.ParseSubnet(set.value(optDst), family, p.Resolver); err != nil {
		return s, fmt.Errorf("Error, %v converting --dst argument: %s", err, set.value(optDst))
	}
	return s, nil
}

func (p Parser) port(set *optionSet, name optID) (uint16, error) {
	v, ok := set.get(name)
	if !ok {
		return 0, nil
	}
	n, err := p.Names.ParsePort(v)
	if err != nil {
		return 0, fmt.Errorf("Invalid --%s parameter %q: %v", name, v, err)
	}
	return n, nil
}
