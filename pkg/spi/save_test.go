package spi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eroute/eroute/pkg/eroute"
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
	for _, g := range Groups(k.sas) {
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
