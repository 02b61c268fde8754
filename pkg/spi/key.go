package spi

import (
	"errors"
	"fmt"
	"strings"
)

// DecodeKey reads key data as KLIPS's ttodata did for --enckey, --authkey
// and --iv: "0x" and hexadecimal digit pairs (one "_" allowed between
// pairs), "0s" and base64 (RFC 2045, "=" padding at the end), or "0t" and
// literal text. The prefix is case-insensitive. The errors are KLIPS's
// texts; none of them repeats the key.
func DecodeKey(s string) ([]byte, error) {
	if len(s) < 2 {
		return nil, errors.New("input too short to be valid")
	}
	if s[0] != '0' {
		return nil, errors.New("input does not begin with format prefix")
	}
	body := s[2:]
	var b []byte
	var err error
	switch s[1] {
	case 'x', 'X':
		b, err = decodeHex(body)
	case 's', 'S':
		b, err = decodeBase64(body)
	case 't', 'T':
		b = []byte(body)
	default:
		return nil, errors.New("unknown format prefix")
	}
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, errors.New("no data bytes specified by input")
	}
	return b, nil
}

// unknownChar is ttodata's complaint, with a non-printable character
// written as \ooo.
func unknownChar(c byte) error {
	if c < 0x20 || c >= 0x7f {
		return fmt.Errorf("unknown character (`\\%03o') in input", c)
	}
	return fmt.Errorf("unknown character (`%c') in input", c)
}

func decodeHex(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)/2)
	for i := 0; i < len(s); {
		if s[i] == '_' {
			// Only between pairs: not first, not doubled, not last.
			if i == 0 || s[i-1] == '_' || i == len(s)-1 {
				return nil, unknownChar('_')
			}
			i++
			continue
		}
		hi := hexValue(s[i])
		if hi < 0 {
			return nil, unknownChar(s[i])
		}
		if i+1 >= len(s) || s[i+1] == '_' {
			return nil, errors.New("input ends in mid-byte, perhaps truncated")
		}
		lo := hexValue(s[i+1])
		if lo < 0 {
			return nil, unknownChar(s[i+1])
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return out, nil
}

func hexValue(c byte) int {
	if c >= 'A' && c <= 'F' {
		c += 'a' - 'A'
	}
	return strings.IndexByte("0123456789abcdef", c)
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// decodeBase64 reads groups of four characters; "=" pads the last group.
// Bits the padding drops must be zero, as ttodata wanted.
func decodeBase64(s string) ([]byte, error) {
	if len(s)%4 != 0 {
		return nil, errors.New("input ends in mid-byte, perhaps truncated")
	}
	out := make([]byte, 0, len(s)/4*3)
	for g := 0; g < len(s); g += 4 {
		group := s[g : g+4]
		last := g+4 == len(s)
		pad := len(group) - len(strings.TrimRight(group, "="))
		if pad > 2 || (pad > 0 && !last) {
			return nil, unknownChar('=')
		}
		var v uint32
		for i := 0; i < 4-pad; i++ {
			d := strings.IndexByte(base64Alphabet, group[i])
			if d < 0 {
				return nil, unknownChar(group[i])
			}
			v |= uint32(d) << (18 - 6*i)
		}
		bytes := []byte{byte(v >> 16), byte(v >> 8), byte(v)}
		n := 3 - pad
		for _, dropped := range bytes[n:] {
			if dropped != 0 {
				return nil, errors.New("bad (non-zero) padding at end of base64 input")
			}
		}
		out = append(out, bytes[:n]...)
	}
	return out, nil
}
