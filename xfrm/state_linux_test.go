package xfrm

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The SA codec's sizes and offsets, against the nl package's definitions.
func TestStateLayoutMatchesNl(t *testing.T) {
	var info nl.XfrmUsersaInfo
	off := func(f uintptr) int { return int(f) }
	for _, p := range []struct {
		name      string
		ours, nls int
	}{
		{"usersa_info", sizeSAInfo, nl.SizeofXfrmUsersaInfo},
		{"usersa_id", sizeSAID, nl.SizeofXfrmUsersaId},
		{"encap_tmpl", sizeEncap, nl.SizeofXfrmEncapTmpl},
		{"replay_state", sizeReplay, nl.SizeofXfrmReplayState},
		{"replay_state_esn", sizeReplayES, nl.SizeofXfrmReplayStateEsn},
		{"xfrm_algo", sizeAlgName + 4, nl.SizeofXfrmAlgo},
		{"xfrm_algo_auth", sizeAlgName + 8, nl.SizeofXfrmAlgoAuth},
		{"saddr", offSASaddr, off(unsafe.Offsetof(info.Saddr))},
		{"lft", offSALft, off(unsafe.Offsetof(info.Lft))},
		{"curlft.bytes", offSACurBytes, off(unsafe.Offsetof(info.Curlft) + unsafe.Offsetof(info.Curlft.Bytes))},
		{"curlft.add_time", offSACurAdd, off(unsafe.Offsetof(info.Curlft) + unsafe.Offsetof(info.Curlft.AddTime))},
		{"curlft.use_time", offSACurUse, off(unsafe.Offsetof(info.Curlft) + unsafe.Offsetof(info.Curlft.UseTime))},
		{"stats", offSAStats, off(unsafe.Offsetof(info.Stats))},
		{"reqid", offSAReqid, off(unsafe.Offsetof(info.Reqid))},
		{"mode", offSAMode, off(unsafe.Offsetof(info.Mode))},
		{"replay_window", offSAReplayWin, off(unsafe.Offsetof(info.ReplayWindow))},
		{"flags", offSAFlags, off(unsafe.Offsetof(info.Flags))},
		{"DELSA", msgDelSA, nl.XFRM_MSG_DELSA},
		{"FLUSHSA", msgFlushSA, nl.XFRM_MSG_FLUSHSA},
		{"XFRMA_ALG_AUTH", attrAlgAuth, nl.XFRMA_ALG_AUTH},
		{"XFRMA_ALG_CRYPT", attrAlgCrypt, nl.XFRMA_ALG_CRYPT},
		{"XFRMA_ALG_COMP", attrAlgComp, nl.XFRMA_ALG_COMP},
		{"XFRMA_ENCAP", attrEncap, nl.XFRMA_ENCAP},
		{"XFRMA_REPLAY_VAL", attrReplayVal, nl.XFRMA_REPLAY_VAL},
		{"XFRMA_LASTUSED", attrLastUsed, nl.XFRMA_LASTUSED},
		{"XFRMA_ALG_AUTH_TRUNC", attrAlgAuthTrunc, nl.XFRMA_ALG_AUTH_TRUNC},
		{"XFRMA_REPLAY_ESN_VAL", attrReplayESN, nl.XFRMA_REPLAY_ESN_VAL},
		{"XFRMA_ADDRESS_FILTER", attrAddressFilter, nl.XFRMA_ADDRESS_FILTER},
		{"XFRMA_ALG_AEAD", attrAlgAEAD, nl.XFRMA_ALG_AEAD},
		{"xfrm_address_filter", sizeAddrFilter, 2*16 + 2 + 1 + 1},
	} {
		if p.ours != p.nls {
			t.Errorf("%s: %d here, %d in nl", p.name, p.ours, p.nls)
		}
	}
}

// hasESP tells whether the kernel can make ESP SAs (the development
// kernels cannot: no esp4 module).
func hasESP(t *testing.T, tb *Table) bool {
	sa := testSA(t, "esp.9999@192.0.2.99", "192.0.2.98")
	sa.Encap = nil
	err := tb.AddSA(sa)
	if err == nil {
		tb.DeleteSA(sa.SAID)
		return true
	}
	return false
}

// What this kernel refuses, it refuses in the library's words (ipsec spi
// has KLIPS's for them) and names the module it lacks; the table stays empty. Listing, delete, flush and the
// local addresses work on any kernel.
func TestKernelStates(t *testing.T) {
	tb, ns := openTable(t)
	ipn(t, ns, "link", "set", "lo", "up")
	ipn(t, ns, "addr", "add", "192.0.2.1/24", "dev", "lo")
	ipn(t, ns, "addr", "add", "3049:9::1/64", "dev", "lo", "nodad")
	sas, err := tb.SAs()
	if err != nil || len(sas) != 0 {
		t.Fatalf("SAs of a new namespace: %v, %v", sas, err)
	}
	local, err := tb.LocalAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1", "192.0.2.1", "3049:9::1", "::1"} {
		found := false
		for _, a := range local {
			found = found || a == netip.MustParseAddr(want)
		}
		if !found {
			t.Errorf("LocalAddrs %v lacks %s", local, want)
		}
	}
	if err := tb.DeleteSA(mustSAID(t, "esp.200@192.0.2.2")); !errors.Is(err, ErrSANotFound) || !errors.Is(err, fs.ErrNotExist) || err.Error() != ErrSANotFound.Error() {
		t.Errorf("DeleteSA of nothing: %v", err)
	}
	if err := tb.FlushSAs(); err != nil {
		t.Errorf("FlushSAs: %v", err)
	}
	// The filtered dump an --add of a tun SAID makes is one the kernel takes.
	for _, s := range []string{"tun.200@192.0.2.2", "tun:200@3049:9::2"} {
		tb.c.mu.Lock()
		groups, err := tb.c.groupsFor([]eroute.SAID{mustSAID(t, s)})
		tb.c.mu.Unlock()
		if err != nil || len(groups) != 0 {
			t.Errorf("groupsFor(%s): %v, %v", s, groups, err)
		}
	}
	if hasESP(t, tb) {
		t.Skip("this kernel has ESP: the refusals below are of kernels without")
	}
	for _, c := range []struct{ said, want string }{
		{"esp.200@192.0.2.2", "the kernel has no ESP for IPv4: load the kernel module esp4 (CONFIG_INET_ESP)"},
		{"ah:200@3049:9::2", "the kernel has no AH for IPv6: load the kernel module ah6 (CONFIG_INET6_AH)"},
		{"comp.200@192.0.2.2", "the kernel has no IPCOMP for IPv4: load the kernel module ipcomp (CONFIG_INET_IPCOMP)"},
	} {
		sa := testSA(t, c.said, "192.0.2.1")
		if sa.SAID.Dst.Is6() {
			sa.Src = netip.MustParseAddr("3049:9::1")
		}
		sa.Encap = nil
		if err := tb.AddSA(sa); err == nil || err.Error() != c.want {
			t.Errorf("AddSA(%s): %v, want %q", c.said, err, c.want)
		}
	}
	if crypto, _ := os.ReadFile("/proc/crypto"); !strings.Contains(string(crypto), "des3_ede") {
		sa := testSA(t, "esp.200@192.0.2.2", "192.0.2.1")
		sa.Enc = &sadb.Alg{Name: "cbc(des3_ede)", Key: make([]byte, 24)}
		err := tb.AddSA(sa)
		want := "the kernel lacks an algorithm of the SA: cbc(des3_ede) needs the kernel module des3_ede-x86_64 or des_generic (CONFIG_CRYPTO_DES)."
		if err == nil || err.Error() != want || !errors.Is(err, ErrNoAlgorithm) || !errors.Is(err, unix.ENOSYS) {
			t.Errorf("AddSA with 3DES: %v, want %q", err, want)
		}
	}
	if sas, _ := tb.SAs(); len(sas) != 0 || ipn(t, ns, "xfrm", "state") != "" {
		t.Errorf("refused adds left SAs: %v", sas)
	}
}

// A policy with a group's templates (what --add of a group's head writes,
// made here without SAs: this kernel may have none) reads back as the head's
// SAID, as eroute's own, with the group's templates in its entry; ip xfrm
// sees the reqid; Lookup of the in policy finds it own too.
func TestKernelGroupPolicyReadBack(t *testing.T) {
	tb, ns := openTable(t)
	gw := "192.0.2.2"
	esp := testSA(t, "esp.301@"+gw, "192.0.2.1")
	ah := testSA(t, "ah.302@"+gw, "192.0.2.1")
	ah.Tunnel = false
	ts, ok := groupTemplates([]sadb.SA{esp, ah}, mustSAID(t, "tun.300@"+gw))
	if !ok {
		t.Fatal("no group")
	}
	e := eroute.Eroute{Selector: eroute.Selector{Src: netip.MustParsePrefix("10.1.0.0/16"), Dst: netip.MustParsePrefix("10.2.0.0/16")},
		SAID: mustSAID(t, "tun.300@"+gw)}
	for _, dir := range []uint8{DirOut, DirIn} {
		p := PolicyOf(e)
		p.Dir = dir
		if err := tb.c.request(msgNewPolicy, 0, encodePolicy(withGroup(p, ts))); err != nil {
			t.Fatal(err)
		}
	}
	var got []Entry
	if err := tb.WalkEntries(func(en Entry) error { got = append(got, en); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Eroute != e || !got[0].Own || len(got[0].Tmpls) != 2 || got[0].Tmpls[1].Proto != protoAH {
		t.Fatalf("entries %+v; want %v, own, with the group's two templates", got, e)
	}
	wantContains(t, policies(t, ns), "proto esp reqid 768 mode tunnel", "proto ah reqid 768 mode transport")
	if in, ok, err := tb.Lookup(e.Selector, true); err != nil || !ok || !in.Own || in.SAID != e.SAID {
		t.Errorf("Lookup of the in policy: %+v %v %v", in, ok, err)
	}
	if in, err := tb.InboundPolicies(); err != nil || len(in) != 1 || in[0] != e {
		t.Errorf("InboundPolicies: %v, %v; want %v", in, err, e)
	}
}
