#!/usr/bin/env bash
# clear-memory.sh: the peak RSS of `eroute --clear` on a large table (issue
# 10, item 13: under 64 MB for 1,000,000 eroutes).
#
# Loads N eroutes into a fresh network namespace with `eroute --batch`
# (IPv4 and IPv6 host-to-host eroutes, one in eight between subnets, tun
# SAIDs, %pass and %drop), adds a few policies with ip xfrm (someone
# else's, which --clear must leave), then runs `eroute --clear` under GNU
# time: wall time and peak RSS, checked against the goal; then checks that
# exactly the foreign policies are left.
#
# Usage (as root): scripts/bench.d/clear-memory.sh        (N=1000000)
#                  QUICK=1 scripts/bench.d/clear-memory.sh   (N=100000)
# make bench runs it after scripts/bench.sh (see README here).
# Environment: N, QUICK, EROUTE (bin/eroute), GOAL_KB (65536). Needs ip, awk
# and GNU time (/usr/bin/time). Loading a million eroutes takes about a
# minute on the development machine; the namespace is always deleted. The
# exit status is 0 when it measured, goal met or not (the report says).
set -euo pipefail
export LC_ALL=C

if [ "${QUICK:-0}" = 1 ]; then N=${N:-100000}; else N=${N:-1000000}; fi
EROUTE=${EROUTE:-bin/eroute}
GOAL_KB=${GOAL_KB:-65536}
TIME=/usr/bin/time

die() { echo "clear-memory.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, CAP_NET_ADMIN)"
command -v ip >/dev/null || die "needs ip (iproute2)"
$TIME -f %e true 2>/dev/null || die "needs GNU time as $TIME (Debian: apt-get install time)"
[ -x "$EROUTE" ] || die "no $EROUTE: run make build first"

WORK=$(mktemp -d /tmp/eroute-clear.XXXXXX)
NS="eroute-bench-clear-$$-$RANDOM"
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$NS"
outcount() { ip -n "$NS" xfrm policy count | awk '{for (i = 1; i < NF; i++) if ($i == "OUT") print $(i+1)}'; }

awk -v N="$N" 'BEGIN {
	for (i = 0; i < N; i++) {
		a = int(i / 65536) % 256; b = int(i / 256) % 256; c = i % 256
		said = (i % 10 == 7) ? "%drop" : (i % 10 == 8) ? "%pass" : sprintf("tun0x%x@192.0.2.%d", 4096 + i, c)
		if (i % 8 == 1)
			printf "--add --src 10.%d.%d.0/24 --dst 172.%d.%d.0/24 --said %s\n", 100 + a, b, 16 + a % 16, c, said
		else if (i % 2)
			printf "--add --src fd00:1::%x:%x/128 --dst fd00:2::%x:%x/128 --said %s\n", a, i % 65536, a, i % 65536, (said ~ /^tun/) ? sprintf("tun0x%x@2001:db8::1", 4096 + i) : said
		else
			printf "--add --src 10.%d.%d.%d/32 --dst 11.%d.%d.%d/32 --said %s\n", a, b, c, a, b, c, said
	}
}' >"$WORK/load"

t0=$EPOCHREALTIME
"$EROUTE" --netns "$NS" --batch "$WORK/load"
t1=$EPOCHREALTIME
for p in "src 192.168.1.0/24 dst 192.168.2.0/24 dir out priority 367231 tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 1 mode tunnel" \
	"src ::/0 dst ::/0 proto ipv6-icmp type 135 dir out priority 1750000" \
	"src 192.168.3.0/24 dst 192.168.4.0/24 dir out action block"; do
	# shellcheck disable=SC2086
	ip -n "$NS" xfrm policy add $p
done
loaded=$(outcount)
[ "$loaded" = $((N + 3)) ] || die "loaded $loaded outbound policies, want $((N + 3))"
sleep 1 # let the kernel finish resizing its hash tables (see bench.sh)

t2=$EPOCHREALTIME
$TIME -o "$WORK/time" -f '%e %M' "$EROUTE" --netns "$NS" --clear
t3=$EPOCHREALTIME
left=$(outcount)
peak=$(awk '{print $2}' "$WORK/time")
awk -v n="$N" -v l0="$t0" -v l1="$t1" -v c0="$t2" -v c1="$t3" -v kb="$peak" -v goal="$GOAL_KB" 'BEGIN {
	printf "clear-memory  N=%d  load (--batch) %.1f s  --clear %.2f s  peak RSS %.1f MB  goal <= %.0f MB: %s\n",
		n, l1 - l0, c1 - c0, kb / 1024, goal / 1024, (kb <= goal) ? "met" : "MISSED"
}'
[ "$left" = 3 ] || die "--clear left $left outbound policies, want the 3 foreign ones"
