package xfrm

import (
	"strconv"

	"github.com/eroute/eroute/pkg/eroute"
)

// appendRecordLine appends the listing line of a record with the given
// packet count: byte for byte eroute.Eroute.AppendLine of r.eroute() with
// that Count, without building the eroute or going through netip's
// formatting (a listing of 100,000 lines spent a fifth of its user time
// there). Selectors with a protocol or ports, SAIDs without an address
// and IPv4-mapped addresses are rare and take AppendLine's own path.
func appendRecordLine(b []byte, r *record, count uint64) []byte {
	var k [40]byte
	for i, w := range r.key {
		be.PutUint64(k[8*i:], w)
	}
	v6 := k[0] != 0
	if k[35] != 0 || k[36] != 0 || k[37] != 0 || k[38] != 0 || k[39] != 0 ||
		!plainPrefix(k[1:17], k[17], v6) || !plainPrefix(k[18:34], k[34], v6) ||
		r.saidFam == 6 && isMapped4(r.saidDst[:]) {
		e := r.eroute()
		e.Count = count
		return e.AppendLine(b)
	}
	start := len(b)
	b = strconv.AppendUint(b, count, 10)
	b = padSpaces(b, start, 10)
	b = append(b, ' ')
	start = len(b)
	b = appendPrefixBytes(b, k[1:17], k[17], v6)
	b = padSpaces(b, start, 18)
	b = append(b, " -> "...)
	start = len(b)
	b = appendPrefixBytes(b, k[18:34], k[34], v6)
	b = padSpaces(b, start, 18)
	b = append(b, " => "...)
	return appendRecordSAID(b, r)
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
	b = append(b, '@')
	switch r.saidFam {
	case 4:
		return appendAddr4(b, r.saidDst[:4])
	case 6:
		return appendAddr6(b, r.saidDst[:])
	}
	return append(b, "0.0.0.0"...)
}

func appendPrefixBytes(b []byte, addr []byte, bits byte, v6 bool) []byte {
	if v6 {
		b = appendAddr6(b, addr)
	} else {
		b = appendAddr4(b, addr[:4])
	}
	b = append(b, '/')
	return appendDecimal8(b, bits)
}

// The addresses are written into an array first: appending byte by byte
// cost twice as much.

func appendAddr4(b []byte, a []byte) []byte {
	var s [15]byte
	n := putDecimal8(&s, 0, a[0])
	s[n] = '.'
	n = putDecimal8(&s, n+1, a[1])
	s[n] = '.'
	n = putDecimal8(&s, n+1, a[2])
	s[n] = '.'
	n = putDecimal8(&s, n+1, a[3])
	return append(b, s[:n]...)
}

func appendDecimal8(b []byte, x byte) []byte {
	var s [15]byte
	return append(b, s[:putDecimal8(&s, 0, x)]...)
}

// putDecimal8 writes x in decimal at s[n:], giving the index after it.
func putDecimal8(s *[15]byte, n int, x byte) int {
	switch {
	case x >= 100:
		s[n], s[n+1], s[n+2] = '0'+x/100, '0'+x/10%10, '0'+x%10
		return n + 3
	case x >= 10:
		s[n], s[n+1] = '0'+x/10, '0'+x%10
		return n + 2
	}
	s[n] = '0' + x
	return n + 1
}

// appendAddr6 writes an IPv6 address as RFC 5952 and netip do: groups in
// lower-case hex without leading zeros, the longest run of two or more
// zero groups (the first of equal runs) as "::".
func appendAddr6(b []byte, a []byte) []byte {
	var g [8]uint16
	for i := range g {
		g[i] = be.Uint16(a[2*i:])
	}
	zeroStart, zeroEnd := 8, 8
	for i := 0; i < 8; {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && g[j] == 0 {
			j++
		}
		if j-i >= 2 && j-i > zeroEnd-zeroStart {
			zeroStart, zeroEnd = i, j
		}
		i = j
	}
	var s [41]byte
	n := 0
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
		n = putHex16(&s, n, g[i])
	}
	return append(b, s[:n]...)
}

const hexDigits = "0123456789abcdef"

// putHex16 writes x in hex without leading zeros at s[n:], giving the
// index after it.
func putHex16(s *[41]byte, n int, x uint16) int {
	switch {
	case x >= 0x1000:
		s[n], s[n+1], s[n+2], s[n+3] = hexDigits[x>>12], hexDigits[x>>8&0xf], hexDigits[x>>4&0xf], hexDigits[x&0xf]
		return n + 4
	case x >= 0x100:
		s[n], s[n+1], s[n+2] = hexDigits[x>>8], hexDigits[x>>4&0xf], hexDigits[x&0xf]
		return n + 3
	case x >= 0x10:
		s[n], s[n+1] = hexDigits[x>>4], hexDigits[x&0xf]
		return n + 2
	}
	s[n] = hexDigits[x]
	return n + 1
}

// saProtoNames are eroute.Proto's names of the SA protocols, without its
// map lookup.
var saProtoNames = [256]string{eroute.ProtoTun: "tun", eroute.ProtoESP: "esp", eroute.ProtoAH: "ah", eroute.ProtoComp: "comp"}
