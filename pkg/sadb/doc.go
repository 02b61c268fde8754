// Package sadb is the model of the Security Associations (KLIPS's SADB,
// XFRM's states): an SA with its algorithms as data, lifetimes, NAT
// traversal and the kernel's counters, and how groups of SAs (KLIPS
// spigrp) live in the kernel, as reqids and modes (see Group).
//
// The package has no kernel in it and no command line: the driver
// (package xfrm) reads and writes these types over netlink, and the
// ipsec spi and ipsec spigrp commands (pkg/spi) parse, check and list
// them, so that neither imports the other.
package sadb
