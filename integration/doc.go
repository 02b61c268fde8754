// Package integration proves eroute against the real kernel. Every test
// makes its own network namespaces (and veth pairs, for traffic), always
// removes them, and never touches the host's own tables. Results are read
// back twice: by eroute's listing, and by an independent reader (ip xfrm
// policy, ip xfrm monitor, or packets counted at the receiver).
//
// The tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN for namespaces) and
// iproute2; without them they skip and say why.
package integration
