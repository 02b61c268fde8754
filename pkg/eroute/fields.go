package eroute

import "strconv"

// Protocols whose selector fields are not ports. The kernel's selector
// keeps what it reads of these protocols' headers in its sport and dport,
// as it keeps ports: an ICMP type and code, the two halves of a GRE key,
// a Mobility Header type. A Selector does the same with SrcPort and DstPort.
const (
	ICMP   = 1
	GRE    = 47
	ICMPv6 = 58
	MH     = 135 // the Mobility Header of Mobile IPv6
)

// Fields says what a selector's SrcPort and DstPort hold for a protocol.
type Fields uint8

// The kinds of fields.
const (
	NoFields   Fields = iota // the protocol has none: both are 0
	PortFields               // TCP, UDP, DCCP, SCTP, UDP-Lite: ports
	ICMPFields               // ICMP, ICMPv6: SrcPort the type, DstPort the code
	GREFields                // GRE: the key, SrcPort its high 16 bits, DstPort the low
	MHFields                 // Mobility Header: SrcPort the MH type
)

// FieldsOf gives what SrcPort and DstPort hold for a protocol, as the
// kernel reads them from a packet (xfrm_flowi_sport and dport).
func FieldsOf(proto uint8) Fields {
	switch proto {
	case TCP, UDP, 33, 132, 136: // DCCP, SCTP, UDP-Lite
		return PortFields
	case ICMP, ICMPv6:
		return ICMPFields
	case GRE:
		return GREFields
	case MH:
		return MHFields
	}
	return NoFields
}

// GREKey is the GRE key a selector holds (0: any key).
func (s Selector) GREKey() uint32 { return uint32(s.SrcPort)<<16 | uint32(s.DstPort) }

// SetGREKey stores a GRE key as the kernel's selector holds it.
func (s *Selector) SetGREKey(key uint32) { s.SrcPort, s.DstPort = uint16(key>>16), uint16(key) }

// ports gives the ports the ends show: the fields when they are ports.
func (s Selector) ports() (src, dst uint16) {
	if s.Proto == 0 || FieldsOf(s.Proto) == PortFields {
		return s.SrcPort, s.DstPort
	}
	return 0, 0
}

// appendFields appends what the listing shows after :PROTO for fields
// that are not ports, as the options that give them: " icmp-type 135",
// " icmp-code 4", " gre-key 5", " mh-type 1". Zero is "any" and not shown.
func (s Selector) appendFields(b []byte) []byte {
	word := func(b []byte, name string, v uint64) []byte {
		if v == 0 {
			return b
		}
		b = append(b, ' ')
		b = append(b, name...)
		b = append(b, ' ')
		return strconv.AppendUint(b, v, 10)
	}
	switch FieldsOf(s.Proto) {
	case ICMPFields:
		b = word(b, "icmp-type", uint64(s.SrcPort))
		b = word(b, "icmp-code", uint64(s.DstPort))
	case GREFields:
		b = word(b, "gre-key", uint64(s.GREKey()))
	case MHFields:
		b = word(b, "mh-type", uint64(s.SrcPort))
	}
	return b
}
