package xfrm

import (
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The codec's constants and offsets, checked against the nl package's
// definitions of the same kernel structures.
func TestLayoutMatchesNl(t *testing.T) {
	var info nl.XfrmUserpolicyInfo
	pairs := []struct {
		name      string
		ours, nls int
	}{
		{"selector", sizeSelector, nl.SizeofXfrmSelector},
		{"lifetime", sizeLifetime, nl.SizeofXfrmLifetimeCfg},
		{"policy info", sizePolicyInfo, nl.SizeofXfrmUserpolicyInfo},
		{"policy id", sizePolicyID, nl.SizeofXfrmUserpolicyId},
		{"template", sizeTmpl, nl.SizeofXfrmUserTmpl},
		{"NEWSA", msgNewSA, nl.XFRM_MSG_NEWSA},
		{"GETSA", msgGetSA, nl.XFRM_MSG_GETSA},
		{"NEWPOLICY", msgNewPolicy, nl.XFRM_MSG_NEWPOLICY},
		{"DELPOLICY", msgDelPolicy, nl.XFRM_MSG_DELPOLICY},
		{"GETPOLICY", msgGetPolicy, nl.XFRM_MSG_GETPOLICY},
		{"UPDPOLICY", msgUpdPolicy, nl.XFRM_MSG_UPDPOLICY},
		{"ACQUIRE", msgAcquire, nl.XFRM_MSG_ACQUIRE},
		{"POLEXPIRE", msgPolExpire, nl.XFRM_MSG_POLEXPIRE},
		{"FLUSHPOLICY", msgFlushPol, nl.XFRM_MSG_FLUSHPOLICY},
		{"XFRMNLGRP_ACQUIRE", grpAcquire, nl.XFRMNLGRP_ACQUIRE},
		{"XFRMNLGRP_EXPIRE", grpExpire, nl.XFRMNLGRP_EXPIRE},
		{"XFRMNLGRP_POLICY", grpPolicy, nl.XFRMNLGRP_POLICY},
		{"nlmsghdr", sizeNlmsghdr, unix.NLMSG_HDRLEN},
		{"lft.hard_add_expires_seconds", offPolicyHardAdd,
			int(unsafe.Offsetof(info.Lft) + unsafe.Offsetof(info.Lft.HardAddExpiresSeconds))},
		{"curlft.add_time", offPolicyAddTime, int(unsafe.Offsetof(info.Curlft) + unsafe.Offsetof(info.Curlft.AddTime))},
		{"priority", offPolicyPriority, int(unsafe.Offsetof(info.Priority))},
		{"XFRMA_TMPL", attrTmpl, nl.XFRMA_TMPL},
		{"XFRMA_SEC_CTX", attrSecCtx, nl.XFRMA_SEC_CTX},
		{"XFRMA_POLICY_TYPE", attrPolicyType, nl.XFRMA_POLICY_TYPE},
		{"XFRMA_MARK", attrMark, nl.XFRMA_MARK},
		{"XFRMA_IF_ID", attrIfID, nl.XFRMA_IF_ID},
		{"xfrm_user_expire", sizeUserExpire, nl.SizeofXfrmUserExpire},
		{"xfrm_user_expire.hard", offExpireHard, int(unsafe.Offsetof(nl.XfrmUserExpire{}.Hard))},
		{"EXPIRE", msgExpire, nl.XFRM_MSG_EXPIRE},
		{"UPDSA", msgUpdSA, nl.XFRM_MSG_UPDSA},
		{"DELSA", msgDelSA, nl.XFRM_MSG_DELSA},
		{"FLUSHSA", msgFlushSA, nl.XFRM_MSG_FLUSHSA},
		{"XFRMA_SA", attrSA, nl.XFRMA_SA},
		{"XFRMNLGRP_SA", grpSA, nl.XFRMNLGRP_SA},
		{"AF_INET", AFInet, unix.AF_INET},
		{"AF_INET6", AFInet6, unix.AF_INET6},
	}
	for _, p := range pairs {
		if p.ours != p.nls {
			t.Errorf("%s: %d here, %d in nl", p.name, p.ours, p.nls)
		}
	}
}

func TestEncodeReadByNl(t *testing.T) {
	p := Policy{
		Sel: Selector{Family: AFInet6, Src: pfx("3049:1::/64"), Dst: pfx("3049:2::1/128"), Proto: 6,
			SrcPort: 1024, SrcPortMask: 0xffff, DstPort: 110, DstPortMask: 0xffff, Ifindex: 4, User: 5},
		Dir: DirOut, Action: ActionBlock, Flags: 1, Priority: 0x1020304, Index: 0x55,
		Tmpls: []Template{{Family: AFInet, Src: ip("1.1.1.1"), Dst: ip("2.2.2.2"), Proto: 50, SPI: 0x135,
			Mode: ModeTunnel, Reqid: 6, Share: 2, Optional: true, Aalgos: 7, Ealgos: 8, Calgos: 9}},
	}
	b := encodePolicy(p)
	info := *nl.DeserializeXfrmUserpolicyInfo(b)
	s := info.Sel
	if s.Family != AFInet6 || s.PrefixlenS != 64 || s.PrefixlenD != 128 || s.Proto != 6 ||
		nl.Swap16(s.Sport) != 1024 || nl.Swap16(s.Dport) != 110 || s.SportMask != 0xffff || s.DportMask != 0xffff ||
		s.Ifindex != 4 || s.User != 5 || netip.AddrFrom16(s.Saddr) != ip("3049:1::") || netip.AddrFrom16(s.Daddr) != ip("3049:2::1") {
		t.Errorf("selector as nl reads it: %+v", s)
	}
	if info.Priority != p.Priority || info.Index != p.Index || info.Dir != p.Dir || info.Action != p.Action ||
		info.Flags != p.Flags || info.Lft.HardByteLimit != nl.XFRM_INF || info.Lft.SoftPacketLimit != nl.XFRM_INF {
		t.Errorf("policy as nl reads it: %+v", info)
	}
	tm := *nl.DeserializeXfrmUserTmpl(b[sizePolicyInfo+4:])
	if tm.Family != AFInet || [4]byte(tm.XfrmId.Daddr[:4]) != ip("2.2.2.2").As4() || [4]byte(tm.Saddr[:4]) != ip("1.1.1.1").As4() ||
		nl.Swap32(tm.XfrmId.Spi) != 0x135 || tm.XfrmId.Proto != 50 || tm.Mode != ModeTunnel || tm.Reqid != 6 ||
		tm.Share != 2 || tm.Optional != 1 || tm.Aalgos != 7 || tm.Ealgos != 8 || tm.Calgos != 9 {
		t.Errorf("template as nl reads it: %+v", tm)
	}
	id := *nl.DeserializeXfrmUserpolicyId(encodePolicyID(p))
	if id.Index != p.Index || id.Dir != p.Dir || id.Sel != s {
		t.Errorf("policy id as nl reads it: %+v", id)
	}
}

func TestDecodeSAWrittenByNl(t *testing.T) {
	var sa nl.XfrmUsersaInfo
	sa.Family = AFInet6
	sa.Id.Daddr = ip("3049:2::").As16()
	sa.Id.Spi = nl.Swap32(0x145)
	sa.Id.Proto = 50
	sa.Curlft.Packets = 99
	k, n, err := decodeSA(sa.Serialize())
	if err != nil || k != (saKey{dst: ip("3049:2::"), spi: 0x145, proto: 50}) || n != 99 {
		t.Errorf("decodeSA = %+v, %d, %v", k, n, err)
	}
}

func TestKernelErrorMapping(t *testing.T) {
	tests := []struct {
		err      error
		known    unix.Errno
		as, want error
		text     string
	}{
		{unix.EEXIST, unix.EEXIST, ErrExists, ErrExists, ErrExists.Error()},
		{unix.ENOENT, unix.ENOENT, ErrNotFound, ErrNotFound, ErrNotFound.Error()},
		{unix.EPERM, unix.EEXIST, ErrExists, ErrPermission, ErrPermission.Error()},
		{unix.EACCES, 0, nil, ErrPermission, ErrPermission.Error()},
		{unix.EEXIST, 0, nil, unix.EEXIST, "kernel refused the request: file exists"},
		{unix.EINVAL, unix.ENOENT, ErrNotFound, unix.EINVAL, "kernel refused the request: invalid argument"},
	}
	for _, tt := range tests {
		got := kernelError(tt.err, tt.known, tt.as)
		if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) || got.Error() != tt.text {
			t.Errorf("kernelError(%v) = %q, want %q (wrapping %v and %v)", tt.err, got, tt.text, tt.want, tt.err)
		}
	}
	if kernelError(nil, unix.EEXIST, ErrExists) != nil {
		t.Error("success turned into an error")
	}
	if err := socketError(unix.EPROTONOSUPPORT, ""); !errors.Is(err, ErrNoXFRM) || !errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Errorf("socket(NETLINK_XFRM) EPROTONOSUPPORT gave %v", err)
	}
	if err := socketError(unix.EPERM, "ns"); !errors.Is(err, ErrPermission) {
		t.Errorf("setns EPERM gave %v", err)
	}
}

func TestExtAckText(t *testing.T) {
	// nlmsgerr with a capped request header and an NLMSGERR_ATTR_MSG.
	einval := -int32(unix.EINVAL)
	data := ne.AppendUint32(nil, uint32(einval))
	data = append(data, make([]byte, unix.NLMSG_HDRLEN)...)
	data = appendAttr(data, unix.NLMSGERR_ATTR_MSG, []byte("Invalid selector family\x00"))
	err := ackError(message{flags: unix.NLM_F_CAPPED | unix.NLM_F_ACK_TLVS, seq: 9, data: data})
	var oe *OpError
	if !errors.Is(err, unix.EINVAL) || !errors.As(err, &oe) || oe.Seq != 9 || oe.ExtAck != "Invalid selector family" ||
		err.Error() != "invalid argument (Invalid selector family)" {
		t.Errorf("ackError = %v", err)
	}
	if err := ackError(message{data: make([]byte, 4+unix.NLMSG_HDRLEN)}); err != nil {
		t.Errorf("acknowledgement read as %v", err)
	}
}
