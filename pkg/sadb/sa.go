package sadb

import (
	"net/netip"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

// SA is one Security Association as the kernel holds it: an XFRM state of
// protocol ESP, AH or IPCOMP. A KLIPS tun SA is no SA here: it is the
// tunnel mode of its group's innermost member (see Group).
type SA struct {
	SAID eroute.SAID // esp, ah or comp; SPI; destination (--edst)
	Src  netip.Addr  // --src: the tunnel's outer source; invalid when none

	Enc  *Alg // ESP cipher (ecb(cipher_null) for none); with TruncBits, a combined-mode (AEAD) cipher
	Auth *Alg // ESP or AH integrity; nil for none
	Comp *Alg // IPCOMP algorithm

	ReplayWindow uint32 // 0: no replay protection, the KLIPS default
	Soft, Hard   Limits
	Encap        *Encap // NAT traversal; nil for none

	// Tunnel and Reqid carry the group (see Group): a grouped SA has its
	// group's handle as reqid, and the innermost member of a group with a
	// tun SA is in tunnel mode. Ungrouped SAs are transport, reqid 0.
	Tunnel bool
	Reqid  uint32

	// What the kernel reports; ignored when adding.
	Current Current
	Replay  Replay
	Stats   Stats
	// Unsaid names what the kernel holds of the SA that no spi option
	// sets (a mark, an interface id, a selector...), "" for nothing:
	// --save writes such an SA as a comment. Ignored when adding.
	Unsaid string
	// Inbound: the destination is an address of this host (KLIPS dir=in),
	// set by the listing from the namespace's addresses.
	Inbound bool
}

// Limits are the --life values of one severity; 0 means no limit.
type Limits struct {
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	AddTime uint64 `json:"addtime"` // seconds
	UseTime uint64 `json:"usetime"` // seconds
}

// IsZero reports whether no limit is set.
func (l Limits) IsZero() bool { return l == Limits{} }

// Current is what the SA has done so far.
type Current struct {
	Bytes, Packets uint64
	AddTime        time.Time // when the SA was added
	UseTime        time.Time // first use; zero while unused
	LastUsed       time.Time // last use (XFRMA_LASTUSED); zero while unused
}

// Replay is the replay state: the last sequence number sent, the highest
// received, and the window's bitmap.
type Replay struct {
	OSeq, Seq, Bitmap uint32
}

// Stats are the kernel's per-SA error counts.
type Stats struct {
	ReplayWindow, Replay, IntegrityFailed uint32
}

// Encap is ESP-in-UDP encapsulation (--natt) with its ports.
type Encap struct {
	Type    uint16 `json:"type"` // 1 nonike, 2 nonesp (UDP_ENCAP_ESPINUDP)
	SrcPort uint16 `json:"sport"`
	DstPort uint16 `json:"dport"`
}

// Encapsulation types of --natt (linux/udp.h, the KLIPS values too).
const (
	EncapNonIKE = 1 // UDP_ENCAP_ESPINUDP_NON_IKE
	EncapNonESP = 2 // UDP_ENCAP_ESPINUDP
)

// Alg is one transform of an SA as XFRM names it: a crypto API name
// ("cbc(aes)", "hmac(sha256)", "deflate"), the key, and for integrity the
// ICV length on the wire. Key is a secret: it is never printed, logged or
// put in JSON.
type Alg struct {
	Name      string
	Key       []byte `json:"-"`
	TruncBits int    // integrity only: ICV bits
}

// KeyBits is the key length in bits, as KLIPS counted it.
func (a *Alg) KeyBits() int {
	if a == nil {
		return 0
	}
	return len(a.Key) * 8
}
