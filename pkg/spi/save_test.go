package spi

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
	"github.com/eroute/eroute/pkg/sadb"
)

// Args gives command lines that make the same SAs again, and GroupArgs the
// same groups.
func TestArgsRoundTrip(t *testing.T) {
	k := &fakeKernel{}
	gw := "10.0.0.2"
	for _, line := range []string{
		"spi --said esp.301@" + gw + " --src 10.0.0.1 --esp 3des-md5-96 --enckey 0x" + strings.Repeat("ab", 24) + " --authkey 0x" + strings.Repeat("cd", 16) + " --replay_window 64 --life soft-bytes=100,hard-bytes=200,hard-addtime=60",
		"spi --said esp:302@3049::2 --src 3049::1 --esp aes256-sha2_256-96 --enckey 0x" + strings.Repeat("11", 32) + " --authkey 0x" + strings.Repeat("22", 32) + " --natt nonesp --sport 4500 --dport 4501",
		"spi --said ah.303@" + gw + " --src 10.0.0.1 --ah hmac-sha2_512 --authkey 0x" + strings.Repeat("33", 64),
		"spi --said comp.304@" + gw + " --src 10.0.0.1 --comp deflate",
		"spi --said esp.305@" + gw + " --esp null-sha1 --authkey 0x" + strings.Repeat("44", 20),
		"spi --said esp.306@" + gw + " --esp aes --enckey 0x" + strings.Repeat("55", 16),
	} {
		must(t, k, line)
	}
	must(t, k, "spigrp --said tun.300@"+gw+" comp.304@"+gw+" esp.301@"+gw+" ah.303@"+gw)
	again := &fakeKernel{}
	for i := range k.sas {
		args, err := Args(&k.sas[i])
		if err != nil {
			t.Fatalf("%s: %v", k.sas[i].SAID, err)
		}
		must(t, again, "spi "+strings.Join(args, " "))
	}
	for _, g := range sadb.Groups(k.sas) {
		must(t, again, "spigrp "+strings.Join(GroupArgs(&g), " "))
	}
	if !reflect.DeepEqual(sorted(k.sas), sorted(again.sas)) {
		t.Errorf("made again:\n%+v\nwant\n%+v", again.sas, k.sas)
	}
}

func sorted(sas []SA) map[eroute.SAID]SA {
	m := map[eroute.SAID]SA{}
	for _, sa := range sas {
		m[sa.SAID] = sa
	}
	return m
}

// spiKeys are the keys of saveTable's SAs, in hex.
var spiKeys = []string{strings.Repeat("ab", 24), strings.Repeat("cd", 16), strings.Repeat("11", 32), strings.Repeat("22", 32), strings.Repeat("33", 64)}

// saveTable fills k with SAs and groups of every kind --save writes.
func saveTable(t *testing.T, k *fakeKernel) {
	gw := "10.0.0.2"
	for _, line := range []string{
		"spi --said esp.301@" + gw + " --src 10.0.0.1 --esp 3des-md5-96 --enckey 0x" + spiKeys[0] + " --authkey 0x" + spiKeys[1] + " --replay_window 64 --life soft-bytes=100,hard-bytes=200,hard-addtime=60",
		"spi --said esp:302@3049::2 --src 3049::1 --esp aes256-sha2_256-96 --enckey 0x" + spiKeys[2] + " --authkey 0x" + spiKeys[3] + " --natt nonesp --sport 4500 --dport 4501 --replay_window 32",
		"spi --said ah.303@" + gw + " --src 10.0.0.1 --ah hmac-sha2_512 --authkey 0x" + spiKeys[4],
		"spi --said comp.304@" + gw + " --src 10.0.0.1 --comp deflate",
		"spi --said esp.305@10.0.0.3 --esp null-sha1 --authkey 0x" + strings.Repeat("44", 20) + " --life soft-packets=5,hard-usetime=30",
		"spi --said esp.306@" + gw + " --esp aes --enckey 0x" + strings.Repeat("55", 16),
		"spi --said esp.307@" + gw + " --esp aes --enckey 0x" + strings.Repeat("66", 16),
		"spi --said ah.308@" + gw + " --ah hmac-sha1-96 --authkey 0x" + strings.Repeat("77", 20),
		"spigrp --said tun.300@" + gw + " comp.304@" + gw + " esp.301@" + gw + " ah.303@" + gw,
		"spigrp --said esp.307@" + gw + " ah.308@" + gw,
	} {
		must(t, k, line)
	}
}

// listings gives what `ipsec spi` and `ipsec spigrp` print.
func listings(t *testing.T, k *fakeKernel) string {
	return must(t, k, "spi") + must(t, k, "spigrp")
}

// runScript runs a saved script's command lines through the spi and
// spigrp command lines, as sh would run them.
func runScript(t *testing.T, k *fakeKernel, script string) {
	t.Helper()
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(line, `"$IPSEC" `); ok {
			must(t, k, rest)
		}
	}
}

// --save, --clear, the script run back: the same listings, byte for byte,
// groups, keys, replay windows and lifetimes included; the file mode 0600.
func TestSaveRoundTrip(t *testing.T) {
	k := &fakeKernel{}
	saveTable(t, k)
	before := listings(t, k)
	keysBefore := sorted(k.sas)
	file := filepath.Join(t.TempDir(), "sas.conf")
	must(t, k, "spi --save "+file)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	script, _ := os.ReadFile(file)
	must(t, k, "spi --clear")
	runScript(t, k, string(script))
	if after := listings(t, k); after != before {
		t.Errorf("after the script:\n%s\nwant\n%s", after, before)
	}
	if !reflect.DeepEqual(sorted(k.sas), keysBefore) {
		t.Errorf("SAs (keys included) differ after the script")
	}
	if strings.Contains(string(script), "not saved") {
		t.Errorf("refusals in:\n%s", script)
	}
	// Two saves of one table are the same bytes.
	k.sas = append(k.sas[3:], k.sas[:3]...)
	must(t, k, "spi --save "+file)
	if again, _ := os.ReadFile(file); string(again) != string(script) {
		t.Errorf("second save:\n%s\nfirst:\n%s", again, script)
	}
}

// What ipsec spi cannot make again is a comment saying why.
func TestSaveRefusals(t *testing.T) {
	k := &fakeKernel{}
	must(t, k, "spi --said esp.400@10.0.0.2 --esp aes --enckey 0x"+strings.Repeat("12", 16))
	ike := *k.byID(t, "esp.400@10.0.0.2")
	ike.SAID, ike.Reqid = said(t, "esp.401@10.0.0.2"), 1
	xfrmTunnel := ike
	xfrmTunnel.SAID, xfrmTunnel.Reqid, xfrmTunnel.Tunnel = said(t, "esp.402@10.0.0.2"), 0, true
	gcm := ike
	gcm.SAID, gcm.Reqid = said(t, "esp.403@10.0.0.2"), 0
	gcm.Enc = &Alg{Name: "rfc4106(gcm(aes))", Key: bytes.Repeat([]byte{0x9c}, 20), TruncBits: 128}
	wide := ike
	wide.SAID, wide.Reqid, wide.ReplayWindow = said(t, "esp.404@10.0.0.2"), 0, 128
	grouped := ike
	grouped.SAID, grouped.Reqid = said(t, "ah.405@10.0.0.2"), 0x403
	grouped.Enc, grouped.Auth = nil, &Alg{Name: "hmac(sha1)", Key: make([]byte, 20), TruncBits: 96}
	gcm.Reqid = 0x403
	marked := ike
	marked.SAID, marked.Reqid, marked.Unsaid = said(t, "esp.406@10.0.0.2"), 0, "a mark"
	k.sas = append(k.sas, ike, xfrmTunnel, gcm, wide, grouped, marked)
	file := filepath.Join(t.TempDir(), "sas.conf")
	must(t, k, "spi --save "+file)
	got, _ := os.ReadFile(file)
	want := `#!/bin/sh
# The SAs and groups of ` + "`ipsec spi`, written by `ipsec spi --save`" + `.
# Run with sh on an empty SA table (ipsec spi --clear) to make them again.
# This file holds the keys: keep it mode 0600, readable by root only.
set -e
IPSEC=${IPSEC:-ipsec}
"$IPSEC" spi --said esp.400@10.0.0.2 --esp aes128 --enckey 0x` + strings.Repeat("12", 16) + `
# esp.401@10.0.0.2 not saved: its reqid 1 is not one ipsec spigrp gives (what an IKE daemon or ip xfrm made is theirs to make again)
# esp.402@10.0.0.2 (in group tun.402@10.0.0.2) not saved: its reqid 0 is not one ipsec spigrp gives (what an IKE daemon or ip xfrm made is theirs to make again)
# esp.403@10.0.0.2 (in group esp.403@10.0.0.2) not saved: esp.403@10.0.0.2: no --esp name for its cipher
# esp.404@10.0.0.2 not saved: its replay window 128 is beyond --replay_window's 64
# esp.406@10.0.0.2 not saved: it has a mark, which no ipsec spi option sets
# ah.405@10.0.0.2 (in group esp.403@10.0.0.2) not saved: esp.403@10.0.0.2: no --esp name for its cipher
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(string(got), "9c9c") {
		t.Errorf("a refused SA's key is in the comments")
	}
}

// --save refuses standard output and symbolic links, and replaces a file
// whatever its mode was with one of mode 0600.
func TestSaveFile(t *testing.T) {
	k := &fakeKernel{}
	saveTable(t, k)
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("old\n"), 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(target, link)
	for _, c := range []struct{ file, msg string }{
		{"-", "spi: --save -: the file holds keys, so --save never writes to standard output\n"},
		{link, "spi: --save " + link + ": is a symbolic link, which is not followed: the file holds keys\n"},
		{dir, "spi: --save " + dir + ": is not a regular file\n"},
		{filepath.Join(dir, "none", "x"), "spi: --save " + filepath.Join(dir, "none", "x") + ": no such file or directory\n"},
	} {
		code, out, errs := run(k, "spi", "--debug", "--save", c.file)
		if code != 1 || errs != c.msg {
			t.Errorf("--save %s: exit %d, stderr %q, want %q", c.file, code, errs, c.msg)
		}
		if strings.Contains(out, "written") {
			t.Errorf("--save %s: %s", c.file, out)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "old\n" {
		t.Errorf("the link's target was written: %q", b)
	}
	must(t, k, "spi --save "+target)
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after replacing a 0644 file", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left in the directory: %v", entries)
	}
}
