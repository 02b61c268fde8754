package eroute

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testProtocols = `# Internet (IP) protocols
ip	0	IP		# internet protocol, pseudo protocol number
icmp	1	ICMP		# internet control message protocol
tcp	6	TCP		# transmission control protocol
udp	17	UDP		# user datagram protocol
esp	50	IPSEC-ESP	# Encap Security Payload
broken	300	BROKEN		# out of range: ignored
bad	x	BAD
lonely
#commented	99	COMMENTED
ipv6-icmp 58	IPv6-ICMP
`

const testServices = `# Network services, Internet style
tcpmux		1/tcp				# TCP port service multiplexer
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp
domain		53/udp
www		80/tcp		http		# WorldWideWeb HTTP
pop3		110/tcp		pop-3		# POP version 3
big		70000/tcp
noslash		99
#imap2		143/tcp		imap
`

func testNames(t *testing.T) Names {
	t.Helper()
	dir := t.TempDir()
	n := Names{ProtocolsFile: filepath.Join(dir, "protocols"), ServicesFile: filepath.Join(dir, "services")}
	if err := os.WriteFile(n.ProtocolsFile, []byte(testProtocols), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(n.ServicesFile, []byte(testServices), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseTransportProto(t *testing.T) {
	n := testNames(t)
	tests := []struct {
		in   string
		want uint8
	}{
		{"tcp", 6},
		{"udp", 17},
		{"icmp", 1},
		{"ip", 0},
		{"esp", 50},
		{"ipv6-icmp", 58},
		{"6", 6},
		{"0x11", 17},
		{"0X11", 17},
		{"017", 15}, // octal
		{"0", 0},
		{"255", 255},
		{"0xff", 255},
		{"0377", 255},
	}
	for _, tt := range tests {
		got, err := n.ParseTransportProto(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTransportProto(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []struct{ in, reason string }{
		{"TCP", "not a name"}, // an alias, not the first column
		{"IPSEC-ESP", "not a name"},
		{"transmission", "not a name"},
		{"commented", "not a name"},
		{"broken", "not a name"},
		{"bad", "not a name"},
		{"lonely", "not a name"},
		{"nosuchproto", "not a name"},
		{"256", "0 to 255"},
		{"0x100", "0 to 255"},
		{"-1", "not a name"},
		{"08", "0 to 255"},
		{"6 ", "0 to 255"},
		{"", "0 to 255"},
	} {
		got, err := n.ParseTransportProto(bad.in)
		if err == nil {
			t.Errorf("ParseTransportProto(%q) = %d, want an error", bad.in, got)
		} else if !strings.Contains(err.Error(), bad.reason) {
			t.Errorf("ParseTransportProto(%q) error %q, want it to contain %q", bad.in, err, bad.reason)
		}
	}
}

func TestParsePort(t *testing.T) {
	n := testNames(t)
	tests := []struct {
		in   string
		want uint16
	}{
		{"pop3", 110},
		{"www", 80},
		{"ssh", 22},
		{"domain", 53},
		{"tcpmux", 1},
		{"110", 110},
		{"0x6e", 110},
		{"0156", 110},
		{"0", 0},
		{"65535", 65535},
		{"0xffff", 65535},
	}
	for _, tt := range tests {
		got, err := n.ParsePort(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePort(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []struct{ in, reason string }{
		{"pop-3", "not a name"}, // an alias
		{"http", "not a name"},  // an alias
		{"imap2", "not a name"},
		{"big", "not a name"},
		{"noslash", "not a name"},
		{"nosuchservice", "not a name"},
		{"65536", "0 to 65535"},
		{"0x10000", "0 to 65535"},
		{"-1", "not a name"},
		{"110/tcp", "0 to 65535"},
		{"", "0 to 65535"},
	} {
		got, err := n.ParsePort(bad.in)
		if err == nil {
			t.Errorf("ParsePort(%q) = %d, want an error", bad.in, got)
		} else if !strings.Contains(err.Error(), bad.reason) {
			t.Errorf("ParsePort(%q) error %q, want it to contain %q", bad.in, err, bad.reason)
		}
	}
}

func TestNamesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []Names{
		{ProtocolsFile: filepath.Join(dir, "none"), ServicesFile: filepath.Join(dir, "none")},
		{}, // no files at all: numbers only
	} {
		if got, err := n.ParseTransportProto("0x11"); err != nil || got != 17 {
			t.Errorf("%+v.ParseTransportProto(0x11) = %d, %v", n, got, err)
		}
		if got, err := n.ParsePort("110"); err != nil || got != 110 {
			t.Errorf("%+v.ParsePort(110) = %d, %v", n, got, err)
		}
		if got, err := n.ParseTransportProto("tcp"); err == nil {
			t.Errorf("%+v.ParseTransportProto(tcp) = %d without a protocols file", n, got)
		}
		if got, err := n.ParsePort("pop3"); err == nil {
			t.Errorf("%+v.ParsePort(pop3) = %d without a services file", n, got)
		}
	}
}

func TestSystemNames(t *testing.T) {
	if _, err := os.Stat(SystemNames.ProtocolsFile); err != nil {
		t.Skipf("no %s: %v", SystemNames.ProtocolsFile, err)
	}
	for _, tt := range []struct {
		in   string
		want uint8
	}{{"tcp", TCP}, {"udp", UDP}} {
		if got, err := SystemNames.ParseTransportProto(tt.in); err != nil || got != tt.want {
			t.Errorf("SystemNames.ParseTransportProto(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	if _, err := os.Stat(SystemNames.ServicesFile); err != nil {
		t.Skipf("no %s: %v", SystemNames.ServicesFile, err)
	}
	if got, err := SystemNames.ParsePort("pop3"); err != nil || got != 110 {
		t.Errorf("SystemNames.ParsePort(pop3) = %d, %v; want 110", got, err)
	}
}
