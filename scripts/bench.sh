#!/usr/bin/env bash
# bench.sh: eroute against iproute2 on the kernel's XFRM policy table.
#
# Each pair runs in the same run, each side in a fresh network namespace
# (eroute-bench-*, always deleted), and prints the wall times, peak RSS and
# the ratio against the goal of issue 4 (see docs/PERFORMANCE.md):
#
#   batch   N --add lines through `eroute --batch` vs `ip -batch` with the
#           equivalent `xfrm policy add` lines        (goal: <= 1.1x, <= 60 MB)
#   list    `eroute` listing N eroutes vs `ip xfrm policy list` of the same
#           table, output to /dev/null                (goal: <= 1.0x, <= 30 MB)
#   single  SINGLES `eroute --add` processes vs as many `ip xfrm policy add`
#           processes, each run inside the namespace  (goal: <= 1.5x)
#   sync    `eroute --sync` of an N-eroute file of which 1% differs from the
#           table vs `ip xfrm policy flush` + `ip -batch` of the same file
#                                                      (goal: >= 5x faster)
#
# The eroutes mix host-to-host (/32, /128) and subnet selectors, IPv4 and
# IPv6, some with a protocol and port, with tun SAIDs, %pass and %drop; the
# ip lines give each policy the very priority and template eroute writes,
# so both tools make, and list, the same table.
#
# Usage (as root): scripts/bench.sh      or      make bench
# Environment: N (100000), SINGLES (200), REPS (3: each figure is the median
# of REPS runs, the two sides alternating), EROUTE (bin/eroute), KEEP=1 keeps
# the generated files. Needs ip (iproute2), GNU time (/usr/bin/time, Debian
# package `time`), awk.
set -euo pipefail
export LC_ALL=C

N=${N:-100000}
SINGLES=${SINGLES:-200}
REPS=${REPS:-3}
EROUTE=${EROUTE:-bin/eroute}
TIME=/usr/bin/time

die() { echo "bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, CAP_NET_ADMIN)"
command -v ip >/dev/null || die "needs ip (iproute2)"
command -v awk >/dev/null || die "needs awk"
$TIME -f %e true 2>/dev/null || die "needs GNU time as $TIME (Debian: apt-get install time)"
[ -x "$EROUTE" ] || die "no $EROUTE: run make build first"
EROUTE=$(cd "$(dirname "$EROUTE")" && pwd)/$(basename "$EROUTE")

WORK=$(mktemp -d /tmp/eroute-bench.XXXXXX)
NAMESPACES=()
cleanup() {
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# newns prints the name of a fresh namespace.
newns() {
	local ns="eroute-bench-$$-${#NAMESPACES[@]}-$RANDOM"
	ip netns add "$ns"
	NAMESPACES+=("$ns")
	echo "$ns"
}
delns() { ip netns del "$1"; }
outcount() { ip -n "$1" xfrm policy count | awk '{for (i = 1; i < NF; i++) if ($i == "OUT") print $(i+1)}'; }
# settle lets the kernel finish the work a large load defers (hash table
# resizing) before anything is timed.
settle() { ip -n "$1" xfrm policy count >/dev/null; sleep 1; }

# measure OUT CMD...: runs CMD under GNU time; OUT gets "wall_s peak_kB",
# or "FAIL message" (the command's stderr is kept in OUT.err). GNU time's
# own wall time (%e) has 10 ms steps: the wall time is taken around it from
# bash's clock (microseconds), which adds the start of time itself to both
# sides of a pair alike.
measure() {
	local out=$1; shift
	local t0=$EPOCHREALTIME t1
	if $TIME -o "$out.t" -f '%e %M' "$@" >/dev/null 2>"$out.err"; then
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" -v m="$(tail -n 1 "$out.t")" 'BEGIN { split(m, f, " "); printf "%.4f %s\n", b - a, f[2] }' >"$out"
	else
		echo "FAIL $(head -c 300 "$out.err" | tr '\n' ' ')" >"$out"
	fi
}

# check OUT NS COUNT WHAT: a run that succeeded must have left COUNT
# outbound policies.
check() {
	local n
	n=$(outcount "$2")
	if ! grep -q '^FAIL' "$1" && [ "$n" != "$3" ]; then
		echo "FAIL $4 left $n policies, not $3" >"$1"
	fi
}

# ---------------------------------------------------------------- the files
# gen.awk writes N eroutes (from FIRST) as eroute lines (out=eroute) or ip
# lines (out=ip); change=1 gives every 200th another SPI and leaves out every
# 400th (from the 2nd), and adds N/400 new ones: 1% of the lines differ.
cat >"$WORK/gen.awk" <<'EOF'
function prio(sb, db, p, dp, kind) { return 16777216 + (133127 - ((((sb*129+db)*2+p)*2+dp)*2)) * 16 + kind }
function emit(i, spi,   k, a, b, c, s, d, sb, db, fam, peer, z, said, kind, tmpl, proto, port, eopt, iopt, act) {
	k = i % 4; a = int(i/65536) % 256; b = int(i/256) % 256; c = i % 256
	if (k == 0) { fam = "inet";  s = sprintf("10.%d.%d.%d/32", a, b, c); d = sprintf("172.16.%d.%d/32", b, c); sb = 32; db = 32 }
	if (k == 1) { fam = "inet";  s = sprintf("10.%d.%d.0/24", 100+a, b); d = sprintf("172.%d.%d.0/24", 17+a, c); sb = 24; db = 24 }
	if (k == 2) { fam = "inet6"; s = sprintf("fd00:1::%x:%x/128", a, i%65536); d = sprintf("fd00:2::%x:%x/128", a, i%65536); sb = 128; db = 128 }
	if (k == 3) { fam = "inet6"; s = sprintf("fd00:3:%x:%x::/64", a, i%65536); d = sprintf("fd00:4:%x::/48", i%65536); sb = 64; db = 48 }
	peer = (fam == "inet") ? sprintf("192.0.2.%d", c) : sprintf("2001:db8::%x", c)
	z = (fam == "inet") ? "0.0.0.0" : "::"
	proto = 0; port = 0; eopt = ""; iopt = ""
	if (i % 20 == 5) { proto = 1; port = 1 + i % 1000; eopt = " --transport-proto 6 --dst-port " port; iopt = " proto tcp dport " port }
	act = ""; tmpl = ""
	if (i % 10 == 7)      { said = "%drop"; kind = 4; act = " action block" }
	else if (i % 10 == 8) { said = "%pass"; kind = 1 }
	else { said = sprintf("tun0x%x@%s", spi, peer); kind = 0
	       tmpl = sprintf(" tmpl src %s dst %s proto esp spi 0x%x reqid 0 mode tunnel", z, peer, spi) }
	if (out == "eroute")
		printf "--add --eraf %s --src %s --dst %s%s --said %s\n", fam, s, d, eopt, said
	else
		printf "xfrm policy add src %s dst %s%s dir out%s priority %d ptype main%s\n", s, d, iopt, act, prio(sb, db, proto, port > 0, kind), tmpl
}
BEGIN {
	for (i = 0; i < N; i++) {
		if (change && i % 400 == 1) continue
		emit(i, (change && i % 200 == 0) ? 2097152 + i : 4096 + i)
	}
	if (change) for (i = N; i < N + N/400; i++) emit(i, 4096 + i)
}
EOF
gen() { awk -v N="$N" -v out="$1" -v change="$2" -f "$WORK/gen.awk"; }
gen eroute 0 >"$WORK/add.eroute"
gen ip 0 >"$WORK/add.ip"
gen eroute 1 >"$WORK/sync.eroute"
gen ip 1 >"$WORK/sync.ip"
SYNCN=$(wc -l <"$WORK/sync.ip")
# The single commands: alternately an IPv4 host and an IPv6 host-to-subnet
# eroute (the ip priorities are eroute's: 2^24 + (133127 - specificity)*16).
awk -v n="$SINGLES" 'BEGIN {
	for (i = 0; i < n; i++)
		if (i % 2) printf "\"$E\" --add --eraf inet6 --src fd00:77::%x/128 --dst fd00:78::/64 --said tun0x%x@2001:db8::1\n", i, 4096+i
		else printf "\"$E\" --add --eraf inet --src 10.77.%d.%d/32 --dst 10.78.0.0/16 --said tun0x%x@192.0.2.1\n", int(i/256), i%256, 4096+i
}' >"$WORK/single.eroute.sh"
awk -v n="$SINGLES" 'BEGIN {
	for (i = 0; i < n; i++)
		if (i % 2) printf "ip xfrm policy add src fd00:77::%x/128 dst fd00:78::/64 dir out priority %d tmpl src :: dst 2001:db8::1 proto esp spi 0x%x mode tunnel\n", i, 16777216 + (133127 - (128*129+64)*8)*16, 4096+i
		else printf "ip xfrm policy add src 10.77.%d.%d/32 dst 10.78.0.0/16 dir out priority %d tmpl src 0.0.0.0 dst 192.0.2.1 proto esp spi 0x%x mode tunnel\n", int(i/256), i%256, 16777216 + (133127 - (32*129+16)*8)*16, 4096+i
}' >"$WORK/single.ip.sh"

# ------------------------------------------------------------- measurements
R="$WORK/r"; mkdir -p "$R"

# pair REP A B: runs the functions A and B with REP, A first in odd runs
# and B first in even ones, so that a drift in the machine's load hits both.
pair() {
	if [ $(($1 % 2)) = 1 ]; then "$2" "$1"; "$3" "$1"; else "$3" "$1"; "$2" "$1"; fi
}

batch_eroute() {
	local ns
	ns=$(newns); measure "$R/batch.eroute.$1" "$EROUTE" --netns "$ns" --batch "$WORK/add.eroute"
	check "$R/batch.eroute.$1" "$ns" "$N" "eroute --batch"
	delns "$ns"
}
batch_ip() {
	local ns
	ns=$(newns); measure "$R/batch.ip.$1" ip -n "$ns" -batch "$WORK/add.ip"
	delns "$ns"
}

list_eroute() { measure "$R/list.eroute.$1" "$EROUTE" --netns "$LISTNS"; }
list_ip() { measure "$R/list.ip.$1" ip -n "$LISTNS" xfrm policy list; }

single_eroute() {
	local ns
	ns=$(newns); measure "$R/single.eroute.$1" env E="$EROUTE" ip netns exec "$ns" bash -e "$WORK/single.eroute.sh"
	check "$R/single.eroute.$1" "$ns" "$SINGLES" "eroute --add"
	delns "$ns"
}
single_ip() {
	local ns
	ns=$(newns); measure "$R/single.ip.$1" ip netns exec "$ns" bash -e "$WORK/single.ip.sh"
	delns "$ns"
}

sync_eroute() {
	local ns
	ns=$(newns); ip -n "$ns" -batch "$WORK/add.ip"; settle "$ns"
	measure "$R/sync.eroute.$1" "$EROUTE" --netns "$ns" --sync "$WORK/sync.eroute"
	check "$R/sync.eroute.$1" "$ns" "$SYNCN" "eroute --sync"
	delns "$ns"
}
sync_ip() {
	local ns
	ns=$(newns); ip -n "$ns" -batch "$WORK/add.ip"; settle "$ns"
	measure "$R/sync.ip.$1" sh -c "ip -n '$ns' xfrm policy flush && ip -n '$ns' -batch '$WORK/sync.ip'"
	delns "$ns"
}

# median FILES...: the median wall time and peak RSS of the runs, or FAIL.
median() {
	local f
	for f in "$@"; do
		if grep -q '^FAIL' "$f"; then cat "$f"; return; fi
	done
	local n=$#
	local k=$(((n + 1) / 2))
	echo "$(cat "$@" | awk '{ print $1 }' | sort -g | sed -n "${k}p") $(cat "$@" | awk '{ print $2 }' | sort -g | sed -n "${k}p")"
}

# report NAME WHAT-EROUTE WHAT-IP GOAL-RATIO GOAL-MB INVERSE
report() {
	local e i
	e=$(median "$R/$1".eroute.*)
	i=$(median "$R/$1".ip.*)
	printf '\n%s\n' "$2 vs $3"
	if [[ $e == FAIL* ]]; then printf '  eroute: %s\n' "$e"; return; fi
	if [[ $i == FAIL* ]]; then printf '  ip:     %s\n' "$i"; return; fi
	awk -v e="$e" -v i="$i" -v goal="$4" -v mb="$5" -v inv="${6:-}" 'BEGIN {
		split(e, a, " "); split(i, b, " ")
		printf "  eroute %8.3f s %7.1f MB peak RSS\n", a[1], a[2] / 1024
		printf "  ip     %8.3f s %7.1f MB peak RSS\n", b[1], b[2] / 1024
		if (b[1] <= 0 || a[1] <= 0) { print "  ratio  (too fast to time)"; exit }
		if (inv) {
			r = b[1] / a[1]
			printf "  eroute is %.1fx faster (goal: at least %sx) %s\n", r, goal, (r >= goal ? "MET" : "MISSED")
		} else {
			r = a[1] / b[1]
			printf "  ratio  %.2fx of ip'"'"'s wall time (goal: at most %sx) %s\n", r, goal, (r <= goal ? "MET" : "MISSED")
		}
		if (mb != "") printf "  eroute peak RSS %.1f MB (goal: at most %s MB) %s\n", a[2] / 1024, mb, (a[2] / 1024 <= mb ? "MET" : "MISSED")
	}'
}

echo "eroute benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "N=$N SINGLES=$SINGLES REPS=$REPS eroute=$EROUTE ($("$EROUTE" --version | head -n 1)), $(ip -V)"

for rep in $(seq 1 "$REPS"); do
	echo "run $rep of $REPS ..." >&2
	pair "$rep" batch_eroute batch_ip
	pair "$rep" single_eroute single_ip
	pair "$rep" sync_eroute sync_ip
done
LISTNS=$(newns); ip -n "$LISTNS" -batch "$WORK/add.ip"; settle "$LISTNS"
lines=$("$EROUTE" --netns "$LISTNS" | wc -l)
[ "$lines" = "$N" ] || echo "warning: the eroute listing has $lines lines, not $N" >&2
for rep in $(seq 1 "$REPS"); do pair "$rep" list_eroute list_ip; done
delns "$LISTNS"

report batch "$N lines: eroute --batch" "ip -batch" 1.1 60
report list "listing $N eroutes: eroute" "ip xfrm policy list" 1.0 30
report single "$SINGLES processes: eroute --add" "ip xfrm policy add" 1.5 ""
report sync "$SYNCN-line file, 1% different: eroute --sync" "ip xfrm policy flush + ip -batch" 5 "" 1
