package spi

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
)

// FuzzDecodeKey: any text decodes or fails with one of ttodata's texts,
// never panics; any bytes written as 0x, 0s or 0t come back.
func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{"0x4043", "0x01_23", "0sAAE=", "0tkey", "0x", "0s====", "0x_", ""} {
		f.Add(s, []byte("key"))
	}
	f.Fuzz(func(t *testing.T, text string, b []byte) {
		if _, err := DecodeKey(text); err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Errorf("DecodeKey(%q): a message of several lines: %q", text, err)
		}
		if len(b) == 0 {
			return
		}
		for _, enc := range []string{"0x" + hex.EncodeToString(b), "0s" + base64.StdEncoding.EncodeToString(b), "0t" + string(b)} {
			got, err := DecodeKey(enc)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("DecodeKey(%q) = %x, %v; want %x", enc, got, err, b)
			}
		}
	})
}

// FuzzParseSpi: any command line is checked or refused with one line,
// never panics, and a refused line leaves the kernel alone.
func FuzzParseSpi(f *testing.F) {
	for _, s := range []string{
		"--said esp.200@10.0.0.2 --esp aes-sha2_256 --enckey 0x00112233445566778899aabbccddeeff --authkey 0x00",
		"--af inet --edst 10.0.0.2 --spi 0x200 --proto ah --ah hmac-md5-96 --authkey 0x00 --life soft-bytes=1",
		"--said comp.200@10.0.0.2 --comp deflate", "--del --said tun.200@10.0.0.2", "--clear", "--get",
		"--said esp.200@10.0.0.2 --esp 3des --enckey 0s00 --natt nonesp --sport 1 --dport 2 --replay_window 64",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		req, err := ParseSpi(args, eroute.NoResolver{})
		if err != nil && strings.ContainsAny(err.Error(), "\n") {
			t.Errorf("%q: a message of several lines: %q", line, err)
		}
		if err == nil && req.Action == AddComp && req.SA.SAID.SPI > MaxCPI {
			t.Errorf("%q: CPI %#x accepted", line, req.SA.SAID.SPI)
		}
		k := &fakeKernel{}
		if code, _, _ := run(k, append([]string{"spi"}, args...)...); code != 0 && len(k.ops) != 0 {
			t.Errorf("%q: exit %d after changing the kernel: %v", line, code, k.ops)
		}
	})
}

// FuzzParseSpigrp: the same for spigrp's positional and --said forms.
func FuzzParseSpigrp(f *testing.F) {
	f.Add("inet 10.0.0.2 0x200 tun inet 10.0.0.2 0x201 esp")
	f.Add("--said tun.200@10.0.0.2 esp.201@10.0.0.2 ah.202@10.0.0.2")
	f.Fuzz(func(t *testing.T, line string) {
		req, err := ParseSpigrp(strings.Fields(line), eroute.NoResolver{})
		if err != nil && strings.ContainsAny(err.Error(), "\n") {
			t.Errorf("%q: a message of several lines: %q", line, err)
		}
		if err == nil && len(req.SAIDs) > 4 {
			t.Errorf("%q: %d SAs", line, len(req.SAIDs))
		}
	})
}
