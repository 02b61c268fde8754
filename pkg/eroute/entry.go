package eroute

import (
	"fmt"
	"net/netip"
	"strings"
)

// Entry is one policy of the table as the listing shows it, with who made
// it and what the kernel holds of it besides the eroute. The driver gives
// entries (as xfrm.Entry) and the command line reads them: one type for
// both, so that nothing translates between them.
type Entry struct {
	Eroute
	// Own: eroute wrote the policy (its kind is recognised); false for the
	// policies of ip xfrm or IKE daemons. --sync may change only these.
	Own bool
	// Deletable: a delete by the Selector removes this very policy (no
	// mark, no if_id, no security context, nothing in the selector an
	// eroute cannot say).
	Deletable bool
	Inbound   bool // direction in (an --addin policy), else out
	// MonitorHold: a monitor's temporary %hold; Own too. --sync neither
	// counts it as the file's %hold nor deletes it.
	MonitorHold bool
	Priority    uint32
	Index       uint32 // the kernel's name for the policy
	Mark        uint32 // the mark and mask it matches, both 0 for none
	Mask        uint32
	IfID        uint32
	Tmpls       []Template
	// ShadowedBy is a policy eroute did not make that covers every packet
	// of this eroute's selector with a lower priority value: the kernel
	// takes it first, so this eroute never matches. Nil when none does.
	ShadowedBy *Entry
}

// ListingText names the policy as the listing shows it (its line without
// the count and the padding), with its priority: how messages name a
// policy eroute did not make.
func (e Entry) ListingText() string {
	e.Count = 0
	line := strings.Fields(string(e.AppendLine(nil)))
	return fmt.Sprintf("%s, priority %d", strings.Join(line[1:], " "), e.Priority)
}

// Template is an xfrm_user_tmpl: the SA a packet the policy allows must go
// through. Src and Dst are read with the template's own Family, which in
// tunnel mode may differ from the selector's. The numbers are the kernel's
// (linux/xfrm.h), given names by the driver (xfrm.ModeTunnel...).
type Template struct {
	Family   uint16     // AF_INET (2) or AF_INET6 (10)
	Src, Dst netip.Addr // tunnel ends; unspecified: the kernel chooses (Src) or the packet's (transport Dst)
	Proto    uint8      // id.proto: 50 ESP, 51 AH, 108 IPCOMP
	SPI      uint32     // id.spi; 0 means any SPI
	Mode     uint8      // 0 transport, 1 tunnel, 2 route optimisation, 3 in trigger, 4 BEET
	Reqid    uint32
	Share    uint8
	Optional bool
	Aalgos   uint32 // bit masks of allowed algorithms; 0xffffffff: any
	Ealgos   uint32
	Calgos   uint32
}

// modeNames are the names ip xfrm gives the template modes.
var modeNames = []string{"transport", "tunnel", "ro", "in_trigger", "beet"}

// ModeName gives the name of a template's mode, as ip xfrm does.
func (t Template) ModeName() string {
	if int(t.Mode) < len(modeNames) {
		return modeNames[t.Mode]
	}
	return fmt.Sprintf("mode(%d)", t.Mode)
}

// ForeignError refuses a change to a policy eroute did not make (an op
// without Force in a batch, a --del or --replace without --force); the
// table is unchanged.
type ForeignError struct {
	Holder Entry
	// Option is the command-line option refused, for the hint that
	// --force lets it through (--del, --replace...); "" for none.
	Option string
}

func (e *ForeignError) Error() string {
	msg := fmt.Sprintf("the selector %s belongs to a policy eroute did not make (%s)", e.Holder.Selector, e.Holder.ListingText())
	if e.Option != "" {
		msg += "; --force lets " + e.Option + " change it"
	}
	return msg
}
