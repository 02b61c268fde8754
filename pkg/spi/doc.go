// Package spi is `ipsec spi` and `ipsec spigrp`, the KLIPS manual-keying
// commands, without the kernel: their command lines (KLIPS's options,
// checks and messages), the algorithm names and key forms with their
// length checks, what spigrp may make of groups of SAs, and the
// /proc/net/ipsec_spi and ipsec_spigrp listings. The SA itself, and how
// groups live in XFRM (reqids and modes), is the model's, package sadb,
// which the driver shares. The commands drive a Kernel, which the xfrm
// package's Table implements over netlink; tests use a fake.
package spi
