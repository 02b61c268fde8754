package eroute

import (
	"net/netip"
	"strconv"
)

// AppendLine appends the listing line String gives to b, without fmt and
// without allocating for the common SAIDs.
func (e Eroute) AppendLine(b []byte) []byte {
	start := len(b)
	b = strconv.AppendUint(b, e.Count, 10)
	b = padTo(b, start, 10)
	b = append(b, ' ')
	sport, dport := e.ports()
	start = len(b)
	b = appendEndText(b, e.Src, sport)
	b = padTo(b, start, 18)
	b = append(b, " -> "...)
	start = len(b)
	b = appendEndText(b, e.Dst, dport)
	b = padTo(b, start, 18)
	b = append(b, " => "...)
	b = appendSAIDText(b, e.SAID)
	if e.Proto != 0 {
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(e.Proto), 10)
		b = e.appendFields(b)
	}
	return b
}

func padTo(b []byte, start, width int) []byte {
	for n := len(b) - start; n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

func appendEndText(b []byte, p netip.Prefix, port uint16) []byte {
	if port == 0 {
		return p.AppendTo(b)
	}
	if p.Addr().Is6() {
		b = append(b, '[')
		b = p.AppendTo(b)
		b = append(b, "]:"...)
	} else {
		b = p.AppendTo(b)
		b = append(b, ':')
	}
	return strconv.AppendUint(b, uint64(port), 10)
}

func appendSAIDText(b []byte, s SAID) []byte {
	switch s.Proto {
	case ProtoTun, ProtoESP, ProtoAH, ProtoComp:
		if s.IsPassthrough() {
			return append(b, s.String()...)
		}
		b = append(b, s.Proto.String()...) // constant strings from a map: no allocation
	default:
		return append(b, s.String()...) // magic and odd protocols: rare
	}
	b = append(b, "0x"...)
	b = strconv.AppendUint(b, uint64(s.SPI), 16)
	b = append(b, '@')
	if !s.Dst.IsValid() {
		return append(b, "0.0.0.0"...)
	}
	return s.Dst.AppendTo(b)
}
