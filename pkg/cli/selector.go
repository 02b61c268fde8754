package cli

import (
	"fmt"
	"net/netip"

	"github.com/eroute/eroute/pkg/eroute"
)

// erouteFamily is --eraf, checked against the numeric addresses, or when
// absent the family the addresses show (IPv4 when only names are given).
// It gives the numeric addresses of --src and --dst too (the zero Addr for
// names and %default), for selector: each is read once.
func erouteFamily(set *optionSet) (family eroute.Family, numeric [2]netip.Addr, err error) {
	family = eroute.Unspec
	from := ""
	if v, ok := set.get(optEraf); ok {
		f, err := eroute.ParseFamily(v)
		if err != nil {
			return 0, numeric, fmt.Errorf("Invalid address family parameter for eroute: --eraf %q: %v", v, err)
		}
		family, from = f, "--eraf"
	}
	for i, end := range [...]optID{optSrc, optDst} {
		a, ok := eroute.NumericAddr(set.value(end))
		if !ok {
			continue
		}
		numeric[i] = a
		switch f := eroute.FamilyOf(a); {
		case family == eroute.Unspec:
			family, from = f, "--"+end.String()
		case f != family:
			return 0, numeric, fmt.Errorf("Error, --%s %s is %s, but %s is %s", end, set.value(end), f, from, family)
		}
	}
	if family == eroute.Unspec {
		family = eroute.Inet
	}
	return family, numeric, nil
}

// selector reads --src, --dst, --transport-proto and the ports (or the
// fields that other protocols have in their place). exact is the same
// selector with the host bits of --src and --dst as given, which the
// selector itself clears: a policy someone else wrote may keep them.
func (p Parser) selector(set *optionSet, family eroute.Family, numeric [2]netip.Addr) (s, exact eroute.Selector, err error) {
	if v, ok := set.get(optTransportProto); ok {
		if s.Proto, err = p.Names.ParseTransportProto(v); err != nil {
			return s, s, fmt.Errorf("Invalid --transport-proto parameter %q: %v", v, err)
		}
	}
	hasSrcPort, hasDstPort := set.given(optSrcPort), set.given(optDstPort)
	if (hasSrcPort || hasDstPort) && eroute.FieldsOf(s.Proto) != eroute.PortFields {
		return s, s, fmt.Errorf("%s (--transport-proto is %d)", msgPortsNeedTCP, s.Proto)
	}
	if s.SrcPort, err = p.port(set, optSrcPort); err != nil {
		return s, s, err
	}
	if s.DstPort, err = p.port(set, optDstPort); err != nil {
		return s, s, err
	}
	if err = protoFields(set, &s); err != nil {
		return s, s, err
	}
	exact = s
	if exact.Src, err = eroute.ParseSubnetExactAt(set.value(optSrc), numeric[0], family, p.Resolver); err != nil {
		return s, s, fmt.Errorf("Error, %v converting --src argument: %s", err, set.value(optSrc))
	}
	if exact.Dst, err = eroute.ParseSubnetExactAt(set.value(optDst), numeric[1], family, p.Resolver); err != nil {
		return s, s, fmt.Errorf("Error, %v converting --dst argument: %s", err, set.value(optDst))
	}
	s.Src, s.Dst = exact.Src.Masked(), exact.Dst.Masked()
	return s, exact, nil
}

// fieldOptions are the options for what protocols without ports have in
// their place in a selector, with the protocols they go with and the
// largest value each takes.
var fieldOptions = [...]struct {
	id     optID
	fields eroute.Fields
	protos string
	max    uint64
}{
	{optICMPType, eroute.ICMPFields, "icmp or ipv6-icmp (1 or 58)", 255},
	{optICMPCode, eroute.ICMPFields, "icmp or ipv6-icmp (1 or 58)", 255},
	{optGREKey, eroute.GREFields, "gre (47)", 1<<32 - 1},
	{optMHType, eroute.MHFields, "ipv6-mh (135)", 255},
}

// protoFields reads --icmp-type, --icmp-code, --gre-key and --mh-type
// into the selector's SrcPort and DstPort, where the kernel keeps them.
func protoFields(set *optionSet, s *eroute.Selector) error {
	for _, f := range fieldOptions {
		v, ok := set.get(f.id)
		if !ok {
			continue
		}
		if eroute.FieldsOf(s.Proto) != f.fields {
			return fmt.Errorf("--%s needs --transport-proto %s (--transport-proto is %d)", f.id, f.protos, s.Proto)
		}
		n, err := eroute.ParseNumber(v, f.max)
		if err != nil {
			return fmt.Errorf("Invalid --%s parameter %q: %v (want 0 to %d)", f.id, v, err, f.max)
		}
		switch f.id {
		case optICMPType, optMHType:
			s.SrcPort = uint16(n)
		case optICMPCode:
			s.DstPort = uint16(n)
		case optGREKey:
			s.SetGREKey(uint32(n))
		}
	}
	return nil
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
