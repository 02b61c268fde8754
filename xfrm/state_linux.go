package xfrm

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
	"golang.org/x/sys/unix"
)

// States gives every SA of the namespace (ESP, AH, IPCOMP and whatever
// else the kernel holds), keys included, in the kernel's order. It is the
// listing API of the SA side: `ipsec spi` prints it, a saver may write it.
func (t *Table) States() ([]sadb.SA, error) {
	var sas []sadb.SA
	var derr error
	err := t.c.dump(msgGetSA, func(typ uint16, b []byte) {
		if typ != msgNewSA {
			return
		}
		sa, err := decodeState(b)
		if err != nil {
			derr = err
			return
		}
		sas = append(sas, sa)
	})
	if err != nil {
		return nil, kernelError(err, 0, nil)
	}
	return sas, derr
}

// SAs gives the ESP, AH and IPCOMP SAs: the ones the SA commands know.
func (t *Table) SAs() ([]sadb.SA, error) {
	all, err := t.States()
	if err != nil {
		return nil, err
	}
	sas := all[:0]
	for _, sa := range all {
		switch sa.SAID.Proto {
		case eroute.ProtoESP, eroute.ProtoAH, eroute.ProtoComp:
			sas = append(sas, sa)
		}
	}
	return sas, nil
}

// AddSA adds an SA (XFRM_MSG_NEWSA, which is exclusive).
func (t *Table) AddSA(sa sadb.SA) error {
	err := t.c.request(msgNewSA, 0, appendSA(nil, &sa))
	if err == nil {
		return nil
	}
	return stateError(err, &sa)
}

// DeleteSA deletes one SA by (destination, SPI, protocol).
func (t *Table) DeleteSA(id eroute.SAID) error {
	err := t.c.request(msgDelSA, 0, appendSAID(nil, id))
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
		return sentinel{ErrSANotFound, err}
	}
	return stateError(err, nil)
}

// FlushSAs deletes every ESP, AH and IPCOMP SA (XFRM_MSG_FLUSHSA with
// IPSEC_PROTO_ANY): what KLIPS's SADB_FLUSH removed. Policies stay, as
// KLIPS's eroutes did.
func (t *Table) FlushSAs() error {
	err := t.c.request(msgFlushSA, 0, []byte{ipsecProtoAny, 0, 0, 0})
	return stateError(err, nil)
}

// stateError explains the kernel's refusal of an SA, and names the kernel
// module a missing algorithm or protocol is in.
func stateError(err error, sa *sadb.SA) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return sentinel{ErrSAExists, err}
	case errors.Is(err, unix.ENOSYS) && sa != nil:
		return &SAError{Kind: ErrNoAlgorithm, Detail: missingAlgs(sa), Err: err}
	case errors.Is(err, unix.EPROTONOSUPPORT) && sa != nil:
		return fmt.Errorf("the kernel has no %s: load the kernel module %s", protoWords(sa), protoModule(sa))
	case errors.Is(err, unix.EINVAL):
		return &SAError{Kind: ErrInvalidSA, Err: err}
	}
	return kernelError(err, 0, nil)
}

// protoWords names what an SA needs: "ESP for IPv4".
func protoWords(sa *sadb.SA) string {
	name := map[eroute.Proto]string{eroute.ProtoESP: "ESP", eroute.ProtoAH: "AH"}[sa.SAID.Proto]
	if name == "" {
		name = "IPCOMP"
	}
	return name + " for " + ipVersion(sa.SAID.Dst)
}

func ipVersion(a netip.Addr) string {
	if a.Is6() {
		return "IPv6"
	}
	return "IPv4"
}

// protoModule gives the module (and the option that builds it) of a
// protocol for the SA's family.
func protoModule(sa *sadb.SA) string {
	v6 := sa.SAID.Dst.Is6()
	switch sa.SAID.Proto {
	case eroute.ProtoESP:
		if v6 {
			return "esp6 (CONFIG_INET6_ESP)"
		}
		return "esp4 (CONFIG_INET_ESP)"
	case eroute.ProtoAH:
		if v6 {
			return "ah6 (CONFIG_INET6_AH)"
		}
		return "ah4 (CONFIG_INET_AH)"
	}
	if v6 {
		return "ipcomp6 (CONFIG_INET6_IPCOMP)"
	}
	return "ipcomp (CONFIG_INET_IPCOMP)"
}

// algModules gives the module that provides each crypto API base name.
var algModules = map[string]string{
	"des3_ede": "des3_ede-x86_64 or des_generic (CONFIG_CRYPTO_DES)",
	"aes":      "aes_generic or aesni-intel (CONFIG_CRYPTO_AES)",
	"twofish":  "twofish_generic (CONFIG_CRYPTO_TWOFISH)",
	"serpent":  "serpent_generic (CONFIG_CRYPTO_SERPENT)",
	"cast5":    "cast5_generic (CONFIG_CRYPTO_CAST5)",
	"camellia": "camellia_generic (CONFIG_CRYPTO_CAMELLIA)",
	"md5":      "md5 (CONFIG_CRYPTO_MD5)",
	"sha1":     "sha1_generic (CONFIG_CRYPTO_SHA1)",
	"sha256":   "sha256_generic (CONFIG_CRYPTO_SHA256)",
	"sha384":   "sha512_generic (CONFIG_CRYPTO_SHA512)",
	"sha512":   "sha512_generic (CONFIG_CRYPTO_SHA512)",
	"deflate":  "deflate (CONFIG_CRYPTO_DEFLATE)",
	"cbc":      "cbc (CONFIG_CRYPTO_CBC)",
	"hmac":     "hmac (CONFIG_CRYPTO_HMAC)",
	"xcbc":     "xcbc (CONFIG_CRYPTO_XCBC)",
	"ecb":      "ecb (CONFIG_CRYPTO_ECB)",
}

// missingAlgs names the SA's algorithms /proc/crypto does not list, with
// their modules: "cbc(des3_ede) needs the kernel module des3_ede-x86_64 or
// des_generic (CONFIG_CRYPTO_DES)".
func missingAlgs(sa *sadb.SA) string {
	have := cryptoNames()
	var out []string
	for _, a := range []*sadb.Alg{sa.Enc, sa.Auth, sa.Comp} {
		if a == nil || a.Name == "ecb(cipher_null)" {
			continue
		}
		var mods []string
		for _, part := range algParts(a.Name) {
			if !have[part] {
				if m, ok := algModules[part]; ok {
					mods = append(mods, m)
				} else {
					mods = append(mods, part)
				}
			}
		}
		if len(mods) > 0 && !have[a.Name] {
			out = append(out, a.Name+" needs the kernel module "+strings.Join(mods, " and "))
		}
	}
	if len(out) == 0 {
		return "An algorithm of the SA is missing from the kernel."
	}
	return strings.Join(out, "; ") + "."
}

// algParts splits "cbc(des3_ede)" into its template and base: cbc, des3_ede.
func algParts(name string) []string {
	outer, inner, ok := strings.Cut(name, "(")
	if !ok {
		return []string{name}
	}
	return []string{outer, strings.TrimSuffix(inner, ")")}
}

// cryptoNames reads the algorithm and template names of /proc/crypto.
func cryptoNames() map[string]bool {
	have := map[string]bool{}
	f, err := os.Open("/proc/crypto")
	if err != nil {
		return have
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "name" {
			name := strings.TrimSpace(v)
			have[name] = true
			for _, p := range algParts(name) {
				have[p] = true
			}
		}
	}
	return have
}

// LocalAddrs gives the addresses of the namespace's interfaces (an
// RTM_GETADDR dump on a NETLINK_ROUTE socket made in the namespace): an SA
// to one of them is inbound, as KLIPS decided.
func (t *Table) LocalAddrs() ([]netip.Addr, error) {
	c, err := dialIn(t.netns, dialConfig{proto: unix.NETLINK_ROUTE, timeout: defaultTimeout})
	if err != nil {
		return nil, fmt.Errorf("cannot list the addresses of the network namespace: %w", err)
	}
	defer c.close()
	var addrs []netip.Addr
	seq, err := c.send(unix.RTM_GETADDR, unix.NLM_F_DUMP, make([]byte, unix.SizeofIfAddrmsg))
	if err != nil {
		return nil, err
	}
	err = c.receive(seq, func(typ uint16, b []byte) {
		if typ != unix.RTM_NEWADDR || len(b) < unix.SizeofIfAddrmsg {
			return
		}
		// IFA_LOCAL is the local end of a point-to-point link, whose
		// IFA_ADDRESS is the peer; other links have IFA_ADDRESS only.
		family := b[0]
		var local, address netip.Addr
		walkAttrs(b[unix.SizeofIfAddrmsg:], func(typ uint16, v []byte) {
			switch typ {
			case unix.IFA_LOCAL:
				local = addrOf(v, family)
			case unix.IFA_ADDRESS:
				address = addrOf(v, family)
			}
		})
		if local.IsValid() {
			address = local
		}
		if address.IsValid() {
			addrs = append(addrs, address)
		}
	})
	return addrs, err
}

// InboundPolicies gives the in policies as eroutes (see Inbound), for the
// SA listing's policy= field.
func (t *Table) InboundPolicies() ([]eroute.Eroute, error) {
	es, err := t.Inbound()
	if err != nil {
		return nil, err
	}
	out := make([]eroute.Eroute, len(es))
	for i := range es {
		out[i] = es[i].Eroute
	}
	return out, nil
}
