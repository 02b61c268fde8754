# ipsec spi and ipsec spigrp: two gateways keyed only by a FreeS/WAN-style
# manual-keying script (ipsec spi, ipsec spigrp, ipsec eroute with --addin;
# the same script on both ends, with the addresses and SPIs swapped), hosts
# behind them, traffic both ways. One topology carries every case, each on
# its own UDP port (the eroutes select by --transport-proto 17 --dst-port):
#
#   5001  tun + esp 3des-md5-96                     IPv4
#   5002  tun + esp aes-sha2_256                    IPv4
#   5003  tun + esp aes128-sha1 + ah hmac-sha1-96   IPv4
#   5004  tun + comp deflate + esp aes-sha2_256     IPv4 (two pairwise spigrp, as KLIPS)
#   5005  tun + esp aes-sha2_256, gw2's inbound authentication key wrong
#   6002  tun + esp aes-sha2_256                    IPv6
#   6003  tun + esp aes128-sha1 + ah hmac-sha1-96   IPv6
#
# SPIs: 0xDNK, D the direction (1 gw1->gw2, 2 gw2->gw1), N the case, K the
# member (0 the tun handle, 1 esp, 2 ah, 3 comp): the SPIs on the wire are
# never the handle the eroute names.

IPSEC=${IPSEC:-$(dirname "$EROUTE")/ipsec}

# The manual-keying script, as an administrator would keep it: run on a
# gateway with ME HIM MYNET4 HISNET4 ME6 HIM6 MYNET6 HISNET6 OUT IN [BADKEY].
# OUT and IN are the SPI digits of the two directions; BADKEY, when set,
# replaces the inbound authentication key of case 5.
manual_keying_script='
set -e
ME=$1 HIM=$2 MYNET=$3 HISNET=$4 ME6=$5 HIM6=$6 MYNET6=$7 HISNET6=$8 OUT=$9 IN=${10} BADKEY=${11:-}
EK3=0x4043434545464649494a4a4c4c4f4f515152525454575758
AK5=0x87658765876587658765876587658765
EK=0x01234567_89abcdef_02468ace_13579bdf
AK256=0s0123456789abcdefghijklmnopqrstuvwxyzABCDEFE=
AK1=0x12345678_9abcdef0_2468ace0_13579bdf_12345678
ipsec() { "$IPSEC" "$@"; }
ipsec spi --clear
ipsec eroute --clear

# sa DIR N DST SRC ESP-ALG ENCKEY AUTHKEY [ah]: the tun, esp (and ah) SAs of
# case N in direction DIR (OUT or IN), grouped inner to outer.
sa() {
	local d=$1 n=$2 dst=$3 src=$4 alg=$5 ek=$6 ak=$7 af=inet ip=--ip4
	case $dst in *:*) af=inet6 ip=--ip6 ;; esac
	ipsec spi --af $af --edst $dst --spi 0x$d${n}0 --proto tun --src $src --dst $dst $ip
	ipsec spi --af $af --edst $dst --spi 0x$d${n}1 --proto esp --src $src --esp $alg --enckey $ek --authkey $ak
	if [ "${8:-}" = ah ]; then
		ipsec spi --af $af --edst $dst --spi 0x$d${n}2 --proto ah --src $src --ah hmac-sha1-96 --authkey $AK1
		ipsec spigrp $af $dst 0x$d${n}0 tun $af $dst 0x$d${n}1 esp $af $dst 0x$d${n}2 ah
	else
		ipsec spigrp $af $dst 0x$d${n}0 tun $af $dst 0x$d${n}1 esp
	fi
}
# route N PORT MYNET HISNET GW-OUT GW-IN: the eroute into case N, and the
# inbound policy of the tunnel back.
route() {
	local n=$1 port=$2 mine=$3 his=$4 out=$5 in=$6
	ipsec eroute --add --src $mine --dst $his --transport-proto 17 --dst-port $port --said tun0x$OUT${n}0@$out
	ipsec eroute --addin --src $his --dst $mine --transport-proto 17 --dst-port $port --said tun0x$IN${n}0@$in
}

sa $OUT 1 $HIM $ME 3des-md5-96 $EK3 $AK5
sa $IN 1 $ME $HIM 3des-md5-96 $EK3 $AK5
route 1 5001 $MYNET $HISNET $HIM $ME

sa $OUT 2 $HIM $ME aes-sha2_256 $EK $AK256
sa $IN 2 $ME $HIM aes-sha2_256 $EK $AK256
route 2 5002 $MYNET $HISNET $HIM $ME

sa $OUT 3 $HIM $ME aes128-sha1 $EK $AK1 ah
sa $IN 3 $ME $HIM aes128-sha1 $EK $AK1 ah
route 3 5003 $MYNET $HISNET $HIM $ME

# IPComp: tun with comp, then comp with esp, as the KLIPS tests did it.
for d in $OUT $IN; do
	if [ $d = $OUT ]; then dst=$HIM src=$ME; else dst=$ME src=$HIM; fi
	ipsec spi --said tun.${d}40@$dst --ip4 --src $src --dst $dst
	ipsec spi --said comp.${d}43@$dst --src $src --comp deflate
	ipsec spi --af inet --edst $dst --spi 0x${d}41 --proto esp --src $src --esp aes-sha2_256 --enckey $EK --authkey $AK256
	ipsec spigrp --said tun.${d}40@$dst comp.${d}43@$dst
	ipsec spigrp inet $dst 0x${d}43 comp inet $dst 0x${d}41 esp
done
route 4 5004 $MYNET $HISNET $HIM $ME

sa $OUT 5 $HIM $ME aes-sha2_256 $EK $AK256
sa $IN 5 $ME $HIM aes-sha2_256 $EK ${BADKEY:-$AK256}
route 5 5005 $MYNET $HISNET $HIM $ME

sa $OUT 6 $HIM6 $ME6 aes-sha2_256 $EK $AK256
sa $IN 6 $ME6 $HIM6 aes-sha2_256 $EK $AK256
route 6 6002 $MYNET6 $HISNET6 $HIM6 $ME6

sa $OUT 7 $HIM6 $ME6 aes128-sha1 $EK $AK1 ah
sa $IN 7 $ME6 $HIM6 aes128-sha1 $EK $AK1 ah
route 7 6003 $MYNET6 $HISNET6 $HIM6 $ME6
'

# manual_keying NS ARGS...: runs the script on a gateway.
manual_keying() {
	local ns=$1
	shift
	echo "  [$ns] manual keying $*" >>"$T/trace"
	nsx "$ns" env IPSEC="$IPSEC" bash -c "$manual_keying_script" _ "$@" >>"$T/trace" 2>&1
}

# spi_line NS SAID: the ipsec spi listing line of SAID.
spi_line() { nsx "$1" "$IPSEC" spi | grep "^$2 "; }
# spi_life NS SAID TYPE: the current value of a life(c,s,h) type, 0 if absent.
spi_life() { spi_line "$1" "$2" | sed -n "s/.*$3(\([0-9]*\),.*/\1/p" | grep . || echo 0; }
# state_count NS: ESP, AH and IPCOMP states, as ip xfrm lists them (an
# IPCOMP tunnel has an IP-in-IP state of the kernel's own besides).
state_count() { ip -n "$P-$1" xfrm state | grep -cE '^[[:space:]]+proto (esp|ah|comp) '; }

check_spi_manual_keying() {
	local n=spi-manual
	local badkey=0s0123456789abcdefghijklmnopqrstuvwxyzABCDEF0=
	manual_keying gw1 192.168.0.1 192.168.0.2 192.168.1.0/24 192.168.2.0/24 3049:1::1 3049:1::2 3049:3::/64 3049:2::/64 1 2 ||
		fail $n-gw1-script "the keying script failed on gw1"
	manual_keying gw2 192.168.0.2 192.168.0.1 192.168.2.0/24 192.168.1.0/24 3049:1::2 3049:1::1 3049:2::/64 3049:3::/64 2 1 $badkey ||
		fail $n-gw2-script "the keying script failed on gw2"
	local p
	for p in 5001 5002 5003 5005; do
		listen rcv udp4 $p
		listen snd udp4 $p
	done
	listen rcv udp4 5004
	listen snd udp4 5004
	listen rcv udp6 6002
	listen snd udp6 6002
	listen rcv udp6 6003
	listen snd udp6 6003
	cap_start
	for p in 5001 5002 5003; do
		send snd 192.168.2.2 $p 4 there >/dev/null
		send rcv 192.168.1.2 $p 3 back >/dev/null
	done
	send_zeros snd 192.168.2.2 5004 3 1000
	send_zeros rcv 192.168.1.2 5004 2 1000
	send snd 192.168.2.2 5005 3 bad >/dev/null
	for p in 6002 6003; do
		send snd 3049:2::2 $p 4 there >/dev/null
		send rcv 3049:3::2 $p 3 back >/dev/null
	done
	settle
	cap_stop
	local h="src 192.168.0.1 and dst 192.168.0.2" b="src 192.168.0.2 and dst 192.168.0.1"
	local h6="src 3049:1::1 and dst 3049:1::2" b6="src 3049:1::2 and dst 3049:1::1"
	expect $n-esp-3des-md5 \
		"ESP(spi=0x111)" "$(n_spi esp 0x111 "$h")" 4 "ESP(spi=0x211)" "$(n_spi esp 0x211 "$b")" 3 \
		"rcv" "$(grep -c '^there ' "$T/rx.rcv.5001")" 4 "snd" "$(grep -c '^back ' "$T/rx.snd.5001")" 3
	expect $n-esp-aes-sha2_256 \
		"ESP(spi=0x121)" "$(n_spi esp 0x121 "$h")" 4 "ESP(spi=0x221)" "$(n_spi esp 0x221 "$b")" 3 \
		"rcv" "$(grep -c '^there ' "$T/rx.rcv.5002")" 4 "snd" "$(grep -c '^back ' "$T/rx.snd.5002")" 3
	expect $n-ah-esp \
		"AH(spi=0x132)" "$(n_spi ah 0x132 "$h")" 4 "AH(spi=0x232)" "$(n_spi ah 0x232 "$b")" 3 \
		"AH-carries-ESP(spi=0x131)" "$(cap "$h" | grep -cF 'ESP(spi=0x00000131,')" 4 \
		"rcv" "$(grep -c '^there ' "$T/rx.rcv.5003")" 4 "snd" "$(grep -c '^back ' "$T/rx.snd.5003")" 3
	expect $n-ipcomp-esp \
		"ESP(spi=0x141)" "$(n_spi esp 0x141 "$h")" 3 "ESP(spi=0x241)" "$(n_spi esp 0x241 "$b")" 2 \
		"gw1-comp-packets" "$(sa_packets gw1 192.168.0.1 192.168.0.2 comp 0x143)" 3 \
		"rcv-bytes" "$(rx_bytes rcv 5004)" 3000 "snd-bytes" "$(rx_bytes snd 5004)" 2000
	expect $n-wrong-key-drops \
		"ESP(spi=0x151)" "$(n_spi esp 0x151 "$h")" 3 \
		"rcv" "$(grep -c '^bad ' "$T/rx.rcv.5005")" 0 \
		"gw2-auth_errs" "$(spi_line gw2 esp0x151@192.168.0.2 | sed -n 's/.* auth_errs=\([0-9]*\).*/\1/p')" 3
	expect $n-ipv6 \
		"ESP(spi=0x161)" "$(n_spi esp 0x161 "$h6")" 4 "ESP(spi=0x261)" "$(n_spi esp 0x261 "$b6")" 3 \
		"AH(spi=0x172)" "$(n_spi ah 0x172 "$h6")" 4 "AH(spi=0x272)" "$(n_spi ah 0x272 "$b6")" 3 \
		"rcv-6002" "$(grep -c '^there ' "$T/rx.rcv.6002")" 4 "snd-6002" "$(grep -c '^back ' "$T/rx.snd.6002")" 3 \
		"rcv-6003" "$(grep -c '^there ' "$T/rx.rcv.6003")" 4 "snd-6003" "$(grep -c '^back ' "$T/rx.snd.6003")" 3
	# Both listings count the SA that carries the group's packets.
	expect $n-counts \
		"eroute-COUNT-tun0x110" "$(listing_count gw1 tun0x110@192.168.0.2)" 4 \
		"eroute-COUNT-tun0x130(ah)" "$(listing_count gw1 tun0x130@192.168.0.2)" "$(sa_packets gw1 192.168.0.1 192.168.0.2 ah 0x132)" \
		"eroute-COUNT-tun0x160" "$(listing_count gw1 tun0x160@3049:1::2)" 4 \
		"spi-packets-esp0x111" "$(spi_life gw1 esp0x111@192.168.0.2 packets)" 4 \
		"spi-packets-esp0x211(in)" "$(spi_life gw1 esp0x211@192.168.0.1 packets)" 3 \
		"spi-dir-in" "$(spi_line gw1 esp0x211@192.168.0.1 | grep -c 'dir=in  src=192.168.0.2')" 1 \
		"spi-tun-line" "$(spi_line gw1 tun0x110@192.168.0.2 | grep -c '^tun0x110@192.168.0.2 IPIP: dir=out src=192.168.0.1 life')" 1 \
		"spi-tun-in-policy" "$(spi_line gw1 tun0x210@192.168.0.1 | grep -c '^tun0x210@192.168.0.1 IPIP: dir=in  src=192.168.0.2 policy=192.168.2.0/24->192.168.1.0/24 flags=0x8<> ')" 1
	expect $n-spigrp-listing \
		"out" "$(nsx gw1 "$IPSEC" spigrp | grep -cx 'tun0x130@192.168.0.2 esp0x131@192.168.0.2 ah0x132@192.168.0.2 ')" 1 \
		"in" "$(nsx gw1 "$IPSEC" spigrp | grep -cx 'ah0x232@192.168.0.1 esp0x231@192.168.0.1 tun0x230@192.168.0.1 ')" 1 \
		"comp" "$(nsx gw1 "$IPSEC" spigrp | grep -cx 'tun0x140@192.168.0.2 comp0x143@192.168.0.2 esp0x141@192.168.0.2 ')" 1
	nsx gw1 "$IPSEC" spi | sed 's/^/  gw1 spi: /'
	nsx gw1 "$IPSEC" eroute | sed 's/^/  gw1 eroute: /'
	# --del of one member takes its whole group; --clear takes every SA
	# and leaves the eroutes.
	local before eroutes
	before=$(state_count gw1)
	eroutes=$(nsx gw1 "$IPSEC" eroute | wc -l)
	nsx gw1 "$IPSEC" spi --said esp.131@192.168.0.2 --del
	expect $n-del-member-takes-group \
		"states-gone" "$((before - $(state_count gw1)))" 2 \
		"ah0x132-gone" "$(ip -n "$P-gw1" xfrm state list spi 0x132 | grep -c .)" 0 \
		"spigrp-tun0x130" "$(nsx gw1 "$IPSEC" spigrp | grep -c 'tun0x130@')" 0
	nsx gw1 "$IPSEC" spi --clear
	expect $n-clear \
		"states" "$(state_count gw1)" 0 \
		"eroutes-kept" "$(nsx gw1 "$IPSEC" eroute | wc -l)" "$eroutes"
}

extra_check spi-manual-keying check_spi_manual_keying
