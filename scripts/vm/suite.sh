#!/bin/bash
# suite.sh: eroute on a kernel with ESP, AH and IPCOMP, with packets on a wire.
#
# Run as root on a stock Linux kernel: by `make vm-test` inside a VM (as its
# init's payload), or directly on a Debian machine (the Vagrant box):
#
#     sudo EROUTE=bin/eroute scripts/vm/suite.sh
#
# Every check builds its own network in throwaway namespaces:
#
#     snd ---- gw1 ====== wire ====== gw2 ---- rcv
#   192.168.1.2  .1.1  0.1  (bridge)  0.2  2.1  192.168.2.2
#   3049:3::2  3::1  3049:1::1     3049:1::2  2::1  3049:2::2
#
# gw1 is also the manual's host 192.168.0.1 / 3049:1::1; gw2 is the manual's
# security gateway 192.168.0.2 / 3049:1::2 and owns 192.168.2.1 / 3049:2::1;
# rcv is a host of 192.168.2.0/24 / 3049:2::/64 behind it. "wire" is a bridge
# between the gateways; tcpdump on its port to gw1 sees exactly what the two
# gateways send each other, and nothing else (a capture on a gateway's own
# interface would also show the packets the kernel decrypted there).
#
# SAs are made with `ip xfrm state add` (real algorithms); eroutes, out and in,
# only with eroute. A tunnel gateway that decrypts traffic for a host behind
# it needs a forward policy (the kernel drops tunnel-mode packets that no
# in/fwd policy allows, XfrmInNoPols): `eroute --addin` writes it with the in
# policy; where a check has no --addin on gw2, its fwd policy is made with
# `ip xfrm policy ... dir fwd`.
#
# Each check prints `PASS name` or `FAIL name: why`; NOTE lines report what
# was observed where the kernel has a choice. The last line is
# `N passed, M failed`; the exit status is 0 only when nothing failed.
#
# Environment: EROUTE (the binary; default bin/eroute beside this script, or
# eroute on PATH), VM_SUITE_ONLY (an extended regexp: run only the checks
# whose names match), VM_SUITE_MUTATE=pass (write every SA eroute as %pass:
# the checks of the wire must fail; a test of the suite; suite.d files may
# know other values), SUITE_SUMMARY (a
# file to write the last line to).
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${EROUTE:-}" ]; then
	if [ -x "$here/../../bin/eroute" ]; then EROUTE=$here/../../bin/eroute; else EROUTE=$(command -v eroute || echo eroute); fi
fi
EROUTE=$(readlink -f "$EROUTE" 2>/dev/null || echo "$EROUTE")
ONLY=${VM_SUITE_ONLY:-}
MUTATE=${VM_SUITE_MUTATE:-}

if [ "$(id -u)" != 0 ]; then
	echo "suite.sh: needs root (network namespaces, XFRM states)" >&2
	exit 2
fi
for t in ip tcpdump socat ping sysctl "$EROUTE"; do
	if ! command -v "$t" >/dev/null; then
		echo "suite.sh: $t is missing (apt-get install iproute2 tcpdump socat iputils-ping procps)" >&2
		exit 2
	fi
done

P=ev$$ # namespace prefix, unique to this run
T=$(mktemp -d "${TMPDIR:-/tmp}/eroute-suite.XXXXXX")
NSS=()  # namespaces of the current check
BG=()   # background processes of the current check
npass=0 nfail=0
failed=()

# Keys (test values, not secrets).
K_AES=0x00112233445566778899aabbccddeeff
K_SHA=0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
K_GCM=0x0f0e0d0c0b0a09080706050403020100a0a1a2a3

pass() {
	echo "PASS $1"
	npass=$((npass + 1))
}
fail() {
	echo "FAIL $1: $2"
	nfail=$((nfail + 1))
	failed+=("$1")
}
note() { echo "NOTE $*"; }
# expect NAME: each remaining argument is "WHAT GOT WANT" (one word each for
# GOT and WANT; WANT may be ">=N"). PASS if all hold, else FAIL listing those
# that did not.
expect() {
	local name=$1 why="" what got want
	shift
	while [ $# -ge 3 ]; do
		what=$1 got=$2 want=$3
		shift 3
		case $want in
		'>='*) [ "$got" -ge "${want#>=}" ] 2>/dev/null || why="$why; $what: $got, want $want" ;;
		*) [ "$got" = "$want" ] || why="$why; $what: $got, want $want" ;;
		esac
	done
	if [ -z "$why" ]; then pass "$name"; else fail "$name" "${why#; }"; fi
}

# ---- plumbing ------------------------------------------------------------

nsx() { # nsx NS CMD...: run in namespace NS
	local ns=$1
	shift
	ip netns exec "$P-$ns" "$@"
}

# er NS ARGS...: eroute in namespace NS (through ip netns exec, so that
# /etc/netns/NS/hosts gives the namespace its host names). With
# VM_SUITE_MUTATE=pass every SA SAID of an add or replace becomes %pass.
er() {
	local ns=$1
	shift
	local args=("$@")
	if [ "$MUTATE" = pass ] && [[ " ${args[*]} " =~ \ --(add|replace)\  ]]; then
		local out=() i=0 sa=0
		while [ $i -lt ${#args[@]} ]; do
			case ${args[$i]} in
			--af | --edst | --spi | --proto) sa=1 i=$((i + 2)); continue ;;
			--said)
				if [[ ${args[$((i + 1))]} != %* ]]; then sa=1 i=$((i + 2)); continue; fi ;;
			esac
			out+=("${args[$i]}")
			i=$((i + 1))
		done
		[ $sa = 1 ] && out+=(--said %pass)
		args=("${out[@]}")
	fi
	echo "  [$ns] eroute ${args[*]}" >>"$T/trace"
	nsx "$ns" "$EROUTE" "${args[@]}"
}

bg() { # bg NS CMD...: start CMD in NS in the background, remembered for teardown
	local ns=$1
	shift
	ip netns exec "$P-$ns" "$@" &
	BG+=($!)
}

wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
	local n=$(($1 * 10))
	shift
	while ! "$@" 2>/dev/null; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

teardown() {
	local p n
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${BG[@]}"; do wait "$p" 2>/dev/null; done
	BG=()
	for n in "${NSS[@]}"; do
		ip netns del "$n" 2>/dev/null
		rm -rf "/etc/netns/$n"
	done
	NSS=()
	rm -f "$T"/rx.* "$T"/cap.* "$T"/acq.* "$T"/err.*
}
trap 'teardown; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

addns() {
	local n
	for n; do
		ip netns add "$P-$n"
		NSS+=("$P-$n")
		nsx "$n" ip link set lo up
		nsx "$n" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
}

# topo: the five namespaces and their addresses (see the top of this file).
topo() {
	addns snd gw1 wire gw2 rcv
	nsx wire sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip link add eth1 netns "$P-snd" type veth peer name eth1 netns "$P-gw1"
	ip link add eth0 netns "$P-gw1" type veth peer name p1 netns "$P-wire"
	ip link add eth0 netns "$P-gw2" type veth peer name p2 netns "$P-wire"
	ip link add eth1 netns "$P-gw2" type veth peer name eth0 netns "$P-rcv"
	ip -n "$P-wire" link add br0 type bridge
	ip -n "$P-wire" link set p1 master br0
	ip -n "$P-wire" link set p2 master br0
	ip -n "$P-wire" link set br0 up
	ip -n "$P-wire" link set p1 up
	ip -n "$P-wire" link set p2 up
	local a
	while read -r ns dev addrs; do
		for a in $addrs; do ip -n "$P-$ns" addr add "$a" dev "$dev" nodad 2>/dev/null || ip -n "$P-$ns" addr add "$a" dev "$dev"; done
		ip -n "$P-$ns" link set "$dev" up
	done <<-ADDRS
		snd eth1 192.168.1.2/24 3049:3::2/64
		gw1 eth1 192.168.1.1/24 3049:3::1/64
		gw1 eth0 192.168.0.1/24 3049:1::1/64
		gw2 eth0 192.168.0.2/24 3049:1::2/64
		gw2 eth1 192.168.2.1/24 3049:2::1/64
		rcv eth0 192.168.2.2/24 3049:2::2/64
	ADDRS
	for ns in gw1 gw2; do
		nsx $ns sysctl -q -w net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	ip -n "$P-snd" route add default via 192.168.1.1
	ip -n "$P-snd" -6 route add default via 3049:3::1
	ip -n "$P-rcv" route add default via 192.168.2.1
	ip -n "$P-rcv" -6 route add default via 3049:2::1
	ip -n "$P-gw1" route add 192.168.2.0/24 via 192.168.0.2
	ip -n "$P-gw1" -6 route add 3049:2::/64 via 3049:1::2
	ip -n "$P-gw2" route add 192.168.1.0/24 via 192.168.0.1
	ip -n "$P-gw2" -6 route add 3049:3::/64 via 3049:1::1
	# Neighbours resolved beforehand: the first packets are then not queued
	# behind ARP/ND, and no neighbour traffic crosses the wire during a check.
	nsx gw1 ping -c 1 -W 2 192.168.0.2 >/dev/null
	nsx gw1 ping -c 1 -W 2 3049:1::2 >/dev/null
	nsx gw2 ping -c 1 -W 2 192.168.2.2 >/dev/null
	nsx gw2 ping -c 1 -W 2 3049:2::2 >/dev/null
	nsx gw1 ping -c 1 -W 2 192.168.1.2 >/dev/null
	nsx gw1 ping -c 1 -W 2 3049:3::2 >/dev/null
}

# hosts NS: the manual's host names for the POP3 example, for namespace NS.
hosts() {
	mkdir -p "/etc/netns/$P-$1"
	printf '192.168.0.1\tcompany.com\n192.168.0.2\tmail.ngo.org\n' >"/etc/netns/$P-$1/hosts"
}

# cap_start: tcpdump on the wire, at gw1's port of the bridge.
cap_start() {
	bg wire tcpdump -Z root -n -U -s 200 -i p1 -w "$T/cap.pcap" 2>"$T/cap.err"
	CAP=${BG[-1]}
	wait_for 20 grep -q 'listening on' "$T/cap.err" || echo "  (tcpdump did not start: $(cat "$T/cap.err"))"
}
cap_stop() {
	sleep 0.5
	kill -INT "$CAP" 2>/dev/null
	wait "$CAP" 2>/dev/null
}
# cap FILTER: the capture as tcpdump prints it, filtered.
cap() { tcpdump -n -r "$T/cap.pcap" "$@" 2>/dev/null; }
# n_spi PROTO SPI [FILTER]: packets of ESP/AH/IPComp with this SPI (CPI) on the wire.
n_spi() {
	local proto=$1 spi=$2 f=${3:-} pat
	case $proto in
	esp) pat="ESP(spi=$(printf '0x%08x' "$spi")," proto=50 ;;
	ah) pat="AH(spi=$(printf '0x%08x' "$spi")," proto=51 ;;
	comp) pat="IPComp(cpi=$(printf '0x%04x' "$spi"))" proto=108 ;;
	esac
	cap "(ip proto $proto or ip6 proto $proto)${f:+ and ($f)}" | grep -cF "$pat"
}
# n_cap FILTER: packets on the wire that FILTER matches.
n_cap() { cap "$1" | wc -l; }

# listen NS udp4|udp6|tcp4|tcp6 PORT: a receiver appending all it gets to rx.NS.PORT.
listen() {
	local ns=$1 kind=$2 port=$3 addr
	case $kind in
	udp4) addr=UDP4-RECV:$port,reuseaddr ;;
	udp6) addr=UDP6-RECV:$port,reuseaddr ;;
	tcp4) addr=TCP4-LISTEN:$port,reuseaddr,fork ;;
	tcp6) addr=TCP6-LISTEN:$port,reuseaddr,fork ;;
	esac
	: >"$T/rx.$ns.$port"
	bg "$ns" socat -u "$addr" "OPEN:$T/rx.$ns.$port,creat,append"
	local l=-ul
	[[ $kind == tcp* ]] && l=-tl
	wait_for 20 eval "nsx $ns ss -Hn $l 'sport = :$port' | grep -q ." || echo "  (listener $ns:$port did not start)"
}
rx_lines() { wc -l <"$T/rx.$1.$2" | tr -d ' '; }
rx_bytes() { wc -c <"$T/rx.$1.$2" | tr -d ' '; }

# send NS DST PORT COUNT [TAG]: COUNT UDP datagrams, one line each; prints
# how many sends failed (a block policy makes send() fail with EPERM).
send() {
	local ns=$1 dst=$2 port=$3 count=$4 tag=${5:-m}
	nsx "$ns" bash -c '
		e=0
		for i in $(seq "$3"); do
			printf "%s %d\n" "$4" "$i" 2>/dev/null >"/dev/udp/$1/$2" || e=$((e + 1))
			sleep 0.02
		done
		echo $e' _ "$dst" "$port" "$count" "$tag" 2>>"$T/err.send"
}
# send_zeros NS DST PORT COUNT SIZE: COUNT datagrams of SIZE zero bytes.
send_zeros() {
	nsx "$1" bash -c 'for i in $(seq "$3"); do head -c "$4" /dev/zero >"/dev/udp/$1/$2"; sleep 0.02; done' \
		_ "$2" "$3" "$4" "$5" 2>>"$T/err.send"
}
settle() { sleep "${1:-1}"; }

# xstat NS NAME: a counter of /proc/net/xfrm_stat in NS.
xstat() { nsx "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/xfrm_stat; }
# sa_packets NS SRC DST PROTO SPI: packets the SA has processed.
sa_packets() {
	ip -n "$P-$1" -s xfrm state get src "$2" dst "$3" proto "$4" spi "$5" |
		sed -n 's/.*[ (]\([0-9]*\)(packets).*/\1/p' | head -n 1
}
# listing_count NS SAID: the COUNT column of the eroute listing for SAID.
listing_count() { er "$1" | awk -v s="$2" '$NF == s || $NF ~ "^"s":" { print $1; exit }'; }

# SAs, made the same on both ends.
sa_esp() { # sa_esp SRC DST SPI MODE NS...: ESP, AES-CBC + HMAC-SHA256
	local src=$1 dst=$2 spi=$3 mode=$4 ns
	shift 4
	for ns; do
		ip -n "$P-$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$spi" mode "$mode" \
			enc 'cbc(aes)' $K_AES auth-trunc 'hmac(sha256)' $K_SHA 128 ${SEL:+sel $SEL} || return 1
	done
}
sa_gcm() { # sa_gcm SRC DST SPI MODE NS...: ESP, AES-GCM (RFC 4106)
	local src=$1 dst=$2 spi=$3 mode=$4 ns
	shift 4
	for ns; do
		ip -n "$P-$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$spi" mode "$mode" \
			aead 'rfc4106(gcm(aes))' $K_GCM 128 ${SEL:+sel $SEL} || return 1
	done
}
sa_ah() { # sa_ah SRC DST SPI NS...: AH transport, HMAC-SHA256
	local src=$1 dst=$2 spi=$3 ns
	shift 3
	for ns; do
		ip -n "$P-$ns" xfrm state add src "$src" dst "$dst" proto ah spi "$spi" mode transport \
			auth-trunc 'hmac(sha256)' $K_SHA 128 || return 1
	done
}
sa_comp() { # sa_comp SRC DST CPI NS...: IPCOMP transport, deflate
	local src=$1 dst=$2 spi=$3 ns
	shift 3
	for ns; do
		ip -n "$P-$ns" xfrm state add src "$src" dst "$dst" proto comp spi "$spi" mode transport \
			comp deflate || return 1
	done
}
# fwd_policy SRC DST TSRC TDST SPI: gw2's forward policy for a tunnel (eroute
# writes only out and in policies).
fwd_policy() {
	ip -n "$P-gw2" xfrm policy add dir fwd src "$1" dst "$2" \
		tmpl src "$3" dst "$4" proto esp spi "$5" mode tunnel
}

run_check() { # run_check NAME FUNCTION: unless VM_SUITE_ONLY excludes it
	local name=$1 fn=$2
	if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then return; fi
	echo "== $name"
	: >"$T/trace"
	local before=$nfail
	topo
	$fn
	if [ "$nfail" != "$before" ]; then
		if [ -s "$T/trace" ]; then
			echo "  -- what ran:"
			sed 's/^/  /' "$T/trace"
		fi
		if [ -s "$T/cap.pcap" ]; then
			echo "  -- the wire (first 40 packets):"
			cap -c 40 | sed 's/^/    /'
		fi
		[ -s "$T/err.send" ] && sed 's/^/  send: /' "$T/err.send" | sort | uniq -c | head -n 5
	fi
	teardown
}

# ---- checks --------------------------------------------------------------

# The kernel can make ESP, AH and IPCOMP SAs at all.
check_kernel() {
	local why=""
	sa_esp 10.9.9.1 10.9.9.2 0x9001 tunnel gw1 2>"$T/err.k" || why="$why ESP(cbc(aes),hmac(sha256)): $(cat "$T/err.k")"
	sa_gcm 10.9.9.1 10.9.9.2 0x9002 tunnel gw1 2>"$T/err.k" || why="$why ESP(rfc4106(gcm(aes))): $(cat "$T/err.k")"
	sa_ah 10.9.9.1 10.9.9.2 0x9003 gw1 2>"$T/err.k" || why="$why AH: $(cat "$T/err.k")"
	sa_comp 10.9.9.1 10.9.9.2 0x9004 gw1 2>"$T/err.k" || why="$why IPCOMP: $(cat "$T/err.k")"
	if [ -z "$why" ]; then
		pass kernel-has-esp-ah-ipcomp
	else
		fail kernel-has-esp-ah-ipcomp "this kernel cannot make the SAs:$why"
	fi
}

# The manual's gateway examples, tunnels to gw2, for one family (4 or 6):
# gw1's own traffic (the manual's host) and a forwarded subnet (snd).
check_tun() {
	local fam=$1 n=tun$1
	local h1 gw2 gw2in rcv eraf sndnet dstnet spi spi2 lk sa
	if [ "$fam" = 4 ]; then
		h1=192.168.0.1 gw2=192.168.0.2 gw2in=192.168.2.1 rcv=192.168.2.2
		eraf=inet sndnet=192.168.1.0/24 dstnet=192.168.2.0/24 spi=0x135 spi2=0x136 sa=sa_esp
	else
		h1=3049:1::1 gw2=3049:1::2 gw2in=3049:2::1 rcv=3049:2::2
		eraf=inet6 sndnet=3049:3::/64 dstnet=3049:2::/64 spi=0x145 spi2=0x146 sa=sa_gcm
	fi
	$sa $h1 $gw2 $spi tunnel gw1 gw2
	$sa $h1 $gw2 $spi2 tunnel gw1 gw2
	listen rcv udp$fam 5001
	listen gw2 udp$fam 5002
	cap_start
	# The manual's command, word for word.
	er gw1 --add --eraf $eraf --src $h1/$((fam == 4 ? 32 : 128)) --dst $dstnet --af $eraf --edst $gw2 --spi $spi --proto tun
	# Without an inbound policy on gw2, what it decrypts for itself is dropped.
	local nopols0
	nopols0=$(xstat gw2 XfrmInNoPols)
	send gw1 $gw2in 5002 3 early >/dev/null
	settle
	local early_rx early_nopols
	early_rx=$(rx_lines gw2 5002)
	early_nopols=$(($(xstat gw2 XfrmInNoPols) - nopols0))
	# The same eroute, inbound, on gw2: --addin also writes the forward
	# policy that lets rcv's traffic through.
	er gw2 --addin --eraf $eraf --src $h1/$((fam == 4 ? 32 : 128)) --dst $dstnet --af $eraf --edst $gw2 --spi $spi --proto tun
	send gw1 $rcv 5001 5 >/dev/null
	send gw1 $gw2in 5002 5 >/dev/null
	# A gateway for a subnet: snd's traffic is forwarded by gw1 into the tunnel.
	er gw1 --add --src $sndnet --dst $dstnet --said tun0x${spi2#0x}@$gw2
	fwd_policy $sndnet $dstnet $h1 $gw2 $spi2
	send snd $rcv 5001 4 fwd >/dev/null
	settle
	cap_stop
	expect $n-wire-esp \
		"ESP(spi=$spi)" "$(n_spi esp $spi "src $h1 and dst $gw2")" 13 \
		"ESP(spi=$spi2)" "$(n_spi esp $spi2 "src $h1 and dst $gw2")" 4 \
		"clear-UDP-to-5001/5002" "$(n_cap 'udp and (dst port 5001 or dst port 5002)')" 0
	expect $n-receiver-gets-inner \
		"rcv-from-gw1" "$(grep -c '^m ' "$T/rx.rcv.5001")" 5 \
		"rcv-from-snd" "$(grep -c '^fwd ' "$T/rx.rcv.5001")" 4
	expect $n-addin-required \
		"gw2-received-before-addin" "$early_rx" 0 \
		"gw2-XfrmInNoPols-before-addin" "$early_nopols" 3
	expect $n-addin-delivers "gw2-received-after-addin" "$(grep -c '^m ' "$T/rx.gw2.5002")" 5
	lk=$(listing_count gw1 tun0x${spi#0x}@$gw2)
	expect $n-listing-count \
		"SA-packets" "$(sa_packets gw1 $h1 $gw2 esp $spi)" 13 \
		"listing-COUNT" "${lk:-none}" 13
	nsx gw1 "$EROUTE" | sed 's/^/  gw1: /'
}

# Tunnels across families: the SAID's address family is the tunnel's.
check_tun_cross() {
	local inner=$1 outer=$2 n=tun-${1}in$2 sndnet dstnet rcv h1 gw2 spi said snd_sel
	if [ "$inner" = 4 ]; then sndnet=192.168.1.0/24 dstnet=192.168.2.0/24 rcv=192.168.2.2 snd_sel="src 0.0.0.0/0 dst 0.0.0.0/0"; else sndnet=3049:3::/64 dstnet=3049:2::/64 rcv=3049:2::2 snd_sel="src ::/0 dst ::/0"; fi
	if [ "$outer" = 4 ]; then h1=192.168.0.1 gw2=192.168.0.2 spi=0x147 said=tun.147@192.168.0.2; else h1=3049:1::1 gw2=3049:1::2 spi=0x148 said=tun:148@3049:1::2; fi
	SEL=$snd_sel sa_esp $h1 $gw2 $spi tunnel gw1 gw2
	listen rcv udp$inner 5001
	cap_start
	er gw1 --add --src $sndnet --dst $dstnet --said $said
	fwd_policy $sndnet $dstnet $h1 $gw2 $spi
	send snd $rcv 5001 4 >/dev/null
	settle
	cap_stop
	expect $n \
		"ESP(spi=$spi)-IPv$outer" "$(n_spi esp $spi "src $h1 and dst $gw2")" 4 \
		"clear-UDP-to-5001" "$(n_cap 'udp and dst port 5001')" 0 \
		"rcv" "$(rx_lines rcv 5001)" 4
}

# Transport-mode SAIDs (esp, ah, comp) from gw1 to gw2, for one family.
check_transport() {
	local proto=$1 fam=$2 n=$1$2-transport h1 gw2 spi eraf said
	if [ "$fam" = 4 ]; then h1=192.168.0.1 gw2=192.168.0.2 eraf=inet; else h1=3049:1::1 gw2=3049:1::2 eraf=inet6; fi
	case $proto in
	esp) spi=0x201 ;;
	ah) spi=0x202 ;;
	comp) spi=0x203 ;;
	esac
	[ "$fam" = 6 ] && spi=$((spi + 0x10))
	spi=$(printf '0x%x' $spi)
	case $proto in
	esp) sa_esp $h1 $gw2 $spi transport gw1 gw2 ;;
	ah) sa_ah $h1 $gw2 $spi gw1 gw2 ;;
	comp) sa_comp $h1 $gw2 $spi gw1 gw2 ;;
	esac
	listen gw2 udp$fam 5003
	cap_start
	er gw1 --add --eraf $eraf --src $h1/$((fam == 4 ? 32 : 128)) --dst $gw2/$((fam == 4 ? 32 : 128)) \
		--transport-proto udp --said $proto${spi}@$gw2
	if [ "$proto" = comp ]; then
		# IPCOMP compresses only what gets smaller: large zero-filled
		# datagrams go compressed, small ones go as they are (RFC 3173).
		send_zeros gw1 $gw2 5003 5 1000
		send gw1 $gw2 5003 2 small >/dev/null
		settle
		cap_stop
		expect $n \
			"IPComp(cpi=$spi)" "$(n_spi comp $spi "src $h1 and dst $gw2")" 5 \
			"clear-UDP-of-1000-bytes" "$(n_cap 'udp and dst port 5003 and greater 500')" 0 \
			"bytes-received" "$(rx_bytes gw2 5003)" $((5000 + 2 * 8))
		note "$n: $(n_cap 'udp and dst port 5003 and less 200') of 2 small datagrams went uncompressed (clear UDP), as the kernel does for what does not shrink"
		cap -c 1 "ip proto 108 or ip6 proto 108" | sed 's/^/  wire: /'
	else
		send gw1 $gw2 5003 5 >/dev/null
		settle
		cap_stop
		local lk
		lk=$(listing_count gw1 $proto${spi}@$gw2)
		expect $n \
			"${proto^^}(spi=$spi)" "$(n_spi $proto $spi "src $h1 and dst $gw2")" 5 \
			"clear-UDP-to-5003" "$(n_cap 'udp and dst port 5003')" 0 \
			"received" "$(rx_lines gw2 5003)" 5 \
			"listing-COUNT" "${lk:-none}" 5
	fi
}

# The SAID's SPI picks the SA: with two SAs of the same addresses, protocol
# and mode, the eroute's packets use the one it names, in tunnel and in
# transport mode.
check_spi_selects_sa() {
	local n=spi-selects-sa
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	sa_esp 192.168.0.1 192.168.0.2 0x235 tunnel gw1 gw2
	sa_esp 192.168.0.1 192.168.0.2 0x201 transport gw1 gw2
	sa_esp 192.168.0.1 192.168.0.2 0x301 transport gw1 gw2
	fwd_policy 192.168.0.1/32 192.168.2.0/24 192.168.0.1 192.168.0.2 0x235
	listen rcv udp4 5001
	listen gw2 udp4 5003
	cap_start
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said tun0x235@192.168.0.2
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.0.2/32 --transport-proto udp --said esp0x301@192.168.0.2
	send gw1 192.168.2.2 5001 3 >/dev/null
	send gw1 192.168.0.2 5003 3 >/dev/null
	settle
	cap_stop
	expect $n \
		"ESP(spi=0x235)" "$(n_spi esp 0x235)" 3 \
		"ESP(spi=0x135)" "$(n_spi esp 0x135)" 0 \
		"ESP(spi=0x301)" "$(n_spi esp 0x301)" 3 \
		"ESP(spi=0x201)" "$(n_spi esp 0x201)" 0 \
		"rcv" "$(rx_lines rcv 5001)" 3 \
		"gw2" "$(rx_lines gw2 5003)" 3
}

# --replace from %hold (or %trap) to a tunnel releases the flow into the tunnel.
replace_into_tunnel() {
	local magic=$1 n=replace-$2
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	fwd_policy 192.168.0.1/32 192.168.2.0/24 192.168.0.1 192.168.0.2 0x135
	listen rcv udp4 5001
	cap_start
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said $magic
	local failed_sends
	failed_sends=$(send gw1 192.168.2.2 5001 3 held)
	settle
	local wire_before
	wire_before=$(n_cap ip)
	er gw1 --replace --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said tun0x135@192.168.0.2
	send gw1 192.168.2.2 5001 3 after >/dev/null
	settle
	cap_stop
	expect $n \
		"IP-packets-on-wire-while-$magic" "$wire_before" 0 \
		"ESP(spi=0x135)-after-replace" "$(n_spi esp 0x135)" 3 \
		"clear-UDP" "$(n_cap 'udp and dst port 5001')" 0 \
		"rcv-after-replace" "$(grep -c '^after ' "$T/rx.rcv.5001")" 3 \
		"rcv-held" "$(grep -c '^held ' "$T/rx.rcv.5001")" 0
	note "$n: $failed_sends of 3 sends failed while $magic was in place"
}
check_replace_hold() { replace_into_tunnel %hold hold-to-tun; }
check_replace_trap() { replace_into_tunnel %trap trap-to-tun; }

# %trap with net.core.xfrm_larval_drop=0 and an ACQUIRE listener: the kernel
# queues the trapped packets; does the replace let them out?
check_replace_trap_queue() {
	local n=replace-trap-queued
	nsx gw1 sysctl -q -w net.core.xfrm_larval_drop=0
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	fwd_policy 192.168.0.1/32 192.168.2.0/24 192.168.0.1 192.168.0.2 0x135
	listen rcv udp4 5001
	bg gw1 stdbuf -oL ip xfrm monitor acquire >"$T/acq.log"
	sleep 0.5
	cap_start
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said %trap
	local failed_sends
	failed_sends=$(send gw1 192.168.2.2 5001 3 queued)
	settle
	local wire_before acquires rx_before
	wire_before=$(n_cap ip)
	rx_before=$(rx_lines rcv 5001)
	acquires=$(grep -c '^acquire' "$T/acq.log")
	er gw1 --replace --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said tun0x135@192.168.0.2
	# The kernel retries its queue on a timer (0.1 s, doubling).
	wait_for 10 eval '[ "$(grep -c "^queued " "$T/rx.rcv.5001")" -ge 3 ]'
	local queued_out
	queued_out=$(grep -c '^queued ' "$T/rx.rcv.5001")
	send gw1 192.168.2.2 5001 3 after >/dev/null
	settle
	cap_stop
	expect $n-held \
		"ACQUIREs" "$acquires" ">=1" \
		"failed-sends" "$failed_sends" 0 \
		"IP-packets-on-wire-while-trapped" "$wire_before" 0 \
		"rcv-while-trapped" "$rx_before" 0
	expect $n-released \
		"queued-delivered-after-replace" "$queued_out" 3 \
		"ESP(spi=0x135)" "$(n_spi esp 0x135)" 6 \
		"clear-UDP" "$(n_cap 'udp and dst port 5001')" 0 \
		"rcv-after" "$(grep -c '^after ' "$T/rx.rcv.5001")" 3
}

# --replace from a tunnel to %pass sends the flow in the clear. The receiver
# here is gw2 itself (192.168.2.1), whose inbound policy is eroute's too: it
# requires the tunnel until `--replacein ... %pass` says otherwise.
check_replace_tun_pass() {
	local n=replace-tun-to-pass
	local sel=(--eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24)
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	listen gw2 udp4 5002
	cap_start
	er gw1 --add "${sel[@]}" --said tun0x135@192.168.0.2
	er gw2 --addin "${sel[@]}" --said tun0x135@192.168.0.2
	send gw1 192.168.2.1 5002 3 tun >/dev/null
	settle
	er gw1 --replace "${sel[@]}" --said %pass
	send gw1 192.168.2.1 5002 2 refused >/dev/null
	settle
	er gw2 --replacein "${sel[@]}" --said %pass
	send gw1 192.168.2.1 5002 3 clear >/dev/null
	settle
	cap_stop
	expect $n \
		"ESP(spi=0x135)" "$(n_spi esp 0x135)" 3 \
		"clear-UDP-to-5002" "$(n_cap 'udp and dst port 5002 and src 192.168.0.1')" 5 \
		"gw2-received-tun" "$(grep -c '^tun ' "$T/rx.gw2.5002")" 3 \
		"gw2-received-clear-before-replacein" "$(grep -c '^refused ' "$T/rx.gw2.5002")" 0 \
		"gw2-received-clear-after-replacein" "$(grep -c '^clear ' "$T/rx.gw2.5002")" 3
}

# The key-manager side: %trap, `eroute --monitor` puts a %hold for the flow
# and runs --exec, which replaces that hold with a tunnel eroute (what pluto
# did on KLIPS). The flow then goes into the tunnel; the replaced hold is
# not the monitor's any more and stays when the monitor ends.
check_trap_monitor() {
	local n=trap-monitor-exec
	local sel=(--eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24)
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	fwd_policy 192.168.0.1/32 192.168.2.0/24 192.168.0.1 192.168.0.2 0x135
	listen rcv udp4 5001
	local said=tun0x135@192.168.0.2
	[ "$MUTATE" = pass ] && said=%pass
	bg gw1 "$EROUTE" --monitor --hold-timeout 60 \
		--exec "$EROUTE --replace --eraf inet --src \$EROUTE_SRC/32 --dst \$EROUTE_DST/32 --said $said" \
		>"$T/acq.mon" 2>"$T/acq.err"
	local mon=${BG[-1]}
	# Started once a NETLINK_XFRM socket (protocol 6) of gw1 has joined
	# XFRMNLGRP_ACQUIRE (group bit 0: an odd last hex digit of Groups).
	wait_for 20 eval 'nsx gw1 awk '"'"'$2 == 6 && $4 ~ /[13579bdf]$/'"'"' /proc/net/netlink | grep -q .' ||
		echo "  (the monitor did not start: $(cat "$T/acq.err"))"
	cap_start
	er gw1 --add "${sel[@]}" --said %trap
	send gw1 192.168.2.2 5001 1 first >/dev/null
	wait_for 20 eval 'er gw1 | grep -q "192.168.2.2/32 .*=> tun0x135@192.168.0.2"'
	local table
	table=$(er gw1)
	send gw1 192.168.2.2 5001 3 after >/dev/null
	settle
	kill -TERM "$mon"
	wait "$mon"
	local monstatus=$? table_after
	table_after=$(er gw1)
	send gw1 192.168.2.2 5001 2 post >/dev/null
	settle
	cap_stop
	expect $n \
		"ACQUIRE-lines" "$(wc -l <"$T/acq.mon")" 1 \
		"tunnel-eroute-for-the-flow" "$(grep -c '^[0-9]* *192.168.0.1/32 *-> 192.168.2.2/32 *=> tun0x135@192.168.0.2$' <<<"$table")" 1 \
		"ESP(spi=0x135)-after" "$(n_spi esp 0x135)" ">=5" \
		"clear-UDP" "$(n_cap 'udp and dst port 5001')" 0 \
		"rcv-after" "$(grep -c '^after ' "$T/rx.rcv.5001")" 3 \
		"monitor-exit-status" "$monstatus" 0 \
		"eroute-kept-after-monitor" "$(grep -c '192.168.2.2/32 *=> tun0x135@192.168.0.2$' <<<"$table_after")" 1 \
		"rcv-post" "$(grep -c '^post ' "$T/rx.rcv.5001")" 2
	sed 's/^/  monitor: /' "$T/acq.mon" "$T/acq.err"
	note "$n: the trapped packet itself was $( [ "$(grep -c '^first ' "$T/rx.rcv.5001")" = 1 ] && echo delivered || echo dropped) (net.core.xfrm_larval_drop=$(nsx gw1 sysctl -n net.core.xfrm_larval_drop))"
}

# The manual's POP3 example: company.com (gw1) and mail.ngo.org (gw2) by
# name; TCP port 110 through the tunnel, everything else in the clear, in
# either command order. mail.ngo.org gets the mirror image for its answers.
pop3() {
	local order=$1 n=pop3-$1
	hosts gw1
	hosts gw2
	sa_esp 192.168.0.1 192.168.0.2 0x135 tunnel gw1 gw2
	sa_esp 192.168.0.2 192.168.0.1 0x136 tunnel gw1 gw2
	local tun=(--eraf inet --src company.com/24 --dst mail.ngo.org/32 --transport-proto 6 --dst-port 110 --said tun.135@mail.ngo.org)
	local clear=(--eraf inet --src company.com/24 --dst mail.ngo.org/32 --said %pass)
	local back=(--eraf inet --src mail.ngo.org/32 --dst company.com/24 --transport-proto 6 --src-port 110 --said tun.136@company.com)
	local backclear=(--eraf inet --src mail.ngo.org/32 --dst company.com/24 --said %pass)
	if [ "$order" = tunnel-first ]; then
		er gw1 --add "${tun[@]}"
		er gw1 --add "${clear[@]}"
		er gw2 --add "${back[@]}"
		er gw2 --add "${backclear[@]}"
	else
		er gw1 --add "${clear[@]}"
		er gw1 --add "${tun[@]}"
		er gw2 --add "${backclear[@]}"
		er gw2 --add "${back[@]}"
	fi
	er gw2 --addin "${tun[@]}"
	er gw1 --addin "${back[@]}"
	listen gw2 tcp4 110
	listen gw2 tcp4 8080
	cap_start
	nsx gw1 bash -c 'echo "USER eroute" | socat -u - TCP4:mail.ngo.org:110' 2>>"$T/err.send"
	nsx gw1 bash -c 'echo "GET / HTTP/1.0" | socat -u - TCP4:mail.ngo.org:8080' 2>>"$T/err.send"
	local pings
	pings=$(nsx gw1 ping -c 2 -i 0.2 -W 2 mail.ngo.org 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
	settle
	cap_stop
	expect $n-port-110-only-in-esp \
		"clear-TCP-port-110" "$(n_cap 'tcp and port 110')" 0 \
		"ESP(spi=0x135)-company-to-mail" "$(n_spi esp 0x135 'src 192.168.0.1 and dst 192.168.0.2')" ">=3" \
		"ESP(spi=0x136)-mail-to-company" "$(n_spi esp 0x136 'src 192.168.0.2 and dst 192.168.0.1')" ">=2" \
		"mail-received-on-110" "$(tr -d '\r' <"$T/rx.gw2.110" | tr ' ' _)" "USER_eroute"
	expect $n-rest-in-clear \
		"clear-TCP-to-8080" "$(n_cap 'tcp and dst port 8080 and src 192.168.0.1')" ">=3" \
		"mail-received-on-8080" "$(tr -d '\r' <"$T/rx.gw2.8080" | tr ' ' _)" "GET_/_HTTP/1.0" \
		"clear-echo-requests" "$(n_cap 'icmp[icmptype] == icmp-echo and src 192.168.0.1')" 2 \
		"ping-replies" "${pings:-0}" 2
	nsx gw1 "$EROUTE" | sed 's/^/  company.com: /'
}
check_pop3_tunnel_first() { pop3 tunnel-first; }
check_pop3_pass_first() { pop3 pass-first; }

# An eroute whose SA does not exist: nothing leaves, in the clear or not.
check_missing_sa() {
	local n=missing-sa
	listen rcv udp4 5001
	listen gw2 udp4 5003
	cap_start
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.2.0/24 --said tun0x999@192.168.0.2
	er gw1 --add --eraf inet --src 192.168.0.1/32 --dst 192.168.0.2/32 --transport-proto udp --said esp0x998@192.168.0.2
	local nostates0
	nostates0=$(xstat gw1 XfrmOutNoStates)
	local f1 f2
	f1=$(send gw1 192.168.2.2 5001 3)
	f2=$(send gw1 192.168.0.2 5003 3)
	settle
	cap_stop
	expect $n \
		"clear-UDP" "$(n_cap 'udp and (dst port 5001 or dst port 5003)')" 0 \
		"ESP" "$(n_cap 'ip proto 50')" 0 \
		"received" "$(($(rx_lines rcv 5001) + $(rx_lines gw2 5003)))" 0 \
		"XfrmOutNoStates" "$(($(xstat gw1 XfrmOutNoStates) - nostates0))" ">=6"
	note "$n: $((f1 + f2)) of 6 sends failed at the sender; XfrmOutNoStates grew by $(($(xstat gw1 XfrmOutNoStates) - nostates0))"
}

# ---- more checks: suite.d/ ------------------------------------------------

# Each file of suite.d/ (beside this script) defines check functions with the
# plumbing above and registers them with `extra_check NAME FUNCTION [ARGS]`;
# they run after the checks of this file, in the order of the files' names
# and of registration. A topic of its own (an IKE daemon, `ipsec spi`,
# packaging) goes in a file of its own there.
EXTRA_NAMES=()
EXTRA_FUNCS=()
extra_check() { # extra_check NAME FUNCTION [ARGS...]
	local name=$1
	shift
	EXTRA_NAMES+=("$name")
	EXTRA_FUNCS+=("$*")
}
for f in "$here"/suite.d/*.sh; do
	[ -f "$f" ] || continue
	# shellcheck source=/dev/null
	. "$f"
done

# ---- main ----------------------------------------------------------------

echo "suite: kernel $(uname -r); eroute $("$EROUTE" --version 2>&1 | head -n 1)"
case $MUTATE in
pass) echo "suite: VM_SUITE_MUTATE=pass: SA eroutes are written as %pass; wire checks must FAIL" ;;
?*) echo "suite: VM_SUITE_MUTATE=$MUTATE: the checks it names must FAIL" ;;
esac
modprobe -a esp4 esp6 ah4 ah6 ipcomp ipcomp6 xfrm4_tunnel xfrm6_tunnel tunnel4 tunnel6 \
	xfrm_user veth bridge 2>/dev/null
start=$(date +%s)

run_check kernel-has-esp-ah-ipcomp check_kernel
if [ "$nfail" != 0 ]; then
	echo "suite: this kernel has no ESP/AH/IPCOMP; the other checks cannot run"
else
	run_check tun4 "check_tun 4"
	run_check tun6 "check_tun 6"
	run_check tun-4in6 "check_tun_cross 4 6"
	run_check tun-6in4 "check_tun_cross 6 4"
	for proto in esp ah comp; do
		for fam in 4 6; do
			run_check $proto$fam-transport "check_transport $proto $fam"
		done
	done
	run_check spi-selects-sa check_spi_selects_sa
	run_check replace-hold-to-tun check_replace_hold
	run_check replace-trap-to-tun check_replace_trap
	run_check replace-trap-queued check_replace_trap_queue
	run_check replace-tun-to-pass check_replace_tun_pass
	run_check trap-monitor-exec check_trap_monitor
	run_check pop3-tunnel-first check_pop3_tunnel_first
	run_check pop3-pass-first check_pop3_pass_first
	run_check missing-sa check_missing_sa
	for i in "${!EXTRA_NAMES[@]}"; do
		run_check "${EXTRA_NAMES[$i]}" "${EXTRA_FUNCS[$i]}"
	done
fi

echo "suite: $(($(date +%s) - start)) s"
[ "$nfail" = 0 ] || echo "suite: failed: ${failed[*]}"
summary="$npass passed, $nfail failed"
[ -n "${SUITE_SUMMARY:-}" ] && echo "$summary" >"$SUITE_SUMMARY"
echo "$summary"
[ "$nfail" = 0 ]
