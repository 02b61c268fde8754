package eroute

import (
	"fmt"
	"net/netip"
)

// Family is an address family, as --eraf and --af name it.
type Family uint8

const (
	// Unspec means the family is not known yet: it follows from the addresses.
	Unspec Family = iota
	// Inet is IPv4 ("inet").
	Inet
	// Inet6 is IPv6 ("inet6").
	Inet6
)

// ParseFamily reads "inet" or "inet6".
func ParseFamily(s string) (Family, error) {
	switch s {
	case "inet":
		return Inet, nil
	case "inet6":
		return Inet6, nil
	}
	return Unspec, fmt.Errorf("must be inet or inet6")
}

// String gives "inet", "inet6", or "unspec".
func (f Family) String() string {
	switch f {
	case Inet:
		return "inet"
	case Inet6:
		return "inet6"
	}
	return "unspec"
}

// Bits is the length of the family's addresses in bits.
func (f Family) Bits() int {
	if f == Inet6 {
		return 128
	}
	return 32
}

// FamilyOf gives the family of an address (Unspec for the zero Addr).
func FamilyOf(a netip.Addr) Family {
	switch {
	case a.Is4():
		return Inet
	case a.Is6():
		return Inet6
	}
	return Unspec
}

// Unspecified gives 0.0.0.0 or ::.
func (f Family) Unspecified() netip.Addr {
	if f == Inet6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}
