package spi

import (
	"fmt"
	"strconv"
	"strings"
)

// cipher is one ESP encryption algorithm KLIPS knew.
type cipher struct {
	klips   string // the --esp name
	xfrm    string // the kernel's name
	listing string // the /proc/net/ipsec_spi name after ESP_
	sizes   []int  // the key lengths in bits the kernel takes
	ivBits  int    // block size, listed as iv_bits
}

// integrity is one authentication algorithm.
type integrity struct {
	klips   string // canonical name
	xfrm    string
	listing string // after AH_ or ESP_..._
	keyBits int
	icvBits int // RFC ICV on the wire
}

var ciphers = []cipher{
	{"3des", "cbc(des3_ede)", "3DES", []int{192}, 64},
	{"aes", "cbc(aes)", "AES", []int{128, 192, 256}, 128},
	{"twofish", "cbc(twofish)", "TWOFISH", []int{128, 192, 256}, 128},
	{"serpent", "cbc(serpent)", "SERPENT", []int{128, 192, 256}, 128},
	{"cast", "cbc(cast5)", "ID6", []int{128}, 64},
	{"camellia", "cbc(camellia)", "ID22", []int{128, 192, 256}, 128},
	{"null", "ecb(cipher_null)", "NULL", []int{0}, 0},
}

var integrities = []integrity{
	{"md5", "hmac(md5)", "HMAC_MD5", 128, 96},
	{"sha1", "hmac(sha1)", "HMAC_SHA1", 160, 96},
	{"sha2_256", "hmac(sha256)", "HMAC_SHA2_256", 256, 128},
	{"sha2_384", "hmac(sha384)", "HMAC_SHA2_384", 384, 192},
	{"sha2_512", "hmac(sha512)", "HMAC_SHA2_512", 512, 256},
	{"aes_xcbc", "xcbc(aes)", "ID9", 128, 96},
}

// integrityAliases are the other names KLIPS's parser took.
var integrityAliases = map[string]string{
	"sha": "sha1", "sha1_96": "sha1", "sha2": "sha2_256", "sha256": "sha2_256",
	"sha384": "sha2_384", "sha512": "sha2_512",
}

// sha256Trunc96 is the listing name of HMAC-SHA2-256 truncated to 96 bits,
// the pre-RFC 4868 form some peers still use (KLIPS's id 252).
const sha256Trunc96 = "ID252"

func findCipher(name string) (cipher, bool) {
	for _, c := range ciphers {
		if c.klips == name {
			return c, true
		}
	}
	return cipher{}, false
}

func findIntegrity(name string) (integrity, bool) {
	if n, ok := integrityAliases[name]; ok {
		name = n
	}
	for _, i := range integrities {
		if i.klips == name {
			return i, true
		}
	}
	return integrity{}, false
}

// ESPAlg is a parsed --esp value: the cipher (always, null for none), the
// integrity (nil for none), and the key length the name demands (0: any
// the cipher takes).
type ESPAlg struct {
	cipher  cipher
	integ   *integrity
	icvBits int
	keyBits int
	text    string
}

// ParseESP reads an --esp value: the classic names (3des, 3des-md5-96,
// 3des-sha1-96) and the later <enc>[<bits>|-<bits>][-<integ>[-<icvbits>]]
// (aes128-sha1, aes-sha2_256, null-md5-96, aes-sha2_256-96).
func ParseESP(s string) (ESPAlg, error) {
	bad := func(why string) (ESPAlg, error) {
		return ESPAlg{}, fmt.Errorf("Invalid encryption algorithm '%s' follows '--esp' option: %s", s, why)
	}
	parts := strings.Split(strings.ToLower(s), "-")
	a := ESPAlg{text: s}
	var name string
	name, a.keyBits = splitBits(parts[0])
	c, ok := findCipher(name)
	if !ok {
		return bad(fmt.Sprintf("unknown cipher %q (known: 3des, aes, twofish, serpent, cast, camellia, null)", parts[0]))
	}
	a.cipher = c
	parts = parts[1:]
	if len(parts) > 0 && allDigits(parts[0]) {
		if a.keyBits != 0 {
			return bad("key length given twice")
		}
		a.keyBits, _ = strconv.Atoi(parts[0])
		parts = parts[1:]
	}
	if a.keyBits != 0 && !containsInt(c.sizes, a.keyBits) {
		return bad(fmt.Sprintf("%s takes keys of %s bits", c.klips, joinInts(c.sizes)))
	}
	if len(parts) > 0 && parts[0] != "null" && parts[0] != "none" {
		i, ok := findIntegrity(parts[0])
		if !ok {
			return bad(fmt.Sprintf("unknown integrity algorithm %q (known: md5, sha1, sha2_256, sha2_384, sha2_512, aes_xcbc, null)", parts[0]))
		}
		a.integ, a.icvBits = &i, i.icvBits
		if len(parts) > 1 {
			n, err := icvOf(i, parts[1])
			if err != nil {
				return bad(err.Error())
			}
			a.icvBits = n
			parts = parts[1:]
		}
	}
	if len(parts) > 1 {
		return bad(fmt.Sprintf("unexpected %q", strings.Join(parts[1:], "-")))
	}
	if c.klips == "null" && a.integ == nil {
		return bad("ESP handed encNULL+authNONE, illegal combination.")
	}
	return a, nil
}

// icvOf reads the -<bits> after an integrity name: the RFC length, or 96
// for sha2_256 (the truncation older peers use).
func icvOf(i integrity, s string) (int, error) {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("bad ICV length %q", s)
	case n == i.icvBits, n == 96 && i.klips == "sha2_256":
		return n, nil
	}
	return 0, fmt.Errorf("%s has a %d-bit ICV, not %d", i.klips, i.icvBits, n)
}

// Transforms gives the XFRM algorithms of an --esp value with its keys,
// after the KLIPS key length checks.
func (a ESPAlg) Transforms(enckey, authkey []byte, hasEnc, hasAuth bool) (enc, auth *Alg, err error) {
	c := a.cipher
	bits := len(enckey) * 8
	switch {
	case c.klips == "null" && hasEnc && bits != 0:
		return nil, nil, fmt.Errorf("--esp %s has no encryption and takes no --enckey", a.text)
	case c.klips != "null" && !hasEnc:
		return nil, nil, fmt.Errorf("--esp %s needs --enckey", a.text)
	case a.keyBits != 0 && bits != a.keyBits:
		return nil, nil, fmt.Errorf("invalid encryption keylen=%d, required %d by encrypt algo string=\"%s\"", bits, a.keyBits, a.text)
	case !containsInt(c.sizes, bits):
		return nil, nil, fmt.Errorf("invalid encryption keylen=%d, must be between %d and %d bits%s",
			bits, c.sizes[0], c.sizes[len(c.sizes)-1], sizesNote(c.sizes))
	}
	enc = &Alg{Name: c.xfrm, Key: enckey}
	if a.integ == nil {
		if hasAuth {
			return nil, nil, fmt.Errorf("--esp %s has no integrity and takes no --authkey", a.text)
		}
		return enc, nil, nil
	}
	auth, err = integrityAlg(*a.integ, a.icvBits, authkey, hasAuth, "--esp "+a.text)
	return enc, auth, err
}

func integrityAlg(i integrity, icvBits int, key []byte, hasKey bool, what string) (*Alg, error) {
	bits := len(key) * 8
	switch {
	case !hasKey:
		return nil, fmt.Errorf("%s needs --authkey", what)
	case bits != i.keyBits:
		return nil, fmt.Errorf("invalid auth keylen=%d, must be between %d and %d bits", bits, i.keyBits, i.keyBits)
	}
	return &Alg{Name: i.xfrm, Key: key, TruncBits: icvBits}, nil
}

// AHAlg is a parsed --ah value.
type AHAlg struct {
	integ   integrity
	icvBits int
	text    string
}

// ParseAH reads an --ah value: hmac-md5-96, hmac-sha1-96 and, as FreeS/WAN
// and the later parsers took them, md5, hmac-md5, sha1, hmac-sha2_256...
func ParseAH(s string) (AHAlg, error) {
	name := strings.TrimPrefix(strings.ToLower(s), "hmac-")
	name, bits, _ := strings.Cut(name, "-")
	i, ok := findIntegrity(name)
	if !ok {
		return AHAlg{}, fmt.Errorf("Unknown authentication algorithm '%s' follows '--ah' option.", s)
	}
	a := AHAlg{integ: i, icvBits: i.icvBits, text: s}
	if bits != "" {
		n, err := icvOf(i, bits)
		if err != nil {
			return AHAlg{}, fmt.Errorf("Unknown authentication algorithm '%s' follows '--ah' option: %v", s, err)
		}
		a.icvBits = n
	}
	return a, nil
}

// Transform gives the XFRM integrity algorithm with its key, checked.
func (a AHAlg) Transform(authkey []byte, hasAuth bool) (*Alg, error) {
	return integrityAlg(a.integ, a.icvBits, authkey, hasAuth, "--ah "+a.text)
}

// ParseComp reads a --comp value. deflate is the only one Linux has; lzs,
// which KLIPS also took, has no kernel implementation and is refused here
// rather than by the kernel.
func ParseComp(s string) (*Alg, error) {
	switch strings.ToLower(s) {
	case "deflate":
		return &Alg{Name: "deflate"}, nil
	case "lzs":
		return nil, fmt.Errorf("Unknown compression algorithm '%s' follows '--comp' option: Linux has no LZS; use deflate", s)
	}
	return nil, fmt.Errorf("Unknown compression algorithm '%s' follows '--comp' option.", s)
}

// splitBits splits a trailing key length off a cipher name: aes128 is aes,
// 128. 3des keeps its digit.
func splitBits(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == 0 || i == len(s) {
		return s, 0
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil || n > 1<<16 {
		return s, 0
	}
	return s[:i], n
}

func allDigits(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func containsInt(list []int, n int) bool {
	for _, v := range list {
		if v == n {
			return true
		}
	}
	return false
}

func joinInts(list []int) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

// sizesNote names the lengths when the range has holes (AES: 128, 192 or
// 256, not 160).
func sizesNote(sizes []int) string {
	if len(sizes) < 3 {
		return ""
	}
	return " (" + joinInts(sizes) + ")"
}

// XformName gives the /proc/net/ipsec_spi name of an SA's transforms:
// ESP_3DES_HMAC_MD5, AH_HMAC_SHA1, COMP_DEFLATE, and _ID<n> or the XFRM
// name for what KLIPS had no name for.
func XformName(sa *SA) string {
	switch sa.SAID.Proto.String() {
	case "comp":
		if sa.Comp != nil && sa.Comp.Name == "deflate" {
			return "COMP_DEFLATE"
		}
		return "COMP_UNKNOWN_comp"
	case "ah":
		return "AH" + authListing(sa.Auth)
	case "esp":
		return "ESP" + encListing(sa.Enc) + authListing(sa.Auth)
	}
	return strings.ToUpper(sa.SAID.Proto.String())
}

func encListing(a *Alg) string {
	if a == nil {
		return ""
	}
	for _, c := range ciphers {
		if c.xfrm == a.Name || strings.TrimSuffix(strings.TrimPrefix(c.xfrm, "cbc("), ")") == a.Name {
			return "_" + c.listing
		}
	}
	if a.Name == "cipher_null" {
		return "_NULL"
	}
	return "_" + a.Name
}

func authListing(a *Alg) string {
	if a == nil {
		return ""
	}
	for _, i := range integrities {
		if i.xfrm == a.Name {
			if i.klips == "sha2_256" && a.TruncBits == 96 {
				return "_" + sha256Trunc96
			}
			return "_" + i.listing
		}
	}
	return "_" + a.Name
}

// digestBits is the alen of the listing: the authenticator's full size
// (128 for MD5, 160 for SHA1), not the ICV.
func digestBits(a *Alg) int {
	if a == nil {
		return 0
	}
	for _, i := range integrities {
		if i.xfrm == a.Name {
			return i.keyBits
		}
	}
	return a.KeyBits()
}

// ivBits is the cipher's block size, listed as iv_bits.
func ivBits(a *Alg) int {
	if a == nil {
		return 0
	}
	for _, c := range ciphers {
		if c.xfrm == a.Name {
			return c.ivBits
		}
	}
	return 0
}
