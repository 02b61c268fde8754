// Package xfrm stores eroutes in the Linux XFRM policy table, over netlink
// (NETLINK_XFRM). The kernel is the only state: there are no side files, so
// everything an eroute says must be written into, and read back from, the
// policy itself.
//
// # Translation
//
// An eroute is ONE policy: dir out (XFRM_POLICY_OUT), type main, no mark, no
// if_id, in the table of the namespace the Table was opened in.
//
// Selector: family (AF_INET or AF_INET6), the source and destination
// prefixes (saddr/prefixlen_s, daddr/prefixlen_d), proto, and sport/dport
// with the mask 0xffff when a port is set (ports and masks big-endian, as the
// kernel wants), ifindex 0, user 0.
//
// Priority encodes specificity, so that the most specific eroute wins
// whatever the order the eroutes were added in (the kernel takes the matching
// policy with the LOWEST priority value):
//
//	priority = PrioBase + (eroute.MaxSpecificity - Specificity(selector))*16 + kind
//
// The kind, in the low 4 bits, says which SAID the policy realises; it is how
// %reject reads back as %reject rather than %drop, %passthrough6 as
// %passthrough6, %hold as %hold:
//
//	kind SAID            action  templates
//	0    ah/esp/comp     allow   1: id.proto 51/50/108, mode transport,
//	                             spi SPI, daddr = SAID address, family = its family
//	0    tun             allow   1: ESP (50), mode tunnel, spi SPI,
//	                             daddr = SAID address, saddr = unspecified (the
//	                             kernel picks a source), family = the SAID
//	                             address's family (may differ from the selector's)
//	1    %pass           allow   none
//	2    %passthrough4   allow   none
//	3    %passthrough6   allow   none
//	4    %drop           block   none
//	5    %reject         block   none
//	6    %hold           block   none (for now)
//	7    %trap           allow   1: ESP, mode transport, spi 0, daddr zero, family =
//	8    %trapsubnet     allow      the selector's; no state matches it, so the
//	                                kernel sends an ACQUIRE
//	9    %hold of a      block   none; lft.hard_add_expires_seconds = its
//	     monitor                 timeout, so the kernel deletes it (AddHold)
//
// Every template has reqid 0, saddr zero, aalgos/ealgos/calgos 0xffffffff (any
// algorithm, as iproute2 writes them) and is not optional.
//
// Reading back (ErouteOf): when the priority is exactly the one the decoded
// selector and some kind give, and the policy is exactly what PolicyOf writes
// for that kind (action, templates, no mark, no if_id, no security context),
// the kind's SAID is the eroute's (kind 9 also needs a non-zero expiry;
// every other kind needs none). Anything else was written by someone else
// (ip xfrm, an IKE daemon) and is shown as closely as an eroute can: block is
// %drop; allow without templates is %pass; with templates, the tunnel-mode
// template if there is one, else the first: ESP in tunnel mode is
// tun SPI@daddr, any other is PROTO SPI@daddr (esp, ah, comp, or the protocol
// number), with the SPI as the template has it (IKE daemons use 0). No shape
// of policy makes a listing fail: marks, if_ids, several templates, security
// contexts are all read. Only a selector of neither family could not be an
// eroute; it would be left out of the listing and of Clear alike (Linux 6.18
// refuses such selectors with "Invalid selector family", so none exist).
//
// Ownership: a policy that reads back as an eroute of a kind is eroute's
// own; any other is foreign (an IKE daemon's, ip xfrm's). Clear takes only
// eroute's own unless told all; a batch's Replace and Delete ops without
// Force are refused (*ForeignError) when their policy is foreign; Lookup
// and Find tell the commands who holds a selector. A foreign policy whose
// listed template names no SPI is listed as %trap when no SA answers it
// (by reqid and destination), else with those SAs' packet count; the
// listing keeps foreign policies decoded beside their records (Entry gives
// their priority, mark and templates), and gives for each own eroute the
// foreign policy that covers it with a lower priority value, if any
// (Entry.ShadowedBy; Shadow for one eroute).
//
// Lifetime: eroutes have no limits and no expiry (the kernel enforces no
// byte or packet limits on policies anyway); only a monitor hold expires.
//
// Count: the kernel keeps no per-policy counter. An eroute whose SAID names an
// SA gets the packet count (curlft.packets) of the SA with that daddr, SPI and
// protocol (ESP for tun), from one dump of the SAs per listing; the others
// count 0.
//
// # Batches
//
// Apply (and ApplyFunc) carries out many adds, replaces, deletes and clears
// as one change, all or nothing. The requests are pipelined over the
// table's one socket: many to a datagram, without NLM_F_ACK, so the kernel
// answers only the ones it refuses (NLMSG_ERROR with the request's
// sequence number); a final NLMSG_NOOP with NLM_F_ACK is the barrier after
// which every answer is in. A datagram carries no more requests than the
// receive buffer (4 MiB asked, SO_RCVBUFFORCE) holds refusals, and the
// queue is read after each datagram, so no refusal is ever dropped; sending
// stops after the datagram in which one came. NETLINK_CAP_ACK keeps the
// refusals small. When one op was refused, Apply undoes the others exactly
// (see Apply: the policy contents and indexes; nothing the batch did not
// change is written) and returns a *BatchError naming the first refused
// op; ApplyFuncUntil also stops, and undoes, when asked (a signal). A delete in a batch
// names the policy by the index the batch's dump gave: the kernel finds a
// subnet policy by selector only through its inexact tree, which it then
// prunes (690 µs a delete in a table of 100,000, 16 µs by index).
//
// A Snapshot is one dump kept for a caller that reads, decides and then
// changes the table (eroute --sync): its entries in List's order, and
// Snapshot.Apply, which takes the kernel's order from the snapshot and
// reads again only the policies its ops replace or delete, so that the
// table is dumped once. A socket subscribed to XFRMNLGRP_POLICY and
// XFRMNLGRP_EXPIRE from before the dump tells whether any policy changed
// since; if one did, Apply dumps as a plain batch does.
//
// # Listings
//
// List, Walk and Snapshot read the dump as it arrives, straight from the
// receive buffer (scanPolicy: no allocation per policy), into 64-byte
// records without pointers, which are sorted by a sort written for them;
// with 2,000 policies or more, a second goroutine reads the datagrams (the
// kernel builds the dump inside that read) while the caller's goroutine
// decodes, so that on two cores the two overlap. Walk hands the eroutes
// out one at a time from the records: 100,000 eroutes take 6.4 MB.
// docs/PERFORMANCE.md has the figures.
//
// # Monitor
//
// eroute --monitor re-creates what KLIPS did for %trap: a Listener (Listen)
// subscribes to the groups XFRMNLGRP_ACQUIRE and XFRMNLGRP_EXPIRE of one
// namespace and reads each ACQUIRE (the flow, the policy that trapped it,
// the SA the kernel wants) and each POLEXPIRE; the monitor then puts a hold
// on the flow (AddHold), a %hold of kind 9 that the kernel deletes after its
// timeout and announces with a hard POLEXPIRE, so that nothing a dead
// monitor made outlives it for long. DeleteHold removes a hold only while
// it is still one. ClaimMonitor keeps one monitor per namespace with an
// abstract unix socket, which the kernel releases with the process.
//
// While a Listener exists, the kernel makes a larval SA for each ACQUIRE,
// which stops further ACQUIREs to the same SA (same addresses, whatever the
// ports) for net.core.xfrm_acq_expires seconds. When the Listener's receive
// buffer is full the kernel drops messages and the next read fails once
// with ENOBUFS (ErrOverrun); the default buffer holds about 160 ACQUIREs.
//
// # SAs (ipsec spi, ipsec spigrp)
//
// The Table is also the namespace's SA table: States dumps every XFRM
// state (xfrm_usersa_info and its attributes, decoded here by byte offset
// as the policies are), AddSA, DeleteSA and FlushSAs change it, and
// LocalAddrs gives the addresses that make an SA inbound. pkg/spi holds
// the commands and the groups: a group is its members' reqid and mode.
// An eroute whose SAID heads a group gets one template per member, naming
// it by reqid with SPI 0 (groupTemplates), read back as the head's SAID;
// its COUNT is the outermost member's packets.
//
// # Why the policy messages are decoded here
//
// github.com/vishvananda/netlink's XfrmAddress.ToIP guesses the family of an
// xfrm_address_t from its zero bytes: an IPv6 address whose last 12 bytes are
// zero becomes IPv4, so the prefix 3049:2::/64 reads back as 48.73.0.2. Its
// high-level policy and state listings carry that bug into every address.
// This package therefore decodes the kernel's structures itself, taking 4 or
// 16 bytes by the family field that goes with each address: the selector's
// for the selector, each template's own for that template, the SA's for an SA.
// The byte layouts are those of linux/xfrm.h on 64-bit platforms (a test
// checks them against the nl package's struct types).
package xfrm
