package spi

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eroute/eroute/pkg/eroute"
)

func TestDecodeKey(t *testing.T) {
	for _, c := range []struct {
		in, hex, err string
	}{
		{"0x4043434545464649494a4a4c4c4f4f515152525454575758", "4043434545464649494a4a4c4c4f4f515152525454575758", ""},
		{"0x01234567_89abcdef_02468ace_13579bdf_12345678_9abcdef0", "0123456789abcdef02468ace13579bdf123456789abcdef0", ""},
		{"0X0A0b", "0a0b", ""},
		{"0sQENDRUVGRklJSkpMTE9PUVFSUlRUV1dY", "4043434545464649494a4a4c4c4f4f515152525454575758", ""},
		{"0sAAE=", "0001", ""},
		{"0sAA==", "00", ""},
		{"0tsecretsecretse", hex.EncodeToString([]byte("secretsecretse")), ""},
		{"", "", "input too short to be valid"},
		{"0", "", "input too short to be valid"},
		{"12345", "", "input does not begin with format prefix"},
		{"0q1234", "", "unknown format prefix"},
		{"0x", "", "no data bytes specified by input"},
		{"0x123", "", "input ends in mid-byte, perhaps truncated"},
		{"0x12_", "", "unknown character (`_') in input"},
		{"0x_12", "", "unknown character (`_') in input"},
		{"0x12__34", "", "unknown character (`_') in input"},
		{"0x1_234", "", "input ends in mid-byte, perhaps truncated"},
		{"0x12zz", "", "unknown character (`z') in input"},
		{"0x12\x01\x02", "", "unknown character (`\\001') in input"},
		{"0sAAF=", "", "bad (non-zero) padding at end of base64 input"},
		{"0sAA=A", "", "unknown character (`=') in input"},
		{"0sAAA", "", "input ends in mid-byte, perhaps truncated"},
		{"0sA*AA", "", "unknown character (`*') in input"},
	} {
		got, err := DecodeKey(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("DecodeKey(%q) = %x, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		want, _ := hex.DecodeString(c.hex)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("DecodeKey(%q) = %x, %v; want %x", c.in, got, err, want)
		}
	}
}

func TestParseESP(t *testing.T) {
	for _, c := range []struct {
		in, enc, auth string
		trunc         int
	}{
		{"3des", "cbc(des3_ede)", "", 0},
		{"3des-md5-96", "cbc(des3_ede)", "hmac(md5)", 96},
		{"3des-sha1-96", "cbc(des3_ede)", "hmac(sha1)", 96},
		{"aes128-sha1", "cbc(aes)", "hmac(sha1)", 96},
		{"aes-sha1-96", "cbc(aes)", "hmac(sha1)", 96},
		{"aes-sha2_256", "cbc(aes)", "hmac(sha256)", 128},
		{"AES-SHA2_256", "cbc(aes)", "hmac(sha256)", 128},
		{"aes-sha2_256-96", "cbc(aes)", "hmac(sha256)", 96},
		{"aes-128-sha256", "cbc(aes)", "hmac(sha256)", 128},
		{"aes256-sha2_512", "cbc(aes)", "hmac(sha512)", 256},
		{"aes-sha2_384", "cbc(aes)", "hmac(sha384)", 192},
		{"aes-aes_xcbc", "cbc(aes)", "xcbc(aes)", 96},
		{"null-md5-96", "ecb(cipher_null)", "hmac(md5)", 96},
		{"aes-null", "cbc(aes)", "", 0},
	} {
		a, err := ParseESP(c.in)
		if err != nil {
			t.Errorf("ParseESP(%q): %v", c.in, err)
			continue
		}
		ek := make([]byte, max(a.keyBits, a.cipher.sizes[0])/8)
		var ak []byte
		if a.integ != nil {
			ak = make([]byte, a.integ.keyBits/8)
		}
		enc, auth, err := a.Transforms(ek, ak, a.cipher.klips != "null", a.integ != nil)
		if err != nil {
			t.Errorf("%q: Transforms: %v", c.in, err)
			continue
		}
		if enc.Name != c.enc || (auth == nil) != (c.auth == "") || auth != nil && (auth.Name != c.auth || auth.TruncBits != c.trunc) {
			t.Errorf("%q: enc %v auth %+v; want %s %s/%d", c.in, enc.Name, auth, c.enc, c.auth, c.trunc)
		}
	}
	for _, c := range []struct{ in, err string }{
		{"blowfish-md5", "unknown cipher"},
		{"aes-sha3", "unknown integrity algorithm"},
		{"aes160-sha1", "aes takes keys of 128, 192, 256 bits"},
		{"aes-md5-128", "md5 has a 96-bit ICV, not 128"},
		{"null", "ESP handed encNULL+authNONE, illegal combination."},
		{"aes-sha1-96-modp2048", "unexpected"},
	} {
		_, err := ParseESP(c.in)
		if err == nil || !strings.HasPrefix(err.Error(), "Invalid encryption algorithm '"+c.in+"' follows '--esp' option: ") || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseESP(%q): %v, want %q", c.in, err, c.err)
		}
	}
}

func TestKeyLengthMessages(t *testing.T) {
	k := &fakeKernel{}
	for _, c := range []struct{ args, want string }{
		{"--esp 3des-md5-96 --enckey 0x0011223344556677 --authkey 0x00112233445566778899aabbccddeeff",
			"spi: invalid encryption keylen=64, must be between 192 and 192 bits\n"},
		{"--esp 3des-md5-96 --enckey 0x" + strings.Repeat("00", 24) + " --authkey 0x0011",
			"spi: invalid auth keylen=16, must be between 128 and 128 bits\n"},
		{"--esp aes128-sha1 --enckey 0x" + strings.Repeat("00", 32) + " --authkey 0x" + strings.Repeat("00", 20),
			"spi: invalid encryption keylen=256, required 128 by encrypt algo string=\"aes128-sha1\"\n"},
		{"--esp aes-sha2_256 --enckey 0x" + strings.Repeat("00", 20) + " --authkey 0x" + strings.Repeat("00", 32),
			"spi: invalid encryption keylen=160, must be between 128 and 256 bits (128, 192, 256)\n"},
		{"--esp aes-sha2_256 --enckey 0x" + strings.Repeat("00", 16) + " --authkey 0x" + strings.Repeat("00", 20),
			"spi: invalid auth keylen=160, must be between 256 and 256 bits\n"},
		{"--esp aes-sha1 --authkey 0x" + strings.Repeat("00", 20), "spi: --esp aes-sha1 needs --enckey\n"},
		{"--esp aes-sha1 --enckey 0x" + strings.Repeat("00", 16), "spi: --esp aes-sha1 needs --authkey\n"},
		{"--esp aes-sha1 --enckey 0xabc --authkey 0x00", "spi: malformed Encryption Key: input ends in mid-byte, perhaps truncated\n"},
		{"--esp aes-sha1 --enckey 0x00 --authkey 12", "spi: malformed Authentication Key: input does not begin with format prefix\n"},
	} {
		args := append([]string{"spi", "--said", "esp.200@10.0.0.2"}, strings.Fields(c.args)...)
		code, _, errs := run(k, args...)
		if code != 1 || errs != c.want {
			t.Errorf("%s: exit %d, %q; want 1, %q", c.args, code, errs, c.want)
		}
	}
	if len(k.ops) != 0 {
		t.Errorf("refused commands changed the kernel: %v", k.ops)
	}
}

func TestSpiRefusals(t *testing.T) {
	k := &fakeKernel{}
	for _, c := range []struct{ args, want string }{
		{"--esp 3des --ah hmac-md5-96", "Only one of '--ah', '--esp', '--comp', '--ip4', '--ip6', '--del' or '--clear' options permitted."},
		{"--edst 10.0.0.2", "No action chosen.  See 'spi --help' for usage."},
		{"--del --spi 0x200 --proto esp", "SA destination not specified."},
		{"--del --edst 10.0.0.2 --proto esp", "SA SPI not specified."},
		{"--del --edst 10.0.0.2 --spi 0x200", "SA PROTO not specified."},
		{"--del --edst 10.0.0.2 --spi 0xff --proto esp", `Invalid SPI parameter "0xff": 0 - 0xFF are reserved`},
		{"--del --edst 10.0.0.2 --spi 0125 --proto esp", `Invalid SPI parameter "0125": 0 - 0xFF are reserved`},
		{"--del --edst 10.0.0.2 --spi 0x1g --proto esp", `Invalid SPI parameter "0x1g": non-digit character in number`},
		{"--del --edst 10.0.0.2 --spi 0x200 --proto xx", "Invalid PROTO parameter: xx"},
		{"--del --af inet6 --edst 10.0.0.2 --spi 0x200 --proto esp", "Defined address family and address family of SA mismatch."},
		{"--del --af inet7 --said esp.200@10.0.0.2", "Invalid ADDRESS FAMILY parameter: inet7."},
		{"--del --said esp.200@10.0.0.2 --spi 0x300", "Error, SPI parameter redefined:0x300, already defined in SA:esp.200@10.0.0.2"},
		{"--del --said esp.20@10.0.0.2", "Error, values less than 0x100 are reserved converting --said argument:esp.20@10.0.0.2"},
		{"--del --said esp.200@10.0.0.2 --src 10.0.0.1 --src 10.0.0.3", "Error, SRC parameter redefined:10.0.0.3, already defined as:10.0.0.1"},
		{"--comp deflate --said comp.10000@10.0.0.2", "Invalid CPI 0x10000 of comp.10000@10.0.0.2: an IPCOMP CPI has 16 bits, so it must be below 0x10000"},
		{"--comp lzs --said comp.200@10.0.0.2", "Unknown compression algorithm 'lzs' follows '--comp' option: Linux has no LZS; use deflate"},
		{"--comp zip --said comp.200@10.0.0.2", "Unknown compression algorithm 'zip' follows '--comp' option."},
		{"--ah md4 --said ah.200@10.0.0.2 --authkey 0x00", "Unknown authentication algorithm 'md4' follows '--ah' option."},
		{"--ah hmac-md5-96 --said esp.200@10.0.0.2 --authkey 0x00", "--ah adds a ah SA, but the SA given is esp.200@10.0.0.2"},
		{"--ip4 --said tun:200@::1 --src ::2", "--ip4 makes an inet tunnel, but tun:200@::1 is inet6"},
		{"--ah hmac-md5-96 --said ah.200@10.0.0.2 --authkey 0x" + strings.Repeat("00", 16) + " --enckey 0x00", "--enckey does not go with --ah"},
		{"--ah hmac-md5-96 --said ah.200@10.0.0.2 --authkey 0x" + strings.Repeat("00", 16) + " --replay_window 65",
			"Failed -- Illegal window size: arg=65, replay_window=65, must be 1 <= size <= 64."},
		{"--ah hmac-md5-96 --said ah.200@10.0.0.2 --authkey 0x" + strings.Repeat("00", 16) + " --replay_window x",
			"Invalid replay_window parameter: non-digit character in number"},
		{"--ah hmac-md5-96 --said ah.200@10.0.0.2 --authkey 0x" + strings.Repeat("00", 16) + " --life hard-bytes",
			"expected '=' after type of lifetime parameter to --life option."},
		{"--del --said esp.200@10.0.0.2 --iv 0x1", "malformed IV: input ends in mid-byte, perhaps truncated"},
		{"--del --said esp.200@10.0.0.2 --dst nowhere!", `Error, bad character '!' in address converting --dst argument:nowhere!`},
		{"--clear --said esp.200@10.0.0.2", "--clear deletes every SA and takes no --said"},
		{"--del --said esp.200@10.0.0.2 --outif 3", "--outif is not supported: KLIPS mast interfaces have no XFRM equivalent"},
		{"--del --said esp.200@10.0.0.2 --json", "--json goes with the listing only"},
		{"--esp aes-sha1 --said esp.200@10.0.0.2 --enckey 0x" + strings.Repeat("00", 16) + " --authkey 0x" + strings.Repeat("00", 20) + " --sport 4500",
			"--sport goes with --natt"},
		{"--bogus", "unrecognized option '--bogus'; see --help"},
		{"esp", "unexpected argument 'esp'"},
		{"--label west --del --said esp.1@1.2.3.4", "Error, values less than 0x100 are reserved converting --said argument:esp.1@1.2.3.4"},
	} {
		code, out, errs := run(k, append([]string{"spi"}, strings.Fields(c.args)...)...)
		prefix := "spi: "
		if strings.HasPrefix(c.args, "--label west") {
			prefix = "spi --label west: "
		}
		if code != 1 || errs != prefix+c.want+"\n" || out != "" {
			t.Errorf("spi %s: exit %d, %q; want 1, %q", c.args, code, errs, prefix+c.want+"\n")
		}
	}
	if len(k.ops) != 0 {
		t.Errorf("refused commands changed the kernel: %v", k.ops)
	}
}

func TestParseLife(t *testing.T) {
	soft, hard, note, err := ParseLife("soft-bytes=1000,hard-bytes=800,hard-addtime=0x10,soft-packets=5,hard-allocations=3")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{Bytes: 800, Packets: 5}); soft != want {
		t.Errorf("soft %+v, want %+v (soft clamped to hard)", soft, want)
	}
	if want := (Limits{Bytes: 800, AddTime: 16}); hard != want {
		t.Errorf("hard %+v, want %+v", hard, want)
	}
	if !strings.Contains(note, "hard-allocations ignored") {
		t.Errorf("note %q", note)
	}
	for in, want := range map[string]string{
		"medium-bytes=1":            "missing lifetime severity in medium-bytes=1",
		"soft":                      "expected '-' after severity of lifetime parameter to --life option.",
		"soft-kb=1":                 "missing lifetime type after '-' in soft-kb=1",
		"soft-bytes=":               "expected value after '=' in --life option.",
		"soft-bytes=1,soft-bytes=2": "Error, lifetime parameter redefined:soft-bytes=2, already defined as:1",
		"soft-bytes=12x":            `Invalid number for lifetime option parameter soft-bytes=12x in parameter string "soft-bytes=12x": non-digit character in number`,
	} {
		if _, _, _, err := ParseLife(in); err == nil || err.Error() != want {
			t.Errorf("ParseLife(%q): %v, want %q", in, err, want)
		}
	}
}

// The two-gateway recipe of KLIPS (east's half): SAs, groups, eroute-free
// listing, --get, --del of a member and --clear.
func TestRecipeEast(t *testing.T) {
	east, west := "192.1.2.23", "192.1.2.45"
	k := &fakeKernel{local: []netip.Addr{netip.MustParseAddr(east)}}
	ek := "0x4043434545464649494a4a4c4c4f4f515152525454575758"
	ak := "0x87658765876587658765876587658765"
	must(t, k, "spi --af inet --edst "+west+" --spi 0x12345678 --proto tun --src "+east+" --dst "+west+" --ip4")
	must(t, k, "spi --af inet --edst "+west+" --spi 0x12345678 --proto esp --src "+east+" --esp 3des-md5-96 --enckey "+ek+" --authkey "+ak)
	must(t, k, "spigrp inet "+west+" 0x12345678 tun inet "+west+" 0x12345678 esp")
	must(t, k, "spi --af inet --edst "+east+" --spi 0x12345679 --proto tun --src "+west+" --dst "+east+" --ip4")
	must(t, k, "spi --af inet --edst "+east+" --spi 0x12345679 --proto esp --src "+west+" --esp 3des-md5-96 --enckey "+ek+" --authkey "+ak)
	must(t, k, "spigrp inet "+east+" 0x12345679 tun inet "+east+" 0x12345679 esp")
	out := k.byID(t, "esp.12345678@"+west)
	if out == nil || !out.Tunnel || out.Reqid != 0x12345678 || out.Src.String() != east {
		t.Fatalf("outbound esp after spigrp: %+v", out)
	}
	k.inbound = []eroute.Eroute{{Selector: eroute.Selector{Src: netip.MustParsePrefix("192.0.1.0/24"), Dst: netip.MustParsePrefix("192.0.2.0/24")},
		SAID: said(t, "tun.12345679@"+east)}}
	now := testNow
	for i := range k.sas {
		k.sas[i].Current.AddTime = now.Add(-26 * time.Second)
	}
	got := must(t, k, "spi")
	want := "tun0x12345679@192.1.2.23 IPIP: dir=in  src=192.1.2.45 policy=192.0.1.0/24->192.0.2.0/24 flags=0x8<> life(c,s,h)=addtime(26,0,0) natencap=none natsport=0 natdport=0\n" +
		"esp0x12345679@192.1.2.23 ESP_3DES_HMAC_MD5: dir=in  src=192.1.2.45 iv_bits=64bits alen=128 aklen=128 eklen=192 life(c,s,h)=addtime(26,0,0) natencap=none natsport=0 natdport=0\n" +
		"tun0x12345678@192.1.2.45 IPIP: dir=out src=192.1.2.23 life(c,s,h)=addtime(26,0,0) natencap=none natsport=0 natdport=0\n" +
		"esp0x12345678@192.1.2.45 ESP_3DES_HMAC_MD5: dir=out src=192.1.2.23 iv_bits=64bits alen=128 aklen=128 eklen=192 life(c,s,h)=addtime(26,0,0) natencap=none natsport=0 natdport=0\n"
	if got != want {
		t.Errorf("listing:\n%s\nwant:\n%s", got, want)
	}
	got = must(t, k, "spigrp")
	want = "tun0x12345679@192.1.2.23 \n" +
		"esp0x12345679@192.1.2.23 tun0x12345679@192.1.2.23 \n" +
		"tun0x12345678@192.1.2.45 esp0x12345678@192.1.2.45 \n" +
		"esp0x12345678@192.1.2.45 \n"
	if got != want {
		t.Errorf("spigrp listing:\n%s\nwant:\n%s", got, want)
	}
	if got := must(t, k, "spi --get --said tun.12345678@"+west); got != "spi: lifetime_current=1(allocations)/0(bytes)/"+strconv.FormatInt(now.Add(-26*time.Second).Unix(), 10)+"(addtime)/0(usetime)\n" {
		t.Errorf("--get: %q", got)
	}
	// A second tun SA with a grouped handle is refused, as in KLIPS.
	if code, _, errs := run(k, strings.Fields("spi --said tun.12345678@"+west+" --ip4 --src "+east)...); code != 1 || !strings.Contains(errs, "SA already in use.  Delete old one first.") {
		t.Errorf("second tun SA: %d %q", code, errs)
	}
	must(t, k, "spi --said tun.12345678@"+west+" --del")
	if k.byID(t, "esp.12345678@"+west) == nil && len(k.sas) == 1 {
		// deleted with its group
	} else {
		t.Errorf("--del of the tun SA left %d SAs", len(k.sas))
	}
	if code, _, errs := run(k, strings.Fields("spi --said esp.12345678@"+west+" --del")...); code != 1 || errs != "spi: esp.12345678@192.1.2.45: SA does not exist.  Cannot delete.\n" {
		t.Errorf("second --del: %d %q", code, errs)
	}
	must(t, k, "spi --clear")
	if len(k.sas) != 0 {
		t.Errorf("--clear left %v", k.sas)
	}
}

// addSA adds an ESP, AH or IPCOMP SA with test keys.
func addSA(t *testing.T, k *fakeKernel, text, src string) {
	t.Helper()
	id := said(t, text)
	line := "spi --said " + text + " --src " + src
	switch id.Proto {
	case eroute.ProtoESP:
		line += " --esp aes-sha2_256 --enckey 0x" + strings.Repeat("11", 16) + " --authkey 0x" + strings.Repeat("22", 32)
	case eroute.ProtoAH:
		line += " --ah hmac-sha1-96 --authkey 0x" + strings.Repeat("33", 20)
	case eroute.ProtoComp:
		line += " --comp deflate"
	}
	must(t, k, line)
}

func TestGroups(t *testing.T) {
	k := &fakeKernel{}
	gw := "10.0.0.2"
	addSA(t, k, "comp.301@"+gw, "10.0.0.1")
	addSA(t, k, "esp.302@"+gw, "10.0.0.1")
	addSA(t, k, "ah.303@"+gw, "10.0.0.1")
	// Pairwise, as the KLIPS tests built tun, comp, esp.
	must(t, k, "spigrp --said tun.300@"+gw+" comp.301@"+gw)
	must(t, k, "spigrp inet "+gw+" 0x301 comp inet "+gw+" 0x302 esp")
	must(t, k, "spigrp --said esp.302@"+gw+" ah.303@"+gw)
	for _, c := range []struct {
		id     string
		tunnel bool
	}{{"comp.301@" + gw, true}, {"esp.302@" + gw, false}, {"ah.303@" + gw, false}} {
		sa := k.byID(t, c.id)
		if sa.Reqid != 0x300 || sa.Tunnel != c.tunnel {
			t.Errorf("%s: reqid %#x tunnel %v, want 0x300 %v", c.id, sa.Reqid, sa.Tunnel, c.tunnel)
		}
	}
	if got := must(t, k, "spigrp"); !strings.Contains(got, "tun0x300@10.0.0.2 comp0x301@10.0.0.2 esp0x302@10.0.0.2 ah0x303@10.0.0.2 \n") {
		t.Errorf("spigrp listing:\n%s", got)
	}
	addSA(t, k, "esp.402@"+gw, "10.0.0.1")
	addSA(t, k, "ah.403@"+gw, "10.0.0.1")
	for _, c := range []struct{ line, want string }{
		{"spigrp --said esp.402@" + gw + " tun.400@" + gw, "spigrp: tun.400@10.0.0.2 must come first: a tun SA is the innermost transform of its group\n"},
		{"spigrp --said tun.400@" + gw + " ah.403@" + gw + " esp.402@" + gw, "spigrp: esp.402@10.0.0.2 after ah.403@10.0.0.2: XFRM applies a group's SAs inner to outer as comp, esp, ah; give them in that order\n"},
		{"spigrp --said tun.400@" + gw + " esp.302@" + gw, "spigrp: esp.302@10.0.0.2 is in another group: SA already in use.  Delete old one first.\n"},
		{"spigrp --said tun.400@" + gw + " esp.999@" + gw, "spigrp: esp.999@10.0.0.2: SA does not exist.  Cannot group.\n"},
		{"spigrp --said tun.400@" + gw + " esp.402@10.0.0.3", "spigrp: esp.402@10.0.0.3: SA does not exist.  Cannot group.\n"},
		{"spigrp inet " + gw + " 0x400 tun inet " + gw + " 0x402", "spigrp: expecting 4, 8, 12 or 16 args without --said (af dst spi proto for each SA), got 7.\n"},
		{"spigrp inet " + gw + " 0xff tun", "spigrp: Badly formed spi: values less than 0x100 are reserved \"0xff\"\n"},
		{"spigrp inet " + gw + " 0x400 tunnel", "spigrp: Badly formed proto: tunnel\n"},
		{"spigrp ipx " + gw + " 0x400 tun", "spigrp: Address family ipx not supported\n"},
	} {
		before := slices.Clone(k.ops)
		code, _, errs := run(k, strings.Fields(c.line)...)
		if code != 1 || errs != c.want {
			t.Errorf("%s: exit %d, %q; want 1, %q", c.line, code, errs, c.want)
		}
		if !slices.Equal(before, k.ops) {
			t.Errorf("%s changed the kernel", c.line)
		}
	}
	// A refused re-add is undone: the group stays as it was.
	k.failAdd = said(t, "ah.403@"+gw)
	code, _, errs := run(k, strings.Fields("spigrp --said tun.400@"+gw+" esp.402@"+gw+" ah.403@"+gw)...)
	if code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("failing group: %d %q", code, errs)
	}
	if sa := k.byID(t, "esp.402@"+gw); sa == nil || sa.Reqid != 0 || sa.Tunnel {
		t.Errorf("esp.402 after a failed group: %+v", sa)
	}
	k.failAdd = eroute.SAID{}
	// Ungroup: one SA.
	must(t, k, "spigrp --said tun.300@"+gw)
	for _, id := range []string{"comp.301@" + gw, "esp.302@" + gw, "ah.303@" + gw} {
		if sa := k.byID(t, id); sa.Reqid != 0 || sa.Tunnel {
			t.Errorf("%s after ungroup: reqid %#x tunnel %v", id, sa.Reqid, sa.Tunnel)
		}
	}
	// Delete of one member takes the group.
	must(t, k, "spigrp --said tun.400@"+gw+" esp.402@"+gw+" ah.403@"+gw)
	must(t, k, "spi --said ah.403@"+gw+" --del")
	if k.byID(t, "esp.402@"+gw) != nil {
		t.Error("--del of ah.403 left esp.402 of its group")
	}
}

// Keys never appear in what the commands print: listing, JSON, --debug.
func TestKeysNeverPrinted(t *testing.T) {
	k := &fakeKernel{}
	ek, ak := strings.Repeat("5a", 16), strings.Repeat("a5", 32)
	_, out, _ := run(k, strings.Fields("spi --debug --said esp.200@10.0.0.2 --esp aes-sha2_256 --enckey 0x"+ek+" --authkey 0x"+ak)...)
	_, list, _ := run(k, "spi")
	_, js, _ := run(k, "spi", "--json")
	for name, text := range map[string]string{"debug": out, "listing": list, "json": js} {
		if strings.Contains(strings.ToLower(text), ek) || strings.Contains(strings.ToLower(text), ak) || strings.Contains(text, "Wlpa") {
			t.Errorf("%s shows a key: %s", name, text)
		}
	}
	if !strings.Contains(js, `"enc":{"name":"cbc(aes)","key_bits":128}`) || !strings.Contains(js, `"auth":{"name":"hmac(sha256)","key_bits":256,"icv_bits":128}`) {
		t.Errorf("json: %s", js)
	}
	if !strings.Contains(out, "enc cbc(aes) (128-bit key) auth hmac(sha256) (256-bit key) icv 128 bits") {
		t.Errorf("debug: %s", out)
	}
}
