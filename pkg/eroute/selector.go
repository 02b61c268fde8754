package eroute

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
)

// Transport protocols that may carry ports.
const (
	TCP = 6
	UDP = 17
)

// Selector picks the packets an eroute acts on. Prefixes are always masked;
// zero Proto means every protocol and zero ports mean every port. For
// protocols without ports, SrcPort and DstPort hold what the kernel keeps
// in their place (see FieldsOf): an ICMP type and code, a GRE key, a
// Mobility Header type, 0 again meaning any.
type Selector struct {
	Src, Dst         netip.Prefix
	Proto            uint8
	SrcPort, DstPort uint16
}

// Family is the family of the selector's addresses.
func (s Selector) Family() Family { return FamilyOf(s.Src.Addr()) }

// Validate checks what the parser guarantees, for selectors built in code.
func (s Selector) Validate() error {
	switch {
	case !s.Src.IsValid() || !s.Dst.IsValid():
		return fmt.Errorf("selector needs a source and a destination")
	case s.Src.Addr().Is4() != s.Dst.Addr().Is4():
		return fmt.Errorf("source %s and destination %s are of different families", s.Src, s.Dst)
	case s.Src != s.Src.Masked() || s.Dst != s.Dst.Masked():
		return fmt.Errorf("prefix with host bits set")
	case (s.SrcPort != 0 || s.DstPort != 0) && FieldsOf(s.Proto) == NoFields:
		return fmt.Errorf("ports need TCP or UDP")
	case s.SrcPort > 0xff && (FieldsOf(s.Proto) == ICMPFields || FieldsOf(s.Proto) == MHFields),
		s.DstPort > 0xff && FieldsOf(s.Proto) == ICMPFields, s.DstPort != 0 && FieldsOf(s.Proto) == MHFields:
		return fmt.Errorf("ICMP types and codes and MH types are 0 to 255, and MH has no code")
	}
	return nil
}

// String gives the listing's SRC -> DST form, without padding, with the
// protocol's fields that are not ports after it (see FieldsOf).
func (s Selector) String() string {
	sport, dport := s.ports()
	str := EndText(s.Src, sport) + " -> " + EndText(s.Dst, dport)
	if s.Proto != 0 {
		str += ":" + strconv.Itoa(int(s.Proto))
	}
	return string(s.appendFields([]byte(str)))
}

// EndText gives one end as the listing prints it: addr/bits, and with a port
// addr/bits:PORT for IPv4 or [addr/bits]:PORT for IPv6.
func EndText(p netip.Prefix, port uint16) string {
	return string(appendEndText(nil, p, port))
}

// Compare orders selectors as the KLIPS table listed them: by source, then
// destination (address, then prefix length), IPv4 before IPv6, then by
// protocol and ports.
func Compare(a, b Selector) int {
	return cmp.Or(
		comparePrefix(a.Src, b.Src),
		comparePrefix(a.Dst, b.Dst),
		cmp.Compare(a.Proto, b.Proto),
		cmp.Compare(a.SrcPort, b.SrcPort),
		cmp.Compare(a.DstPort, b.DstPort),
	)
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// Key is a selector packed into 40 bytes whose order, compared byte by
// byte, is Compare's: byte 0 the family (0 IPv4, 1 IPv6), 1-16 the source
// address (IPv4 in 1-4), 17 its prefix length, 18-33 the destination, 34
// its length, 35 the protocol, 36-37 the source port, 38-39 the
// destination port, big-endian. Sorting keys costs far less than sorting
// selectors with Compare, and two selectors are equal when their keys are.
type Key [40]byte

// Key packs the selector; see Key.
func (s Selector) Key() Key {
	var k Key
	if s.Src.Addr().Is6() {
		k[0] = 1
	}
	putKeyAddr(k[1:17], s.Src.Addr())
	k[17] = uint8(s.Src.Bits())
	putKeyAddr(k[18:34], s.Dst.Addr())
	k[34] = uint8(s.Dst.Bits())
	k[35] = s.Proto
	k[36], k[37] = byte(s.SrcPort>>8), byte(s.SrcPort)
	k[38], k[39] = byte(s.DstPort>>8), byte(s.DstPort)
	return k
}

func putKeyAddr(b []byte, a netip.Addr) {
	if a.Is4() {
		a4 := a.As4()
		copy(b, a4[:])
		return
	}
	a16 := a.As16()
	copy(b, a16[:])
}

// Specificity ranks how specific a selector is, as the KLIPS radix tree
// matched: a longer source prefix wins, then a longer destination prefix,
// then a set protocol, then a set destination port, then a set source port.
// A higher rank is more specific. Two selectors that overlap and have the
// same rank are the same selector. Ranks run from 0 to MaxSpecificity.
func (s Selector) Specificity() uint32 {
	r := uint32(s.Src.Bits())
	r = r*129 + uint32(s.Dst.Bits())
	r = r*2 + b2u(s.Proto != 0)
	r = r*2 + b2u(s.DstPort != 0)
	r = r*2 + b2u(s.SrcPort != 0)
	return r
}

// MaxSpecificity is the rank of the most specific IPv6 selector.
const MaxSpecificity = ((128*129+128)*2+1)*2*2 + 2 + 1

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
