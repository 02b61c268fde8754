package xfrm

import (
	"net/netip"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// Values of linux/xfrm.h and linux/socket.h the policies use. They are
// defined here, not taken from golang.org/x/sys/unix, so that the
// translation builds and is tested on any platform.
const (
	DirIn  = 0 // XFRM_POLICY_IN
	DirOut = 1 // XFRM_POLICY_OUT
	DirFwd = 2 // XFRM_POLICY_FWD

	ActionAllow = 0 // XFRM_POLICY_ALLOW
	ActionBlock = 1 // XFRM_POLICY_BLOCK

	ModeTransport = 0 // XFRM_MODE_TRANSPORT
	ModeTunnel    = 1 // XFRM_MODE_TUNNEL

	TypeMain = 0 // XFRM_POLICY_TYPE_MAIN
	TypeSub  = 1 // XFRM_POLICY_TYPE_SUB

	AFInet  = 2  // AF_INET
	AFInet6 = 10 // AF_INET6
)

// IP protocol numbers of the templates an eroute writes.
const (
	protoESP  = 50
	protoAH   = 51
	protoComp = 108
)

// anyAlgos is the template algorithm mask that allows every algorithm.
const anyAlgos = 0xffffffff

// Policy is one XFRM policy: xfrm_userpolicy_info and the attributes that
// go with it. Numbers are in host byte order here; the codec puts the ones
// the kernel wants big-endian (ports, SPIs) into network order.
type Policy struct {
	Sel      Selector
	Dir      uint8  // DirIn, DirOut, DirFwd; socket policies have 3 to 5
	Action   uint8  // ActionAllow or ActionBlock
	Flags    uint8  // XFRM_POLICY_LOCALOK, XFRM_POLICY_ICMP
	Priority uint32 // the lowest value among matching policies wins
	Index    uint32 // given by the kernel; 0 in a new policy
	Type     uint8  // TypeMain or TypeSub (attribute XFRMA_POLICY_TYPE)
	Mark     uint32 // XFRMA_MARK value: the policy matches packets whose
	Mask     uint32 // mark & Mask == Mark; both 0 when there is no mark
	IfID     uint32 // XFRMA_IF_ID, 0 when none
	// SecCtx reports that the policy has a security context (XFRMA_SEC_CTX).
	// It is decoded, never encoded: eroutes have none.
	SecCtx bool
	Tmpls  []Template // XFRMA_TMPL, in order
	// HardAddExpires is lft.hard_add_expires_seconds: the kernel deletes
	// the policy that many seconds after adding it (and says so with a
	// hard XFRM_MSG_POLEXPIRE); 0 means never. Only monitor holds have one.
	HardAddExpires uint64
	// AddTime is curlft.add_time, when the kernel added the policy; the
	// zero Time when unknown. It is decoded, never encoded.
	AddTime time.Time
}

// Selector is an xfrm_selector. Src and Dst are read with Family: they are
// invalid when Family is neither AFInet nor AFInet6. Prefixes are as the
// kernel holds them, host bits included (ip xfrm does not clear them).
type Selector struct {
	Family      uint16
	Src, Dst    netip.Prefix // saddr/prefixlen_s, daddr/prefixlen_d
	Proto       uint8        // 0: every protocol
	SrcPort     uint16       // sport; for ICMP the type
	SrcPortMask uint16       // 0xffff when SrcPort is set, 0 for every port
	DstPort     uint16       // dport; for ICMP the code
	DstPortMask uint16
	Ifindex     int32
	User        uint32
}

// Template is an xfrm_user_tmpl: the SA a packet the policy allows must go
// through (see eroute.Template, where it is defined for the listing's
// entries too).
type Template = eroute.Template

// unspecified gives 0.0.0.0 or :: for a family, and the zero Addr for others.
func unspecified(family uint16) netip.Addr {
	switch family {
	case AFInet:
		return netip.IPv4Unspecified()
	case AFInet6:
		return netip.IPv6Unspecified()
	}
	return netip.Addr{}
}

// familyOf gives AFInet or AFInet6 for an address, 0 for the zero Addr.
func familyOf(a netip.Addr) uint16 {
	switch {
	case a.Is4():
		return AFInet
	case a.Is6():
		return AFInet6
	}
	return 0
}
