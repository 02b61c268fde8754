package eroute

import (
	"errors"
	"testing"
)

func TestParseBase0(t *testing.T) {
	tests := []struct {
		in   string
		max  uint64
		want uint64
		err  bool
	}{
		{"0", 255, 0, false},
		{"00", 255, 0, false},
		{"7", 255, 7, false},
		{"10", 255, 10, false},
		{"255", 255, 255, false},
		{"256", 255, 0, true},
		{"0x", 255, 0, true}, // strtoul would stop after "0"; trailing "x" is refused
		{"0X", 255, 0, true},
		{"0x0", 255, 0, false},
		{"0x11", 255, 17, false},
		{"0XfF", 255, 255, false},
		{"0x100", 255, 0, true},
		{"017", 255, 15, false},
		{"0400", 0xffffffff, 256, false},
		{"08", 255, 0, true}, // 8 is no octal digit
		{"09", 255, 0, true},
		{"0777", 0xffffffff, 511, false},
		{"4294967295", 0xffffffff, 4294967295, false},
		{"4294967296", 0xffffffff, 0, true},
		{"0xffffffff", 0xffffffff, 0xffffffff, false},
		{"0x100000000", 0xffffffff, 0, true},
		{"037777777777", 0xffffffff, 0xffffffff, false},
		{"18446744073709551615", 1<<64 - 1, 1<<64 - 1, false},
		{"18446744073709551616", 1<<64 - 1, 0, true}, // overflows uint64
		{"99999999999999999999999999", 1<<64 - 1, 0, true},
		{"", 255, 0, true},
		{"-1", 255, 0, true},
		{"+1", 255, 0, true},
		{" 1", 255, 0, true},
		{"1 ", 255, 0, true},
		{"1a", 255, 0, true},
		{"0xg", 255, 0, true},
		{"0x-1", 255, 0, true},
		{"1_000", 0xffff, 0, true}, // strconv's underscores are not C
		{"0b1", 255, 0, true},
		{"0o7", 255, 0, true},
		{"١", 255, 0, true}, // a non-ASCII digit
	}
	for _, tt := range tests {
		got, err := parseBase0(tt.in, tt.max)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseBase0(%q, %d) = %d, %v; want %d, error %v", tt.in, tt.max, got, err, tt.want, tt.err)
		}
	}
}

func TestParseDigits(t *testing.T) {
	tests := []struct {
		in   string
		base int
		want uint64
		err  bool
	}{
		{"ff", 16, 255, false},
		{"FF", 16, 255, false},
		{"0x10", 16, 0, true}, // no prefix here
		{"0010", 10, 10, false},
		{"19", 8, 0, true},
		{"", 16, 0, true},
	}
	for _, tt := range tests {
		got, err := parseDigits(tt.in, tt.base, 0xffffffff)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseDigits(%q, %d) = %d, %v; want %d, error %v", tt.in, tt.base, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSPI(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
		err  error
	}{
		{"0x135", 0x135, nil},
		{"256", 0x100, nil},
		{"0400", 0x100, nil},
		{"0xffffffff", 0xffffffff, nil},
		{"0xff", 0, ErrReservedSPI},
		{"255", 0, ErrReservedSPI},
		{"0", 0, ErrReservedSPI},
	}
	for _, tt := range tests {
		got, err := ParseSPI(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseSPI(%q) = %#x, %v; want %#x, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, bad := range []string{"", "0x100000000", "4294967296", "0x", "08", "x100", "-256"} {
		if got, err := ParseSPI(bad); err == nil || errors.Is(err, ErrReservedSPI) {
			t.Errorf("ParseSPI(%q) = %#x, %v; want a syntax or range error", bad, got, err)
		}
	}
	if ErrReservedSPI.Error() != "values less than 0x100 are reserved" {
		t.Errorf("ErrReservedSPI = %q, the KLIPS text is expected", ErrReservedSPI)
	}
}
