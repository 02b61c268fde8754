package eroute

// Eroute is one entry of the table: a selector and what happens to the
// packets it picks.
type Eroute struct {
	Selector
	SAID SAID
	// Count is the packet count the listing shows. The kernel keeps none per
	// policy; drivers fill in what they honestly can (see docs/DESIGN.md).
	Count uint64
}

// String gives the listing line of section 5 of the KLIPS reference:
// COUNT (left-aligned in 10), SRC and DST (left-aligned in 18), the SAID and
// :PROTO when a transport protocol is set.
func (e Eroute) String() string {
	return string(e.AppendLine(nil))
}
