package cli

import (
	"fmt"

	"github.com/eroute/eroute/pkg/eroute"
)

// said reads --said, or --af --edst --spi --proto. An incomplete second form
// gives the zero SAID: checkSAIDForm allowed that only for --del, which
// ignores the SAID (but still refuses bad values, as KLIPS did).
func (p Parser) said(set *optionSet, family eroute.Family) (eroute.SAID, error) {
	if text, ok := set.get(optSaid); ok {
		if text == "%passthrough" {
			return eroute.PassthroughFor(family), nil
		}
		s, err := eroute.ParseSAID(text, p.Resolver)
		if err != nil {
			return s, fmt.Errorf("Error, %v converting --said argument: %s", err, text)
		}
		return s, nil
	}
	return p.saidFromParts(set)
}

func (p Parser) saidFromParts(set *optionSet) (eroute.SAID, error) {
	var s eroute.SAID
	var err error
	af := eroute.Unspec
	if v, ok := set.get(optAf); ok {
		if af, err = eroute.ParseFamily(v); err != nil {
			return s, fmt.Errorf("Invalid address family parameter for SAID: --af %q: %v", v, err)
		}
	}
	if v, ok := set.get(optProto); ok {
		if s.Proto, err = eroute.ParseProto(v); err != nil {
			return s, fmt.Errorf("Invalid PROTO parameter: --proto %q: %v", v, err)
		}
	}
	if v, ok := set.get(optSpi); ok {
		if s.SPI, err = parseSPI(v); err != nil {
			return s, err
		}
	}
	if v, ok := set.get(optEdst); ok {
		if eroute.AddrFamily(v) != eroute.Unspec && af != eroute.Unspec && eroute.AddrFamily(v) != af {
			return s, fmt.Errorf("Error, --edst %s is %s, but --af is %s", v, eroute.AddrFamily(v), af)
		}
		if s.Dst, err = eroute.ParseAddr(v, af, p.Resolver); err == nil {
			err = eroute.CheckSADst(s.Dst)
		}
		if err != nil {
			return eroute.SAID{}, fmt.Errorf("Error, %v converting --edst argument: %s", err, v)
		}
	}
	if !set.given(optAf) || s.Proto == 0 || s.SPI == 0 || !s.Dst.IsValid() {
		return eroute.SAID{}, nil
	}
	return s, nil
}

// parseSPI reads --spi: a base-0 number from 0x100 to 0xffffffff.
func parseSPI(v string) (uint32, error) {
	spi, err := eroute.ParseSPI(v)
	if err != nil {
		return 0, fmt.Errorf("Invalid SPI parameter %q: %v", v, err)
	}
	return spi, nil
}

// checkSAIDFamily lets only tunnels cross families: a transport SA protects
// the packet itself, so its address must be of the packet's family.
func checkSAIDFamily(e *eroute.Eroute) error {
	s := e.SAID
	if s.Proto == eroute.ProtoInt || s.IsPassthrough() || s.Proto == eroute.ProtoTun {
		return nil
	}
	if f := eroute.FamilyOf(s.Dst); f != e.Family() {
		return fmt.Errorf("Error, SAID %s is %s but the eroute is %s: only a tun SAID may carry one family inside the other",
			s.AFString(), f, e.Family())
	}
	// XFRM finds a transport SA by the packet's own destination: to a
	// subnet the eroute would drop every packet (KLIPS sent them to the
	// SA's address anyway). A single other host is left as KLIPS scripts
	// write it; see DESIGN.md.
	if e.Dst.Bits() != e.Dst.Addr().BitLen() {
		return fmt.Errorf("Error, SAID %s is a transport SA, which protects packets to %s only, not to the subnet --dst %s: use a tun SAID for a subnet",
			s.AFString(), s.Dst, e.Dst)
	}
	return nil
}
