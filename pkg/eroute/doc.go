// Package eroute is the model of a KLIPS extended route ("eroute"): the
// selector that picks outbound packets, the Security Association IDentifier
// (SAID) that says what happens to them, and the text forms of both, as the
// ipsec_eroute(8) manual page and the /proc/net/ipsec_eroute listing wrote
// them.
//
// The package has no kernel in it: it parses and prints. Parsing follows the
// KLIPS grammar (short IPv4 forms, hexadecimal addresses, dotted masks, base-0
// numbers, names from /etc/protocols and /etc/services, host names through a
// Resolver); printing gives the canonical text, and parsing the canonical text
// of any value gives the value back.
//
// It is also the model the driver (package xfrm) and the command line
// (pkg/cli) share, so that neither translates the other's types: a policy
// of the table as listed (Entry, Template), a change of a batch (Op,
// OpKind) and its refusals (BatchError, ForeignError), and the monitor's
// holds (MonitorHold, Scope, ErrOverrun). xfrm names them too, as aliases
// (xfrm.Entry is eroute.Entry).
package eroute
