package xfrm

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// The SA side: xfrm_usersa_info and its attributes, written and read by
// byte offset as the policies are (see codec.go), each address with the
// family that goes with it.

// Messages and attributes of the SA table.
const (
	msgDelSA   = 0x11 // XFRM_MSG_DELSA
	msgFlushSA = 0x1c // XFRM_MSG_FLUSHSA

	attrAlgAuth       = 1  // XFRMA_ALG_AUTH: xfrm_algo (the kernel's default ICV)
	attrAlgCrypt      = 2  // XFRMA_ALG_CRYPT: xfrm_algo
	attrAlgComp       = 3  // XFRMA_ALG_COMP: xfrm_algo
	attrEncap         = 4  // XFRMA_ENCAP: xfrm_encap_tmpl
	attrReplayVal     = 10 // XFRMA_REPLAY_VAL: xfrm_replay_state
	attrLastUsed      = 15 // XFRMA_LASTUSED: u64 seconds
	attrAlgAEAD       = 18 // XFRMA_ALG_AEAD: xfrm_algo_aead (combined-mode ciphers)
	attrAlgAuthTrunc  = 20 // XFRMA_ALG_AUTH_TRUNC: xfrm_algo_auth
	attrReplayESN     = 23 // XFRMA_REPLAY_ESN_VAL: xfrm_replay_state_esn
	attrAddressFilter = 26 // XFRMA_ADDRESS_FILTER: xfrm_address_filter, for dumps

	ipsecProtoAny = 255 // IPSEC_PROTO_ANY: AH, ESP and IPCOMP, for FLUSHSA

	stateFlagAFUnspec = 32 // XFRM_STATE_AF_UNSPEC: the selector has no family

	xfrmInf = ^uint64(0) // XFRM_INF: no byte or packet limit
)

// Sizes and offsets of xfrm_usersa_info (224 bytes on 64-bit ABIs) and the
// structures around it.
const (
	sizeSAInfo     = 224
	sizeSAID       = 24 // xfrm_usersa_id: daddr, spi, family, proto
	sizeAlgName    = 64 // the name field of xfrm_algo and xfrm_algo_auth
	sizeEncap      = 24 // xfrm_encap_tmpl
	sizeReplay     = 12 // xfrm_replay_state
	sizeReplayES   = 24 // xfrm_replay_state_esn without its bitmap
	sizeAddrFilter = 36 // xfrm_address_filter

	offSASaddr      = 80
	offSALft        = 96  // xfrm_lifetime_cfg: soft/hard byte, packet, add, use
	offSACurBytes   = 160 // curlft.bytes
	offSACurAdd     = 176 // curlft.add_time
	offSACurUse     = 184 // curlft.use_time
	offSAStats      = 192 // stats: replay_window, replay, integrity_failed
	offSAMode       = 214
	offSAReplayWin  = 215
	offSAFlags      = 216
	maxReplayInInfo = 32 // the kernel caps replay_window there; bigger ones go in ESN_VAL
)

// appendSA appends the payload of XFRM_MSG_NEWSA for sa. Unset byte and
// packet limits are XFRM_INF (0 would expire at once); time limits are 0.
func appendSA(b []byte, sa *sadb.SA) []byte {
	start := len(b)
	b = append(b, make([]byte, sizeSAInfo)...)
	info := b[start:]
	family := familyOf(sa.SAID.Dst)
	// No selector: the SA is found by (daddr, SPI, protocol); the policy's
	// selector says what goes through it. A tunnel may carry either
	// family, which XFRM_STATE_AF_UNSPEC allows.
	if !sa.Tunnel {
		ne.PutUint16(info[40:], family)
	}
	putAddr(info[offSADaddr:], sa.SAID.Dst)
	be.PutUint32(info[offSASPI:], sa.SAID.SPI)
	info[offSAProto] = uint8(sa.SAID.Proto)
	if sa.Src.IsValid() {
		putAddr(info[offSASaddr:], sa.Src)
	}
	limits := [...]uint64{
		limit(sa.Soft.Bytes), limit(sa.Hard.Bytes), limit(sa.Soft.Packets), limit(sa.Hard.Packets),
		sa.Soft.AddTime, sa.Hard.AddTime, sa.Soft.UseTime, sa.Hard.UseTime,
	}
	for i, v := range limits {
		ne.PutUint64(info[offSALft+8*i:], v)
	}
	ne.PutUint32(info[offSAReqid:], sa.Reqid)
	ne.PutUint16(info[offSAFamily:], family)
	if sa.Tunnel {
		info[offSAMode] = ModeTunnel
		info[offSAFlags] = stateFlagAFUnspec
	}
	if sa.ReplayWindow <= maxReplayInInfo {
		info[offSAReplayWin] = uint8(sa.ReplayWindow)
	} else {
		b = appendReplayESN(b, sa.ReplayWindow)
	}
	if a := sa.Enc; a != nil && a.TruncBits != 0 { // combined mode (ip xfrm's aead)
		b = appendAttr(b, attrAlgAEAD, algo(a, true))
	} else if a != nil {
		b = appendAttr(b, attrAlgCrypt, algo(a, false))
	}
	if a := sa.Auth; a != nil {
		b = appendAttr(b, attrAlgAuthTrunc, algo(a, true))
	}
	if a := sa.Comp; a != nil {
		b = appendAttr(b, attrAlgComp, algo(a, false))
	}
	if e := sa.Encap; e != nil {
		var v [sizeEncap]byte
		ne.PutUint16(v[0:], e.Type)
		be.PutUint16(v[2:], e.SrcPort)
		be.PutUint16(v[4:], e.DstPort)
		b = appendAttr(b, attrEncap, v[:])
	}
	return b
}

// appendReplayESN asks for a replay window above 32 packets the only way
// XFRM takes one: a bitmap (xfrm_replay_state_esn without the ESN flag),
// with replay_window 0 in xfrm_usersa_info.
func appendReplayESN(b []byte, window uint32) []byte {
	words := (window + 31) / 32
	v := make([]byte, sizeReplayES+4*int(words))
	ne.PutUint32(v[0:], words) // bmp_len
	ne.PutUint32(v[20:], window)
	return appendAttr(b, attrReplayESN, v)
}

func limit(v uint64) uint64 {
	if v == 0 {
		return xfrmInf
	}
	return v
}

// algo gives an xfrm_algo (or, with trunc, an xfrm_algo_auth): the name,
// the key length in bits, [the ICV length in bits,] the key.
func algo(a *sadb.Alg, trunc bool) []byte {
	head := sizeAlgName + 4
	if trunc {
		head += 4
	}
	v := make([]byte, head+len(a.Key))
	copy(v[:sizeAlgName-1], a.Name)
	ne.PutUint32(v[sizeAlgName:], uint32(len(a.Key)*8))
	if trunc {
		ne.PutUint32(v[sizeAlgName+4:], uint32(a.TruncBits))
	}
	copy(v[head:], a.Key)
	return v
}

// addressFilter gives the attributes of an SA dump that asks only for the
// SAs to dst: XFRMA_ADDRESS_FILTER, an xfrm_address_filter (saddr, daddr,
// family, splen, dplen) with any source and dst as a host prefix.
func addressFilter(dst netip.Addr) []byte {
	var v [sizeAddrFilter]byte
	putAddr(v[16:], dst)
	ne.PutUint16(v[32:], familyOf(dst))
	v[35] = uint8(dst.BitLen())
	return appendAttr(nil, attrAddressFilter, v[:])
}

// appendSAID appends an xfrm_usersa_id: what DELSA and GETSA find an SA by.
func appendSAID(b []byte, id eroute.SAID) []byte {
	start := len(b)
	b = append(b, make([]byte, sizeSAID)...)
	v := b[start:]
	putAddr(v[0:], id.Dst)
	be.PutUint32(v[16:], id.SPI)
	ne.PutUint16(v[20:], familyOf(id.Dst))
	v[22] = uint8(id.Proto)
	return b
}

// decodeState reads an XFRM_MSG_NEWSA payload as an SA. It never panics,
// whatever the bytes: a truncated attribute is an error, an unknown one is
// skipped.
func decodeState(b []byte) (sadb.SA, error) { return decodeStateAt(b, sizeSAInfo) }

// decodeStateAt is decodeState for a message whose attributes start at
// attrs: an XFRM_MSG_EXPIRE has the SA's hard flag before them.
func decodeStateAt(b []byte, attrs int) (sadb.SA, error) {
	if len(b) < minSAInfo {
		return sadb.SA{}, errShort
	}
	family := ne.Uint16(b[offSAFamily:])
	sa := sadb.SA{
		SAID: eroute.SAID{
			Proto: eroute.Proto(b[offSAProto]),
			SPI:   be.Uint32(b[offSASPI:]),
			Dst:   getAddr(b[offSADaddr:], family),
		},
		Src:          getAddr(b[offSASaddr:], family),
		Reqid:        ne.Uint32(b[offSAReqid:]),
		Tunnel:       b[offSAMode] == ModeTunnel,
		ReplayWindow: uint32(b[offSAReplayWin]),
	}
	lft := func(i int) uint64 { return ne.Uint64(b[offSALft+8*i:]) }
	sa.Soft = sadb.Limits{Bytes: noInf(lft(0)), Packets: noInf(lft(2)), AddTime: lft(4), UseTime: lft(6)}
	sa.Hard = sadb.Limits{Bytes: noInf(lft(1)), Packets: noInf(lft(3)), AddTime: lft(5), UseTime: lft(7)}
	sa.Current = sadb.Current{
		Bytes:   ne.Uint64(b[offSACurBytes:]),
		Packets: ne.Uint64(b[offSAPackets:]),
		AddTime: unixTime(ne.Uint64(b[offSACurAdd:])),
		UseTime: unixTime(ne.Uint64(b[offSACurUse:])),
	}
	sa.Stats = sadb.Stats{
		ReplayWindow:    ne.Uint32(b[offSAStats:]),
		Replay:          ne.Uint32(b[offSAStats+4:]),
		IntegrityFailed: ne.Uint32(b[offSAStats+8:]),
	}
	var unsaid []string
	if !allZero(b[offSASelPorts:offSASelFamily]) || !allZero(b[offSASelPrefixes:offSASelProto+1]) {
		unsaid = append(unsaid, "a selector")
	}
	if f := b[offSAFlags] &^ stateFlagAFUnspec; f != 0 {
		unsaid = append(unsaid, fmt.Sprintf("state flags 0x%x", f))
	}
	err := walkAttrs(b[min(attrs, len(b)):], func(typ uint16, v []byte) {
		if what, ok := unsaidAttrs[typ]; ok && !allZero(v) {
			unsaid = append(unsaid, what)
		}
		decodeStateAttr(&sa, typ, v)
	})
	sa.Unsaid = strings.Join(unsaid, ", ")
	return sa, err
}

// The selector of xfrm_usersa_info, its ports, prefix lengths and
// protocol: an SA eroute makes leaves them 0 (the policy selects; the SA
// is found by destination, SPI and protocol), and sets only the family.
const (
	offSASelPorts    = 32 // sel.dport, dport_mask, sport, sport_mask
	offSASelFamily   = 40
	offSASelPrefixes = 42 // sel.prefixlen_d, prefixlen_s
	offSASelProto    = 44
)

// unsaidAttrs are the state attributes that no ipsec spi option sets:
// an SA with one of them, not all zero, cannot be saved as a command line.
var unsaidAttrs = map[uint16]string{
	attrSecCtx: "a security context",
	14:         "a care-of address",   // XFRMA_COADDR
	attrMark:   "a mark",              // XFRMA_MARK
	22:         "TFC padding",         // XFRMA_TFCPAD
	24:         "extra flags",         // XFRMA_SA_EXTRA_FLAGS
	28:         "hardware offload",    // XFRMA_OFFLOAD_DEV
	29:         "an output mark",      // XFRMA_SET_MARK
	attrIfID:   "an interface id",     // XFRMA_IF_ID
	32:         "a NAT mapping timer", // XFRMA_MTIMER_THRESH
	33:         "a direction",         // XFRMA_SA_DIR
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func noInf(v uint64) uint64 {
	if v == xfrmInf {
		return 0
	}
	return v
}

func decodeStateAttr(sa *sadb.SA, typ uint16, v []byte) {
	switch typ {
	case attrAlgCrypt:
		sa.Enc = getAlgo(v, false)
	case attrAlgAEAD:
		sa.Enc = getAlgo(v, true) // xfrm_algo_aead: name, key_len, icv_len, key
	case attrAlgAuth:
		if sa.Auth == nil { // the kernel sends both; AUTH_TRUNC has the ICV
			sa.Auth = getAlgo(v, false)
		}
	case attrAlgAuthTrunc:
		sa.Auth = getAlgo(v, true)
	case attrAlgComp:
		sa.Comp = getAlgo(v, false)
	case attrEncap:
		if len(v) >= 6 {
			sa.Encap = &sadb.Encap{Type: ne.Uint16(v), SrcPort: be.Uint16(v[2:]), DstPort: be.Uint16(v[4:])}
		}
	case attrReplayVal:
		if len(v) >= sizeReplay {
			sa.Replay = sadb.Replay{OSeq: ne.Uint32(v), Seq: ne.Uint32(v[4:]), Bitmap: ne.Uint32(v[8:])}
		}
	case attrReplayESN:
		if len(v) >= sizeReplayES {
			sa.Replay = sadb.Replay{OSeq: ne.Uint32(v[4:]), Seq: ne.Uint32(v[8:])}
			if w := ne.Uint32(v[20:]); w != 0 {
				sa.ReplayWindow = w
			}
			if len(v) >= sizeReplayES+4 && ne.Uint32(v) > 0 {
				sa.Replay.Bitmap = ne.Uint32(v[sizeReplayES:])
			}
		}
	case attrLastUsed:
		if len(v) >= 8 {
			sa.Current.LastUsed = unixTime(ne.Uint64(v))
		}
	}
}

// getAlgo reads an xfrm_algo or xfrm_algo_auth; nil when too short. The
// key is copied: the buffer it came in is reused.
func getAlgo(v []byte, trunc bool) *sadb.Alg {
	head := sizeAlgName + 4
	if trunc {
		head += 4
	}
	if len(v) < head {
		return nil
	}
	a := &sadb.Alg{Name: cString(v[:sizeAlgName])}
	bits := int(ne.Uint32(v[sizeAlgName:]))
	if trunc {
		a.TruncBits = int(ne.Uint32(v[sizeAlgName+4:]))
	}
	n := min((bits+7)/8, len(v)-head)
	a.Key = append([]byte(nil), v[head:head+n]...)
	return a
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// addrOf reads 4 or 16 bytes by family (for the ifaddrmsg of RTM_NEWADDR).
func addrOf(b []byte, family uint8) netip.Addr {
	switch {
	case family == AFInet && len(b) >= 4:
		return netip.AddrFrom4([4]byte(b[:4]))
	case family == AFInet6 && len(b) >= 16:
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.Addr{}
}
