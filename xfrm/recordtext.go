package xfrm

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strconv"

	"github.com/eroute/eroute/pkg/eroute"
)

// appendRecordLine appends the listing line of a record with the given
// packet count: byte for byte eroute.Eroute.AppendLine of r.eroute() with
// that Count, without building the eroute or going through netip's
// formatting (a listing of 100,000 lines spent a fifth of its user time
// there), straight into b's free room. Selectors of the
// protocols whose fields are not ports (ICMP, GRE, MH) and IPv4-mapped
// addresses are rare and take AppendLine's own path.
func appendRecordLine(b []byte, r *record, count uint64) []byte {
	var k [40]byte
	for i, w := range r.key {
		be.PutUint64(k[8*i:], w)
	}
	v6 := k[0] != 0
	proto := k[35]
	if shownFields[proto] == fieldsOther ||
		!plainPrefix(k[1:17], k[17], v6) || !plainPrefix(k[18:34], k[34], v6) ||
		r.saidFam == 6 && isMapped4(r.saidDst[:]) {
		e := r.eroute()
		e.Count = count
		return e.AppendLine(b)
	}
	var sport, dport uint16
	if shownFields[proto] == fieldsPorts {
		sport, dport = be.Uint16(k[36:]), be.Uint16(k[38:])
	}
	b = slices.Grow(b, lineMax)
	at := len(b)
	line := (*[lineMax]byte)(b[at : at+lineMax])
	n := putCount(line, count)
	n = putPad(line, n, 10)
	line[n] = ' '
	n++
	n = putEnd(line, n, k[1:17], k[17], v6, sport)
	n += copy(line[n:], " -> ")
	n = putEnd(line, n, k[18:34], k[34], v6, dport)
	n += copy(line[n:], " => ")
	if n, ok := putRecordSA(line, n, r); ok {
		b = b[:at+n]
	} else {
		b = appendRecordSAID(b[:at+n], r)
	}
	if proto != 0 {
		b = append(b, ':')
		b = appendDecimal8(b, proto)
	}
	return b
}

// What a line shows of a selector's SrcPort and DstPort, by protocol (see
// eroute.FieldsOf): nothing (no protocol's fields, or none at all), ports
// (protocol 0 and those of ports), or words after the protocol.
const (
	fieldsNone = iota
	fieldsPorts
	fieldsOther
)

var shownFields = func() (t [256]uint8) {
	for p := range t {
		switch eroute.FieldsOf(uint8(p)) {
		case eroute.PortFields:
			t[p] = fieldsPorts
		case eroute.NoFields:
		default:
			t[p] = fieldsOther
		}
	}
	t[0] = fieldsPorts
	return t
}()

// putEnd writes one end of the selector padded to 18 bytes, as
// appendEndText does: PREFIX, or with a port PREFIX:PORT (IPv4) or
// [PREFIX]:PORT (IPv6).
func putEnd(s *[lineMax]byte, n int, addr []byte, bits byte, v6 bool, port uint16) int {
	start := n
	if port != 0 && v6 {
		s[n] = '['
		n++
	}
	n = putPrefixText(s, n, addr, bits, v6)
	if port != 0 {
		if v6 {
			s[n] = ']'
			n++
		}
		s[n] = ':'
		n = len(strconv.AppendUint(s[:n+1], uint64(port), 10))
	}
	return putPad(s, n, start+18)
}

// lineMax bounds the bytes the listing's fast path puts in a line's array:
// a count of 20 digits, two IPv6 ends of 51 ([PREFIX]:PORT), an SA's SAID of
// 54 (comp0xffffffff@ and 39), the separators, and slack for putDecimal8's
// and putHex16's whole-word writes.
const lineMax = 192

// putCount writes the count at the start of the line.
func putCount(s *[lineMax]byte, count uint64) int {
	if count == 0 {
		s[0] = '0'
		return 1
	}
	return len(strconv.AppendUint(s[:0], count, 10))
}

const spaces = "                  " // 18, the widest padding

// putPad pads with spaces up to end.
func putPad(s *[lineMax]byte, n, end int) int {
	if n >= end {
		return n
	}
	copy(s[n:end], spaces)
	return end
}

// plainPrefix tells whether appendPrefixBytes writes the prefix as netip
// does: a valid length, and no IPv4-mapped IPv6 address (netip writes
// those as ::ffff:a.b.c.d).
func plainPrefix(addr []byte, bits byte, v6 bool) bool {
	if !v6 {
		return bits <= 32
	}
	return bits <= 128 && !isMapped4(addr)
}

func isMapped4(a []byte) bool {
	return a[10] == 0xff && a[11] == 0xff && be.Uint64(a) == 0 && a[8] == 0 && a[9] == 0
}

func padSpaces(b []byte, start, width int) []byte {
	for n := len(b) - start; n < width; n++ {
		b = append(b, ' ')
	}
	return b
}

// putRecordSA writes the SAID of an SA (PROTO0xSPI@ADDR, as
// appendSAIDText does); false, writing nothing, for any other SAID.
func putRecordSA(s *[lineMax]byte, n int, r *record) (int, bool) {
	name := saProtoNames[r.proto]
	if name == "" || r.saidFam == 0 ||
		r.proto == eroute.ProtoTun && r.spi == 0 && r.saidDst == [16]byte{} { // %passthrough4, 6
		return n, false
	}
	n += copy(s[n:], name)
	n += copy(s[n:], "0x")
	n = putHex32(s, n, r.spi)
	s[n] = '@'
	n++
	if r.saidFam == 4 {
		return putAddr4(s, n, r.saidDst[:4]), true
	}
	return putAddr6(s, n, r.saidDst[:]), true
}

// putHex32 writes x in hex without leading zeros.
func putHex32(s *[lineMax]byte, n int, x uint32) int {
	if x>>16 != 0 {
		n = putHex16(s, n, uint16(x>>16))
		return putHex16Full(s, n, uint16(x))
	}
	return putHex16(s, n, uint16(x))
}

// appendRecordSAID appends the SAID's text as eroute's appendSAIDText
// does: PROTO0xSPI@ADDR for an SA, the magic name otherwise.
func appendRecordSAID(b []byte, r *record) []byte {
	switch r.proto {
	case eroute.ProtoTun, eroute.ProtoESP, eroute.ProtoAH, eroute.ProtoComp:
	default:
		return append(b, r.said().String()...)
	}
	if r.proto == eroute.ProtoTun && r.spi == 0 && r.saidFam != 0 && r.saidDst == [16]byte{} {
		return append(b, r.said().String()...) // %passthrough4, %passthrough6
	}
	b = append(b, saProtoNames[r.proto]...)
	b = append(b, "0x"...)
	b = strconv.AppendUint(b, uint64(r.spi), 16)
	return append(b, "@0.0.0.0"...) // no address (putRecordSA writes the others)
}

// putPrefixText writes an address and its length.
func putPrefixText(s *[lineMax]byte, n int, addr []byte, bits byte, v6 bool) int {
	if v6 {
		n = putAddr6(s, n, addr)
	} else {
		n = putAddr4(s, n, addr[:4])
	}
	s[n] = '/'
	return putDecimal8(s, n+1, bits)
}

func putAddr4(s *[lineMax]byte, n int, a []byte) int {
	n = putDecimal8(s, n, a[0])
	s[n] = '.'
	n = putDecimal8(s, n+1, a[1])
	s[n] = '.'
	n = putDecimal8(s, n+1, a[2])
	s[n] = '.'
	return putDecimal8(s, n+1, a[3])
}

// decimal8 holds each byte's decimal digits, then their number.
var decimal8 = func() (t [256][4]byte) {
	for x := range t {
		d := strconv.Itoa(x)
		copy(t[x][:], d)
		t[x][3] = byte(len(d))
	}
	return t
}()

func appendDecimal8(b []byte, x byte) []byte {
	d := &decimal8[x]
	return append(b, d[:d[3]]...)
}

// putDecimal8 writes x in decimal at s[n:], giving the index after it. It
// writes three bytes whatever x's length: the next write covers the rest.
func putDecimal8(s *[lineMax]byte, n int, x byte) int {
	d := &decimal8[x]
	copy(s[n:n+3], d[:3])
	return n + int(d[3])
}

// zeroRuns gives, for the mask of an IPv6 address's zero groups (bit i for
// group i), the longest run of two or more zero groups that RFC 5952 and
// netip write as "::", the first of equal runs: its start and end, or 8, 8.
var zeroRuns = func() (t [256][2]uint8) {
	for m := range t {
		start, end := 8, 8
		for i := 0; i < 8; {
			if m>>i&1 == 0 {
				i++
				continue
			}
			j := i
			for j < 8 && m>>j&1 == 1 {
				j++
			}
			if j-i >= 2 && j-i > end-start {
				start, end = i, j
			}
			i = j
		}
		t[m] = [2]uint8{uint8(start), uint8(end)}
	}
	return t
}()

// putAddr6 writes an IPv6 address as RFC 5952 and netip do: groups in
// lower-case hex without leading zeros, the longest run of two or more
// zero groups (the first of equal runs) as "::".
func putAddr6(s *[lineMax]byte, n int, a []byte) int {
	var g [8]uint16
	zeros := 0
	for i := range g {
		g[i] = be.Uint16(a[2*i:])
		if g[i] == 0 {
			zeros |= 1 << i
		}
	}
	run := zeroRuns[zeros]
	zeroStart, zeroEnd := int(run[0]), int(run[1])
	for i := 0; i < 8; i++ {
		if i == zeroStart {
			s[n], s[n+1] = ':', ':'
			n += 2
			i = zeroEnd - 1
			continue
		}
		if i > 0 && i != zeroEnd {
			s[n] = ':'
			n++
		}
		n = putHex16(s, n, g[i])
	}
	return n
}

// hexPairs holds each byte's two hex digits, the first in the low byte.
var hexPairs = func() (t [256]uint16) {
	for x := range t {
		t[x] = uint16(hexDigits[x>>4]) | uint16(hexDigits[x&0xf])<<8
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// putHex16 writes x in hex without leading zeros at s[n:], giving the
// index after it. It writes four bytes whatever x's length, as one word:
// the next write covers the rest.
func putHex16(s *[lineMax]byte, n int, x uint16) int {
	digits := max(1, (bits.Len16(x)+3)/4)
	w := putHex16Word(x) >> (8 * (4 - digits)) // without the leading zeros
	binary.LittleEndian.PutUint32(s[n:n+4], w)
	return n + digits
}

// putHex16Full writes x as four hex digits.
func putHex16Full(s *[lineMax]byte, n int, x uint16) int {
	binary.LittleEndian.PutUint32(s[n:n+4], putHex16Word(x))
	return n + 4
}

// putHex16Word gives the four hex digits of x as they lie in memory in a
// little-endian word.
func putHex16Word(x uint16) uint32 {
	return uint32(hexPairs[x>>8]) | uint32(hexPairs[x&0xff])<<16
}

// saProtoNames are eroute.Proto's names of the SA protocols, without its
// map lookup.
var saProtoNames = [256]string{eroute.ProtoTun: "tun", eroute.ProtoESP: "esp", eroute.ProtoAH: "ah", eroute.ProtoComp: "comp"}
