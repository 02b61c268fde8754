#!/usr/bin/env bash
# bench.sh: eroute against its floor, iproute2 and a Go netlink peer on the
# kernel's XFRM policy table (issues 4 and 12; see docs/PERFORMANCE.md).
#
# Every measurement is a whole process, timed in a fresh network namespace
# (eroute-bench-*, always deleted), and each figure is the median of REPS
# runs in which the tools take turns. The tools:
#
#   eroute  bin/eroute
#   floor   the least the kernel can be asked for the same work: eroute's
#           own requests, encoded beforehand (not timed), then only sent,
#           512 a datagram, no acknowledgement asked, one barrier
#           (scripts/bench/floor, built here with -tags eroutebench); for
#           a listing, the dump alone, decoding nothing; for --sync, that
#           dump and the changes
#   ip      ip -batch of the equivalent `xfrm policy add` lines, in the
#           file's order, with the very priority and template eroute writes
#   vish    one github.com/vishvananda/netlink XfrmPolicyAdd per eroute
#           (scripts/bench/vishloader), the typical Go peer
#
# The tables (each N eroutes; all four tools make the same table):
#
#   mix     host-to-host (/32, /128) and subnet selectors, IPv4 and IPv6,
#           one in twenty with TCP and a port; tun SAIDs, %pass, %drop
#   host    IPv4 host to host (/32 to /32), tun SAIDs: the kernel's hash
#   random  IPv4 subnets of random prefix lengths from /8 to /30 at both
#           ends: the kernel's inexact tree, in a random order
#
# The jobs: `--batch` (all three tables), the listing of the mix (floor: a
# dump), `--sync` of a mix file that differs in 1% of its lines (ip: flush
# and reload), and SINGLES single `eroute --add` processes against as many
# `ip xfrm policy add`. The report gives each time, the ratios the goals
# are about, microseconds per eroute, eroute's peak RSS, and MET or MISSED.
#
# Usage (as root): scripts/bench.sh      or      make bench
# Environment:
#   SIZES         table sizes for mix and host (default "100000 300000";
#                 add 1000000 for a million; N=SIZE is SIZES=SIZE)
#   RANDOM_SIZES  sizes of the random table (default 100000; ip and vish
#                 take minutes from 300000 on: RANDOM_PEERS=0 leaves them out)
#   QUICK=1       SIZES=10000 RANDOM_SIZES=10000 REPS=1 SINGLES=50: a run
#                 of a minute or two, to see that everything works
#   PEERS=0       leaves ip and vish out of the mix and host tables, the
#                 listing and --sync (eroute against its floor only: the
#                 goals of issue 12 item 2, in a third of the time)
#   REPS (3), SINGLES (200), EROUTE (bin/eroute), KEEP=1 keeps the files,
#   GO (go) builds the floor and the loader.
# The quiet run PERFORMANCE.md asks for: SIZES=100000 REPS=5 PEERS=0
#   RANDOM_SIZES=100000 RANDOM_PEERS=0 BENCH_D=0 make bench  (about 5 min)
# Needs ip (iproute2), GNU time (/usr/bin/time, Debian package `time`),
# awk and Go.
set -euo pipefail
export LC_ALL=C

if [ "${QUICK:-0}" = 1 ]; then
	SIZES=${SIZES:-10000}
	RANDOM_SIZES=${RANDOM_SIZES:-10000}
	REPS=${REPS:-1}
	SINGLES=${SINGLES:-50}
fi
SIZES=${SIZES:-${N:-100000 300000}}
RANDOM_SIZES=${RANDOM_SIZES:-100000}
RANDOM_PEERS=${RANDOM_PEERS:-1}
PEERS=${PEERS:-1}
SINGLES=${SINGLES:-200}
REPS=${REPS:-3}
EROUTE=${EROUTE:-bin/eroute}
GO=${GO:-go}
TIME=/usr/bin/time

die() { echo "bench.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, CAP_NET_ADMIN)"
command -v ip >/dev/null || die "needs ip (iproute2)"
command -v awk >/dev/null || die "needs awk"
$TIME -f %e true 2>/dev/null || die "needs GNU time as $TIME (Debian: apt-get install time)"
[ -x "$EROUTE" ] || die "no $EROUTE: run make build first"
EROUTE=$(cd "$(dirname "$EROUTE")" && pwd)/$(basename "$EROUTE")

WORK=$(mktemp -d /tmp/eroute-bench.XXXXXX)
# Namespaces are made in command substitutions, whose variables do not
# come back: cleanup finds them by their names' prefix.
cleanup() {
	local ns
	for ns in $(ip netns list | awk -v p="eroute-bench-$$-" 'index($1, p) == 1 { print $1 }'); do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

here=$(cd "$(dirname "$0")" && pwd)
(cd "$here/.." && CGO_ENABLED=0 $GO build -tags eroutebench -o "$WORK/floor" ./scripts/bench/floor &&
	CGO_ENABLED=0 $GO build -tags eroutebench -o "$WORK/vishloader" ./scripts/bench/vishloader) ||
	die "cannot build the floor and the loader (scripts/bench)"
FLOOR=$WORK/floor
VISH=$WORK/vishloader

# newns prints the name of a fresh namespace.
newns() {
	local ns="eroute-bench-$$-$RANDOM$RANDOM"
	ip netns add "$ns"
	echo "$ns"
}
delns() { ip netns del "$1"; }
outcount() { ip -n "$1" xfrm policy count | awk '{for (i = 1; i < NF; i++) if ($i == "OUT") print $(i+1)}'; }
# settle lets the kernel finish the work a large load defers (hash table
# resizing) before anything is timed.
settle() { ip -n "$1" xfrm policy count >/dev/null; sleep 1; }

# measure OUT CMD...: runs CMD under GNU time; OUT gets "wall_s peak_kB
# cpu_s" (CPU: user and system time, in 10 ms steps),
# or "FAIL message" (the command's stderr is kept in OUT.err). GNU time's
# own wall time (%e) has 10 ms steps: the wall time is taken around it from
# bash's clock (microseconds), which adds the start of time itself to every
# tool alike.
measure() {
	local out=$1; shift
	local t0=$EPOCHREALTIME t1
	if $TIME -o "$out.t" -f '%e %M %U %S' "$@" >/dev/null 2>"$out.err"; then
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" -v m="$(tail -n 1 "$out.t")" 'BEGIN { split(m, f, " "); printf "%.4f %s %.2f\n", b - a, f[2], f[3] + f[4] }' >"$out"
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
# gen.awk writes N eroutes of a table as eroute lines (out=eroute) or ip
# lines (out=ip). For the mix, change=1 gives every 200th another SPI and
# leaves out every 400th (from the 2nd), and adds N/400 new ones: 1% of the
# lines differ.
cat >"$WORK/gen.awk" <<'EOF'
function prio(sb, db, p, dp, kind) { return 16777216 + (133127 - ((((sb*129+db)*2+p)*2+dp)*2)) * 16 + kind }
function line(fam, s, d, sb, db, said, kind, tmpl, eopt, iopt, proto, port, act) {
	if (out == "eroute")
		printf "--add --eraf %s --src %s --dst %s%s --said %s\n", fam, s, d, eopt, said
	else
		printf "xfrm policy add src %s dst %s%s dir out%s priority %d ptype main%s\n", s, d, iopt, act, prio(sb, db, proto, port > 0, kind), tmpl
}
function tun(spi, peer, z) { return sprintf(" tmpl src %s dst %s proto esp spi 0x%x reqid 0 mode tunnel", z, peer, spi) }
function mix(i, spi,   k, a, b, c, s, d, sb, db, fam, peer, z, said, kind, tmpl, proto, port, eopt, iopt, act) {
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
	else { said = sprintf("tun0x%x@%s", spi, peer); kind = 0; tmpl = tun(spi, peer, z) }
	line(fam, s, d, sb, db, said, kind, tmpl, eopt, iopt, proto, port, act)
}
function host(i,   a, b, c, peer) {
	a = int(i/65536) % 256; b = int(i/256) % 256; c = i % 256; peer = sprintf("192.0.2.%d", c)
	line("inet", sprintf("10.%d.%d.%d/32", a, b, c), sprintf("172.%d.%d.%d/32", 16 + int(i/16777216), 255 - a, c), 32, 32,
		sprintf("tun0x%x@%s", 4096 + i, peer), 0, tun(4096 + i, peer, "0.0.0.0"), "", "", 0, 0, "")
}
function quad(x) { return sprintf("%d.%d.%d.%d", int(x/16777216), int(x/65536) % 256, int(x/256) % 256, x % 256) }
function masked(bits) { return int(rand() * 2^bits) * 2^(32 - bits) }
function random(i,   sb, db, s, d, k, peer) {
	do {
		sb = 8 + int(rand() * 23); db = 8 + int(rand() * 23)
		s = quad(masked(sb)) "/" sb; d = quad(masked(db)) "/" db; k = s " " d
	} while (k in seen)
	seen[k] = 1; peer = sprintf("192.0.2.%d", i % 256)
	line("inet", s, d, sb, db, sprintf("tun0x%x@%s", 4096 + i, peer), 0, tun(4096 + i, peer, "0.0.0.0"), "", "", 0, 0, "")
}
BEGIN {
	srand(12)
	for (i = 0; i < N; i++) {
		if (table == "host") { host(i); continue }
		if (table == "random") { random(i); continue }
		if (change && i % 400 == 1) continue
		mix(i, (change && i % 200 == 0) ? 2097152 + i : 4096 + i)
	}
	if (change) for (i = N; i < N + N/400; i++) mix(i, 4096 + i)
}
EOF
# gen TABLE N OUT CHANGE
gen() { awk -v N="$2" -v table="$1" -v out="$3" -v change="$4" -f "$WORK/gen.awk"; }

# files TABLE N: the eroute, ip and floor files of a table.
files() {
	local f="$WORK/$1.$2"
	gen "$1" "$2" eroute 0 >"$f.eroute"
	gen "$1" "$2" ip 0 >"$f.ip"
	"$FLOOR" encode "$f.eroute" "$f.floor"
	if [ "$1" = mix ]; then
		gen mix "$2" eroute 1 >"$f.sync.eroute"
		gen mix "$2" ip 1 >"$f.sync.ip"
		"$FLOOR" encode-sync "$f.eroute" "$f.sync.eroute" "$f.sync.floor" "$f.sync.del"
	fi
}

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

# rotate REP FUNCTIONS...: runs the functions with REP, starting each
# repetition one further along, so that a drift in the machine's load hits
# every tool.
rotate() {
	local rep=$1; shift
	local fns=("$@") n=$# k
	for ((k = 0; k < n; k++)); do "${fns[$(((k + rep) % n))]}" "$rep"; done
}

# batch TOOL TABLE N REP: a fresh namespace loaded by TOOL.
batch() {
	local ns f="$WORK/$2.$3" out="$R/batch.$2.$3.$1.$4"
	ns=$(newns)
	case $1 in
	eroute) measure "$out" "$EROUTE" --netns "$ns" --batch "$f.eroute" ;;
	floor) measure "$out" "$FLOOR" send "$ns" "$f.floor" ;;
	ip) measure "$out" ip -n "$ns" -batch "$f.ip" ;;
	vish) measure "$out" "$VISH" "$ns" "$f.eroute" ;;
	esac
	check "$out" "$ns" "$3" "$1"
	delns "$ns"
}
TABLE= SIZE=
batch_eroute() { batch eroute "$TABLE" "$SIZE" "$1"; }
batch_floor() { batch floor "$TABLE" "$SIZE" "$1"; }
batch_ip() { batch ip "$TABLE" "$SIZE" "$1"; }
batch_vish() { batch vish "$TABLE" "$SIZE" "$1"; }

LISTNS=
list_eroute() { measure "$R/list.mix.$SIZE.eroute.$1" "$EROUTE" --netns "$LISTNS"; }
list_floor() { measure "$R/list.mix.$SIZE.floor.$1" "$FLOOR" dump "$LISTNS"; }
list_ip() { measure "$R/list.mix.$SIZE.ip.$1" ip -n "$LISTNS" xfrm policy list; }

# sync_job TOOL REP: --sync of the 1% different file into a loaded table.
sync_job() {
	local ns f="$WORK/mix.$SIZE" out="$R/sync.mix.$SIZE.$1.$2"
	ns=$(newns); ip -n "$ns" -batch "$f.ip"; settle "$ns"
	case $1 in
	eroute) measure "$out" "$EROUTE" --netns "$ns" --sync "$f.sync.eroute" ;;
	floor) measure "$out" "$FLOOR" sync "$ns" "$f.sync.floor" "$f.sync.del" ;;
	ip) measure "$out" sh -c "ip -n '$ns' xfrm policy flush && ip -n '$ns' -batch '$f.sync.ip'" ;;
	esac
	check "$out" "$ns" "$(wc -l <"$f.sync.ip")" "$1"
	delns "$ns"
}
sync_eroute() { sync_job eroute "$1"; }
sync_floor() { sync_job floor "$1"; }
sync_ip() { sync_job ip "$1"; }

single() {
	local ns out="$R/single.host.$SINGLES.$1.$2"
	ns=$(newns)
	case $1 in
	eroute) measure "$out" env E="$EROUTE" ip netns exec "$ns" bash -e "$WORK/single.eroute.sh" ;;
	ip) measure "$out" ip netns exec "$ns" bash -e "$WORK/single.ip.sh" ;;
	esac
	check "$out" "$ns" "$SINGLES" "$1"
	delns "$ns"
}
single_eroute() { single eroute "$1"; }
single_ip() { single ip "$1"; }

PEER_BATCH=(batch_ip batch_vish) PEER_SYNC=(sync_ip) PEER_LIST=(list_ip)
if [ "$PEERS" = 0 ]; then PEER_BATCH=() PEER_SYNC=() PEER_LIST=(); fi

load() { awk '{ printf "%s %s %s", $1, $2, $3 }' /proc/loadavg; }

echo "eroute benchmarks: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -sr), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "SIZES=\"$SIZES\" RANDOM_SIZES=\"$RANDOM_SIZES\" SINGLES=$SINGLES REPS=$REPS PEERS=$PEERS RANDOM_PEERS=$RANDOM_PEERS eroute=$EROUTE ($("$EROUTE" --version | head -n 1)), $(ip -V)"
echo "load average at the start: $(load)"

for SIZE in $SIZES; do
	for TABLE in mix host; do
		echo "$TABLE $SIZE ..." >&2
		files "$TABLE" "$SIZE"
		for rep in $(seq 1 "$REPS"); do rotate "$rep" batch_eroute batch_floor "${PEER_BATCH[@]}"; done
	done
	echo "sync and listing, mix $SIZE ..." >&2
	for rep in $(seq 1 "$REPS"); do rotate "$rep" sync_eroute sync_floor "${PEER_SYNC[@]}"; done
	LISTNS=$(newns); ip -n "$LISTNS" -batch "$WORK/mix.$SIZE.ip"; settle "$LISTNS"
	lines=$("$EROUTE" --netns "$LISTNS" | wc -l)
	[ "$lines" = "$SIZE" ] || echo "warning: the eroute listing has $lines lines, not $SIZE" >&2
	for rep in $(seq 1 "$REPS"); do rotate "$rep" list_eroute list_floor "${PEER_LIST[@]}"; done
	delns "$LISTNS"
done
TABLE=random
for SIZE in $RANDOM_SIZES; do
	echo "random $SIZE ..." >&2
	files random "$SIZE"
	if [ "$RANDOM_PEERS" = 1 ]; then
		for rep in $(seq 1 "$REPS"); do rotate "$rep" batch_eroute batch_floor batch_ip batch_vish; done
	else
		for rep in $(seq 1 "$REPS"); do rotate "$rep" batch_eroute batch_floor; done
	fi
done
SIZE=$SINGLES
echo "single commands ..." >&2
for rep in $(seq 1 "$REPS"); do rotate "$rep" single_eroute single_ip; done
echo "load average at the end: $(load)"

# ------------------------------------------------------------------ report
# median JOB TABLE N TOOL: "wall_s peak_kB cpu_s" (medians of the runs), "FAIL
# ...", or nothing when the tool did not run.
median() {
	local f fs=("$R/$1.$2.$3.$4".[0-9]*)
	fs=("${fs[@]/*.err/}"); fs=("${fs[@]/*.t/}")
	local runs=()
	for f in "${fs[@]}"; do [ -n "$f" ] && [ -f "$f" ] && runs+=("$f"); done
	[ ${#runs[@]} -gt 0 ] || return 0
	for f in "${runs[@]}"; do
		if grep -q '^FAIL' "$f"; then cat "$f"; return; fi
	done
	local k=$(((${#runs[@]} + 1) / 2))
	local col
	for col in 1 2 3; do
		cat "${runs[@]}" | awk -v c=$col '{ print $c }' | sort -g | sed -n "${k}p"
	done | paste -sd ' ' 
}

# row JOB TABLE N: one line of the table, and the ratios noted for the goals.
GOALS=()
row() {
	local e f i v
	e=$(median "$1" "$2" "$3" eroute); f=$(median "$1" "$2" "$3" floor)
	i=$(median "$1" "$2" "$3" ip); v=$(median "$1" "$2" "$3" vish)
	awk -v job="$1" -v table="$2" -v n="$3" -v e="$e" -v f="$f" -v i="$i" -v v="$v" 'function t(x, a) { if (x == "") return "-"; if (x ~ /^FAIL/) return "FAIL"; split(x, a, " "); return sprintf("%.3f", a[1]) }
	function s(x, k, a) { split(x, a, " "); return a[k] + 0 }
	function r(x, y, k) { return (s(x, k) > 0 && s(y, k) > 0 && x !~ /^FAIL/ && y !~ /^FAIL/) ? sprintf("%.2f", s(x, k) / s(y, k)) : "-" }
	function c(x) { return (x == "" || x ~ /^FAIL/) ? "-" : sprintf("%.2f", s(x, 3)) }
	BEGIN {
		bad = (e ~ /^FAIL/ || e == "")
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s |\n", job, table, n, t(e), t(f), t(i), t(v), r(e, f, 1), r(e, i, 1),
			r(e, v, 1), c(e), c(f), r(e, f, 3), bad ? "-" : sprintf("%.2f", s(e, 1) * 1e6 / n), bad ? "-" : sprintf("%.1f", s(e, 2) / 1024)
	}'
	[[ $e == FAIL* ]] && echo "  eroute: $e"
	[[ $f == FAIL* ]] && echo "  floor: $f"
	[[ $i == FAIL* ]] && echo "  ip: $i"
	[[ $v == FAIL* ]] && echo "  vish: $v"
	return 0
}

# goal TEXT VALUE LIMIT [min]: MET when VALUE <= LIMIT (>= with min).
goal() {
	awk -v text="$1" -v v="$2" -v l="$3" -v min="${4:-}" 'BEGIN {
		if (v == "" || v == "-") { printf "  %-64s      -  (not measured)\n", text; exit }
		ok = min ? v >= l : v <= l
		printf "  %-64s %6.2f  (goal %s %s) %s\n", text, v, (min ? ">=" : "<="), l, (ok ? "MET" : "MISSED")
	}'
}
ratio() { # JOB TABLE N TOOL-A TOOL-B: A's wall time over B's
	local a b
	a=$(median "$1" "$2" "$3" "$4"); b=$(median "$1" "$2" "$3" "$5")
	[[ -n $a && -n $b && $a != FAIL* && $b != FAIL* ]] || return 0
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); if (y[1] > 0) printf "%.2f", x[1] / y[1] }'
}
perline() { # JOB TABLE N-BIG N-SMALL FIELD: eroute's time per eroute at N-BIG over at N-SMALL (FIELD 1 wall, 3 CPU)
	local a b
	a=$(median "$1" "$2" "$3" eroute); b=$(median "$1" "$2" "$4" eroute)
	[[ -n $a && -n $b && $a != FAIL* && $b != FAIL* ]] || return 0
	awk -v a="$a" -v b="$b" -v na="$3" -v nb="$4" -v f="$5" 'BEGIN { split(a, x, " "); split(b, y, " "); if (y[f] > 0) printf "%.2f", (x[f] / na) / (y[f] / nb) }'
}

echo
echo "Wall times in seconds (medians of $REPS); CPU is user + system time"
echo "(eroute / floor); us/eroute (wall) and peak RSS (MB) are eroute's."
echo
echo "| job | table | N | eroute | floor | ip | vish | eroute/floor | eroute/ip | eroute/vish | CPU | CPU eroute/floor | us/eroute | MB |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for SIZE in $SIZES; do
	for TABLE in mix host; do row batch "$TABLE" "$SIZE"; done
done
for SIZE in $RANDOM_SIZES; do row batch random "$SIZE"; done
for SIZE in $SIZES; do row list mix "$SIZE"; done
for SIZE in $SIZES; do row sync mix "$SIZE"; done
row single host "$SINGLES"

echo
echo "Goals (issue 12):"
first=${SIZES%% *}
for SIZE in $SIZES; do
	for TABLE in mix host; do
		goal "--batch $TABLE $SIZE: eroute / floor" "$(ratio batch "$TABLE" "$SIZE" eroute floor)" 1.2
	done
	[ "$SIZE" = "$first" ] && continue
	for TABLE in mix host; do
		goal "--batch $TABLE: time per eroute at $SIZE / at $first" "$(perline batch "$TABLE" "$SIZE" "$first" 1)" 1.2
		goal "--batch $TABLE: CPU time per eroute at $SIZE / at $first" "$(perline batch "$TABLE" "$SIZE" "$first" 3)" 1.2
	done
done
for SIZE in $RANDOM_SIZES; do
	goal "--batch random $SIZE: eroute / ip -batch in the file's order" "$(ratio batch random "$SIZE" eroute ip)" 0.4
done
for SIZE in $SIZES; do
	goal "listing mix $SIZE: eroute / the floor's dump" "$(ratio list mix "$SIZE" eroute floor)" 2
	goal "--sync mix $SIZE, 1% changed: eroute / the floor's dump + changes" "$(ratio sync mix "$SIZE" eroute floor)" 3
done
goal "$SINGLES single --add processes: eroute / ip" "$(ratio single host "$SINGLES" eroute ip)" 1.5
