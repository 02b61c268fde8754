package xfrm

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"time"
)

// The codec writes and reads the structures of linux/xfrm.h by hand, byte
// offset by byte offset, so that each address is read with its own family
// (see the package comment) and arbitrary bytes can never make it panic.
// Offsets are those of the 64-bit layouts; codec_linux_test.go checks them
// against the nl package's struct types.

// Netlink message types and attributes of NETLINK_XFRM.
const (
	msgNewSA     = 0x10 // XFRM_MSG_NEWSA: each SA of a dump
	msgGetSA     = 0x12 // XFRM_MSG_GETSA
	msgNewPolicy = 0x13 // XFRM_MSG_NEWPOLICY: add; each policy of a dump
	msgDelPolicy = 0x14 // XFRM_MSG_DELPOLICY
	msgGetPolicy = 0x15 // XFRM_MSG_GETPOLICY
	msgAcquire   = 0x17 // XFRM_MSG_ACQUIRE: to the group XFRMNLGRP_ACQUIRE
	msgUpdPolicy = 0x19 // XFRM_MSG_UPDPOLICY: add or replace
	msgPolExpire = 0x1b // XFRM_MSG_POLEXPIRE: to the group XFRMNLGRP_EXPIRE
	msgFlushPol  = 0x1d // XFRM_MSG_FLUSHPOLICY
	msgNewSPD    = 0x24 // XFRM_MSG_NEWSPDINFO: the answer to GETSPDINFO
	msgGetSPD    = 0x25 // XFRM_MSG_GETSPDINFO: policy counts

	attrSPDInfo = 1 // XFRMA_SPD_INFO: xfrmu_spdinfo, six u32 counts

	attrTmpl       = 5  // XFRMA_TMPL: xfrm_user_tmpl[]
	attrPolicy     = 7  // XFRMA_POLICY: xfrm_userpolicy_info (in DELPOLICY)
	attrSecCtx     = 8  // XFRMA_SEC_CTX
	attrPolicyType = 16 // XFRMA_POLICY_TYPE: xfrm_userpolicy_type
	attrMark       = 21 // XFRMA_MARK: xfrm_mark
	attrIfID       = 31 // XFRMA_IF_ID: u32

	attrTypeMask = 0x3fff // NLA_TYPE_MASK: without NLA_F_NESTED, NLA_F_NET_BYTEORDER

	grpAcquire = 1 // XFRMNLGRP_ACQUIRE
	grpExpire  = 2 // XFRMNLGRP_EXPIRE: SA and policy expiries
	grpPolicy  = 4 // XFRMNLGRP_POLICY: policies made, changed, deleted
)

// Structure sizes.
const (
	sizeNlmsghdr   = 16  // struct nlmsghdr: length, type, flags, seq, port
	sizeSelector   = 56  // xfrm_selector
	sizeLifetime   = 64  // xfrm_lifetime_cfg
	sizePolicyInfo = 168 // xfrm_userpolicy_info
	sizePolicyID   = 64  // xfrm_userpolicy_id
	sizeTmpl       = 64  // xfrm_user_tmpl
	sizePolicyType = 6   // xfrm_userpolicy_type
	sizeAcquire    = 280 // xfrm_user_acquire
	sizePolExpire  = 176 // xfrm_user_polexpire: the policy, hard, padding
	minSAInfo      = 217 // xfrm_usersa_info without its tail padding
)

// Offsets in xfrm_userpolicy_info.
const (
	offPolicyLft      = 56
	offPolicyHardAdd  = 96  // lft.hard_add_expires_seconds
	offPolicyAddTime  = 136 // curlft.add_time
	offPolicyPriority = 152
	offPolicyIndex    = 156
	offPolicyDir      = 160
	offPolicyAction   = 161
	offPolicyFlags    = 162
)

// Offsets in xfrm_user_acquire and xfrm_user_polexpire.
const (
	offAcqDaddr      = 0  // id.daddr: the SA's destination
	offAcqSPI        = 16 // id.spi
	offAcqProto      = 20 // id.proto
	offAcqSaddr      = 24 // the SA's source
	offAcqSel        = 40 // the packet's flow
	offAcqPolicy     = 96 // xfrm_userpolicy_info
	offAcqAalgos     = 264
	offAcqEalgos     = 268
	offAcqCalgos     = 272
	offAcqSeq        = 276
	offPolExpireHard = 168
)

// Offsets in xfrm_usersa_info.
const (
	offSADaddr   = 56  // id.daddr
	offSASPI     = 72  // id.spi
	offSAProto   = 76  // id.proto
	offSAPackets = 168 // curlft.packets
	offSAReqid   = 208
	offSAFamily  = 212
)

var (
	ne = binary.NativeEndian // the kernel's own numbers
	be = binary.BigEndian    // ports and SPIs

	errShort = errors.New("xfrm message too short")
	errAttr  = errors.New("malformed netlink attribute")
)

// encodePolicy gives the payload of XFRM_MSG_NEWPOLICY or UPDPOLICY.
func encodePolicy(p Policy) []byte {
	return appendPolicy(make([]byte, 0, sizePolicyInfo+4+len(p.Tmpls)*sizeTmpl), &p)
}

// appendPolicy appends the payload of XFRM_MSG_NEWPOLICY or UPDPOLICY.
func appendPolicy(b []byte, p *Policy) []byte {
	start := len(b)
	b = append(b, make([]byte, sizePolicyInfo)...)
	info := b[start:]
	putSelector(info, p.Sel)
	// No limits, as iproute2 writes them; the kernel never enforces
	// byte and packet limits on policies anyway.
	for i := 0; i < 4; i++ {
		ne.PutUint64(info[offPolicyLft+8*i:], ^uint64(0))
	}
	// The only limit the kernel enforces itself: it deletes the policy.
	ne.PutUint64(info[offPolicyHardAdd:], p.HardAddExpires)
	ne.PutUint32(info[offPolicyPriority:], p.Priority)
	ne.PutUint32(info[offPolicyIndex:], p.Index)
	info[offPolicyDir], info[offPolicyAction], info[offPolicyFlags] = p.Dir, p.Action, p.Flags
	if len(p.Tmpls) > 0 {
		b = ne.AppendUint16(b, uint16(4+len(p.Tmpls)*sizeTmpl))
		b = ne.AppendUint16(b, attrTmpl)
		for _, t := range p.Tmpls {
			n := len(b)
			b = append(b, make([]byte, sizeTmpl)...)
			putTmpl(b[n:], t)
		}
	}
	return appendPolicyAttrs(b, p)
}

// encodePolicyID gives the payload of XFRM_MSG_DELPOLICY (or GETPOLICY):
// the policy is found by index when Index is set, else by selector, and in
// both cases by direction, type, mark and if_id.
func encodePolicyID(p Policy) []byte {
	return appendPolicyID(make([]byte, 0, sizePolicyID), &p)
}

// appendPolicyID appends the payload encodePolicyID gives.
func appendPolicyID(b []byte, p *Policy) []byte {
	start := len(b)
	b = append(b, make([]byte, sizePolicyID)...)
	id := b[start:]
	putSelector(id, p.Sel)
	ne.PutUint32(id[sizeSelector:], p.Index)
	id[sizeSelector+4] = p.Dir
	return appendPolicyAttrs(b, p)
}

// appendPolicyAttrs adds what identifies a policy besides its selector.
func appendPolicyAttrs(b []byte, p *Policy) []byte {
	if p.Type != TypeMain {
		var t [sizePolicyType]byte
		t[0] = p.Type
		b = appendAttr(b, attrPolicyType, t[:])
	}
	if p.Mark != 0 || p.Mask != 0 {
		var m [8]byte
		ne.PutUint32(m[:], p.Mark)
		ne.PutUint32(m[4:], p.Mask)
		b = appendAttr(b, attrMark, m[:])
	}
	if p.IfID != 0 {
		var v [4]byte
		ne.PutUint32(v[:], p.IfID)
		b = appendAttr(b, attrIfID, v[:])
	}
	return b
}

func putSelector(b []byte, s Selector) {
	putPrefix(b[0:], b[42:], s.Dst)
	putPrefix(b[16:], b[43:], s.Src)
	be.PutUint16(b[32:], s.DstPort)
	be.PutUint16(b[34:], s.DstPortMask)
	be.PutUint16(b[36:], s.SrcPort)
	be.PutUint16(b[38:], s.SrcPortMask)
	ne.PutUint16(b[40:], s.Family)
	b[44] = s.Proto
	ne.PutUint32(b[48:], uint32(s.Ifindex))
	ne.PutUint32(b[52:], s.User)
}

// putPrefix writes an address and its length; an invalid prefix stays zero.
func putPrefix(addr, bits []byte, p netip.Prefix) {
	if p.IsValid() {
		putAddr(addr, p.Addr())
		bits[0] = uint8(p.Bits())
	}
}

// putAddr writes an xfrm_address_t: 4 bytes for IPv4, 16 for IPv6.
func putAddr(b []byte, a netip.Addr) {
	switch {
	case a.Is4():
		a4 := a.As4()
		copy(b, a4[:])
	case a.Is6():
		a16 := a.As16()
		copy(b, a16[:])
	}
}

func putTmpl(b []byte, t Template) {
	putAddr(b[0:], t.Dst)
	be.PutUint32(b[16:], t.SPI)
	b[20] = t.Proto
	ne.PutUint16(b[24:], t.Family)
	putAddr(b[28:], t.Src)
	ne.PutUint32(b[44:], t.Reqid)
	b[48], b[49], b[50] = t.Mode, t.Share, boolByte(t.Optional)
	ne.PutUint32(b[52:], t.Aalgos)
	ne.PutUint32(b[56:], t.Ealgos)
	ne.PutUint32(b[60:], t.Calgos)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// appendAttr adds a netlink attribute, padded to 4 bytes.
func appendAttr(b []byte, typ uint16, v []byte) []byte {
	b = ne.AppendUint16(b, uint16(4+len(v)))
	b = ne.AppendUint16(b, typ)
	b = append(b, v...)
	return append(b, make([]byte, align4(len(v))-len(v))...)
}

func align4(n int) int { return (n + 3) &^ 3 }

// decodePolicy reads the payload of an XFRM_MSG_NEWPOLICY message, as the
// kernel sends one per policy in a dump.
func decodePolicy(b []byte) (Policy, error) {
	return decodePolicyAt(b, 0, sizePolicyInfo)
}

// decodePolicyAt reads the xfrm_userpolicy_info at offset off of a message
// and the policy attributes from offset attrs, where the message's own
// structure ends: an ACQUIRE and a POLEXPIRE carry a policy that way too.
func decodePolicyAt(b []byte, off, attrs int) (Policy, error) {
	if len(b) < attrs || attrs < off+sizePolicyInfo {
		return Policy{}, errShort
	}
	info := b[off:]
	p := Policy{
		Sel:            getSelector(info),
		Priority:       ne.Uint32(info[offPolicyPriority:]),
		Index:          ne.Uint32(info[offPolicyIndex:]),
		Dir:            info[offPolicyDir],
		Action:         info[offPolicyAction],
		Flags:          info[offPolicyFlags],
		HardAddExpires: ne.Uint64(info[offPolicyHardAdd:]),
		AddTime:        unixTime(ne.Uint64(info[offPolicyAddTime:])),
	}
	err := walkAttrs(b[attrs:], func(typ uint16, v []byte) {
		decodePolicyAttr(&p, typ, v)
	})
	return p, err
}

// scanPolicy reads the payload of an XFRM_MSG_NEWPOLICY message into v
// without allocating: the dump of a large table goes through here once per
// policy. It reads what decodePolicy reads, keeping of the templates only
// their number, the first and the first in tunnel mode.
func scanPolicy(b []byte, v *policyView) error {
	*v = policyView{}
	if len(b) < sizePolicyInfo {
		return errShort
	}
	p := &v.Policy
	p.Sel = getSelector(b)
	p.Priority = ne.Uint32(b[offPolicyPriority:])
	p.Index = ne.Uint32(b[offPolicyIndex:])
	p.Dir, p.Action, p.Flags = b[offPolicyDir], b[offPolicyAction], b[offPolicyFlags]
	p.HardAddExpires = ne.Uint64(b[offPolicyHardAdd:])
	// AddTime is left out: time.Unix costs more than the rest, and no
	// listing shows it.
	for a := b[sizePolicyInfo:]; len(a) >= 4; {
		n := int(ne.Uint16(a))
		if n < 4 || n > len(a) {
			return errAttr
		}
		typ, val := ne.Uint16(a[2:])&attrTypeMask, a[4:n]
		if typ == attrTmpl {
			var group [maxGroup]Template
			for t := val; len(t) >= sizeTmpl; t = t[sizeTmpl:] {
				if v.nTmpls < maxGroup {
					group[v.nTmpls] = getTmpl(t, p.Sel.Family)
				}
				if v.nTmpls == 0 {
					v.first = group[0]
				}
				if !v.hasTunnel && t[48] == ModeTunnel {
					v.tunnel, v.hasTunnel = getTmpl(t, p.Sel.Family), true
				}
				v.nTmpls++
			}
			if v.nTmpls <= maxGroup {
				v.group, v.isGroup = groupSAID(group[:v.nTmpls])
			}
		} else {
			decodePolicyAttr(p, typ, val)
		}
		a = a[min(align4(n), len(a)):]
	}
	return nil
}

// unixTime reads seconds since 1970; 0, "never", is the zero Time.
func unixTime(secs uint64) time.Time {
	if secs == 0 || secs > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(int64(secs), 0)
}

func decodePolicyAttr(p *Policy, typ uint16, v []byte) {
	switch {
	case typ == attrTmpl:
		for ; len(v) >= sizeTmpl; v = v[sizeTmpl:] {
			p.Tmpls = append(p.Tmpls, getTmpl(v, p.Sel.Family))
		}
	case typ == attrPolicyType && len(v) >= 1:
		p.Type = v[0]
	case typ == attrMark && len(v) >= 8:
		p.Mark, p.Mask = ne.Uint32(v), ne.Uint32(v[4:])
	case typ == attrIfID && len(v) >= 4:
		p.IfID = ne.Uint32(v)
	case typ == attrSecCtx:
		p.SecCtx = true
	}
}

// walkAttrs calls fn for each attribute. It checks every length itself:
// the nl package's parser slices past the end of a truncated attribute.
func walkAttrs(b []byte, fn func(typ uint16, v []byte)) error {
	for len(b) >= 4 {
		n := int(ne.Uint16(b))
		if n < 4 || n > len(b) {
			return errAttr
		}
		fn(ne.Uint16(b[2:])&attrTypeMask, b[4:n])
		b = b[min(align4(n), len(b)):]
	}
	return nil
}

func getSelector(b []byte) Selector {
	family := ne.Uint16(b[40:])
	return Selector{
		Family:      family,
		Dst:         getPrefix(b[0:], family, b[42]),
		Src:         getPrefix(b[16:], family, b[43]),
		DstPort:     be.Uint16(b[32:]),
		DstPortMask: be.Uint16(b[34:]),
		SrcPort:     be.Uint16(b[36:]),
		SrcPortMask: be.Uint16(b[38:]),
		Proto:       b[44],
		Ifindex:     int32(ne.Uint32(b[48:])),
		User:        ne.Uint32(b[52:]),
	}
}

// getPrefix gives an invalid Prefix for an unknown family or a length
// longer than the address.
func getPrefix(b []byte, family uint16, bits uint8) netip.Prefix {
	a := getAddr(b, family)
	if !a.IsValid() {
		return netip.Prefix{}
	}
	return netip.PrefixFrom(a, int(bits))
}

// getAddr reads an xfrm_address_t by the family that goes with it, never
// by guessing from the bytes.
func getAddr(b []byte, family uint16) netip.Addr {
	switch family {
	case AFInet:
		return netip.AddrFrom4([4]byte(b[:4]))
	case AFInet6:
		return netip.AddrFrom16([16]byte(b[:16]))
	}
	return netip.Addr{}
}

// getTmpl reads an xfrm_user_tmpl. A template of family 0 has the
// selector's family, as the kernel fills it in when adding.
func getTmpl(b []byte, selFamily uint16) Template {
	family := ne.Uint16(b[24:])
	if family == 0 {
		family = selFamily
	}
	return Template{
		Family:   family,
		Dst:      getAddr(b[0:], family),
		SPI:      be.Uint32(b[16:]),
		Proto:    b[20],
		Src:      getAddr(b[28:], family),
		Reqid:    ne.Uint32(b[44:]),
		Mode:     b[48],
		Share:    b[49],
		Optional: b[50] != 0,
		Aalgos:   ne.Uint32(b[52:]),
		Ealgos:   ne.Uint32(b[56:]),
		Calgos:   ne.Uint32(b[60:]),
	}
}

// decodeSA reads the SA of an XFRM_MSG_NEWSA message (xfrm_usersa_info):
// the key the kernel finds it by and the packets it has carried.
func decodeSA(b []byte) (saKey, uint64, error) {
	sa, err := decodeSAInfo(b)
	return sa.key, sa.packets, err
}

// decodeSAInfo is decodeSA with the SA's reqid.
func decodeSAInfo(b []byte) (saInfo, error) {
	if len(b) < minSAInfo {
		return saInfo{}, errShort
	}
	k := saKey{
		dst:   getAddr(b[offSADaddr:], ne.Uint16(b[offSAFamily:])),
		spi:   be.Uint32(b[offSASPI:]),
		proto: b[offSAProto],
	}
	return saInfo{key: k, reqid: ne.Uint32(b[offSAReqid:]), packets: ne.Uint64(b[offSAPackets:])}, nil
}
