package eroute

import "errors"

// ErrReservedSPI is the reason an SPI below MinSPI is refused.
var ErrReservedSPI = errors.New("values less than 0x100 are reserved")

// ParseSPI reads an SPI as --spi takes it: a base-0 number (0x hexadecimal,
// leading-0 octal, else decimal) from 0x100 to 0xffffffff.
func ParseSPI(s string) (uint32, error) {
	n, err := parseBase0(s, 0xffffffff)
	if err != nil {
		return 0, err
	}
	if n < MinSPI {
		return 0, ErrReservedSPI
	}
	return uint32(n), nil
}
