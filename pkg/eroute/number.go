package eroute

import (
	"errors"
	"strconv"
)

// parseBase0 reads an unsigned number the way C's strtoul does with base 0:
// a leading "0x" or "0X" means hexadecimal, a leading "0" octal, anything else
// decimal. Unlike strtoul it refuses signs, spaces and trailing characters,
// and anything above max.
func parseBase0(s string, max uint64) (uint64, error) {
	base := 10
	digits := s
	switch {
	case len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	return parseDigits(digits, base, max)
}

// parseDigits reads plain digits of one base, with no prefix and no sign.
func parseDigits(digits string, base int, max uint64) (uint64, error) {
	if digits == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(digits); i++ {
		if digitValue(digits[i]) >= base {
			return 0, errors.New("non-digit character in number")
		}
	}
	n, err := strconv.ParseUint(digits, base, 64)
	if err != nil || n > max {
		return 0, errors.New("number too large")
	}
	return n, nil
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 99
}

// ParseNumber reads a base-0 number (0x hexadecimal, leading-0 octal, else
// decimal) from 0 to max, as the numeric options take them.
func ParseNumber(s string, max uint64) (uint64, error) {
	return parseBase0(s, max)
}
