#!/bin/bash
# systemd-check.sh: the checks of eroute's Debian package and systemd units,
# run by real systemd in the test VM (run.sh's second mode: two boots of one
# writable copy of the image; init.sh installs this script as a service that
# runs once the system is up). The boot number is the count of boots the
# payload disk has seen.
#
#   boot 1: the package (installed by apt in the suite's boot, on this same
#           disk) is there; the units are installed and
#           eroute-restore is enabled but does nothing without
#           /etc/eroute/eroutes.conf; with one, it loads it; eroute-save
#           writes the table (one eroute added by hand) back to the file;
#           eroute-monitor@record is enabled.
#   boot 2: the table is back, before network-pre.target; a bad file fails
#           the unit loudly (failed state, eroute's message in the journal)
#           and leaves the table as it was; the monitor runs its hook.
#
# Each check prints `PASS systemd-NAME` or `FAIL systemd-NAME: why`; the counts
# go to /payload/out/systemd-summary-BOOT as `N passed, M failed`, and the
# VM powers off.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

payload=/payload
state=/var/lib/eroute-vm # on the root disk: survives the reboot
mkdir -p "$payload" "$state"
mountpoint -q "$payload" || mount -t ext4 /dev/vdb "$payload"
mkdir -p "$payload/out"
boot=$(($(cat "$payload/out/systemd-boots" 2>/dev/null || echo 0) + 1))
echo "$boot" >"$payload/out/systemd-boots"

npass=0 nfail=0
pass() {
	echo "PASS systemd-$1"
	npass=$((npass + 1))
}
fail() {
	echo "FAIL systemd-$1: $2"
	nfail=$((nfail + 1))
}
check() { # check NAME WHY CONDITION: PASS when the shell text CONDITION holds
	local name=$1 why=$2
	if eval "$3"; then pass "$name"; else fail "$name" "$why"; fi
}
finish() {
	echo "$npass passed, $nfail failed" >"$payload/out/systemd-summary-$boot"
	echo "systemd-check: boot $boot: $npass passed, $nfail failed"
	sync
	umount "$payload" 2>/dev/null
	systemctl poweroff --no-block
	exit 0
}
prop() { systemctl show -P "$2" "$1"; } # prop UNIT PROPERTY

# The table as both readers see it: eroute's listing, and ip xfrm's policies
# (each policy's lines joined, sorted: the kernel lists them in the order it
# made them, which a restore need not keep).
table_state() {
	eroute
	echo ---
	ip xfrm policy | awk '/^[^ \t]/ { if (p != "") print p; p = $0; next } { p = p " |" $0 } END { if (p != "") print p }' | sort
}

conf=/etc/eroute/eroutes.conf
EROUTES='# the eroutes of this gateway
--add --src 192.168.1.0/24 --dst 192.168.2.0/24 --said tun0x135@192.0.2.2
--add --eraf inet6 --src 3049:1::/64 --dst 3049:2::/64 --said tun0x145@3049:1::2
--add --src 10.0.0.0/8 --dst 172.16.0.0/12 --said %drop
--add --src 10.77.0.1/32 --dst 10.77.0.2/32 --said %trap
--addin --src 192.168.2.0/24 --dst 192.168.1.0/24 --said tun0x136@192.0.2.1'

boot1() {
	# The suite's boot installed the package with apt on this very disk
	# (init.sh: apt install ./eroute_*.deb, as an admin would).
	check deb-installed "dpkg says: $(dpkg-query -W -f '${Status} ${Version}' eroute 2>&1)" \
		'[ "$(dpkg-query -W -f "\${Status}" eroute 2>/dev/null)" = "install ok installed" ]'
	local f missing=""
	for f in /usr/sbin/eroute /usr/libexec/eroute/ipsec /usr/share/man/man8/eroute.8.gz \
		/usr/share/man/man8/ipsec_eroute.8.gz /usr/share/man/man8/ipsec_spi.8.gz \
		/usr/share/man/man8/ipsec_spigrp.8.gz /lib/systemd/system/eroute-restore.service \
		/lib/systemd/system/eroute-save.service /lib/systemd/system/eroute-monitor@.service \
		/usr/share/bash-completion/completions/eroute /usr/share/doc/eroute/copyright \
		/usr/share/doc/eroute/README.md.gz /usr/share/doc/eroute/changelog.gz; do
		[ -e "$f" ] || missing="$missing $f"
	done
	check deb-files "missing:$missing" '[ -z "$missing" ]'
	check restore-enabled "eroute-restore.service is $(systemctl is-enabled eroute-restore.service 2>&1)" \
		'[ "$(systemctl is-enabled eroute-restore.service 2>&1)" = enabled ]'
	# Without a file the unit does nothing (ConditionPathExists), and fails not.
	systemctl start eroute-restore.service
	check restore-without-file "condition $(prop eroute-restore.service ConditionResult), state $(prop eroute-restore.service ActiveState)" \
		'[ "$(prop eroute-restore.service ConditionResult)" = no ] && [ "$(prop eroute-restore.service Result)" = success ]'

	mkdir -p /etc/eroute
	printf '%s\n' "$EROUTES" >"$conf"
	systemctl restart eroute-restore.service
	local want
	want=$(printf '%s\n' "$EROUTES" | grep -c '^--add ')
	check restore-loads "state $(prop eroute-restore.service ActiveState), $(eroute | wc -l) eroutes, want $want" \
		'[ "$(prop eroute-restore.service ActiveState)" = active ] && [ "$(eroute | wc -l)" = "$want" ] &&
		ip xfrm policy list dir in | grep -q "src 192.168.2.0/24 dst 192.168.1.0/24"'

	# An eroute added by hand, then saved on request.
	eroute --add --src 192.168.1.0/24 --dst 192.168.3.0/24 --said %pass
	systemctl start eroute-save.service
	check save-on-request "eroute-save: $(prop eroute-save.service Result); the file: $(grep -c '^--add' "$conf") --add lines, mode $(stat -c %a "$conf")" \
		'[ "$(prop eroute-save.service Result)" = success ] && grep -qx -- "--add --src 192.168.1.0/24 --dst 192.168.3.0/24 --said %pass" "$conf" &&
		[ "$(grep -c "^--add " "$conf")" = $((want + 1)) ] && grep -q "^--addin " "$conf" && [ ! -e "$conf.new" ]'
	table_state >"$state/table-boot1"
	cp "$state/table-boot1" "$payload/out/"

	# A monitor with a hook, enabled for the next boot.
	mkdir -p /etc/eroute/hooks
	cat >/etc/eroute/hooks/record <<'HOOK'
#!/bin/sh
echo "$EROUTE_SRC -> $EROUTE_DST by $EROUTE_TRAP_SAID" >>/var/lib/eroute-vm/hook.out
HOOK
	chmod 0755 /etc/eroute/hooks/record
	echo 'EROUTE_MONITOR_OPTIONS=--hold-timeout 5' >/etc/eroute/monitor-record.env
	check monitor-enable "systemctl enable eroute-monitor@record failed" 'systemctl enable -q eroute-monitor@record.service'
}

boot2() {
	check restored-at-boot "eroute-restore: $(prop eroute-restore.service ActiveState), $(prop eroute-restore.service Result)" \
		'[ "$(prop eroute-restore.service ActiveState)" = active ] && [ "$(prop eroute-restore.service Result)" = success ]'
	table_state >"$state/table-boot2"
	cp "$state/table-boot2" "$payload/out/"
	if cmp -s "$state/table-boot1" "$state/table-boot2"; then
		pass restored-table
	else
		fail restored-table "the table after the reboot differs: $(diff "$state/table-boot1" "$state/table-boot2" | tr '\n' ' ')"
	fi
	# Ordering: the unit was done before network-pre.target was reached, and
	# is ordered before the IKE daemons.
	local done_at net_at before
	done_at=$(prop eroute-restore.service ActiveEnterTimestampMonotonic)
	net_at=$(prop network-pre.target ActiveEnterTimestampMonotonic)
	# systemctl's Before= names only units systemd has loaded, and
	# libreswan's ipsec.service is not installed here: the daemons' names
	# are read from the unit file itself.
	before=$(systemctl cat eroute-restore.service 2>/dev/null | sed -n 's/^Before=//p' | tr '\n' ' ')
	check restore-before-network "eroute-restore active at ${done_at} us, network-pre.target at ${net_at} us; Before=$before" \
		'[ "${done_at:-0}" -gt 0 ] && [ "${net_at:-0}" -ge "$done_at" ] &&
		[[ " $before " == *" network-pre.target "* ]] && [[ " $before " == *" strongswan.service "* ]] &&
		[[ " $before " == *" strongswan-starter.service "* ]] && [[ " $before " == *" ipsec.service "* ]]'

	# A bad file: the unit fails, loudly, and the table stays as it was.
	cp "$conf" "$state/good.conf"
	echo '--add --src 10.99.0.0/16 --said %drop' >>"$conf"
	local bad_line
	bad_line=$(wc -l <"$conf")
	systemctl restart eroute-restore.service 2>/dev/null
	local rc=$? msg
	msg=$(journalctl -b -u eroute-restore.service -o cat --no-pager | grep "^eroute: --sync $conf: line $bad_line:" | tail -n 1)
	check bad-file-fails "systemctl restart: status $rc, state $(prop eroute-restore.service ActiveState); journal: ${msg:-nothing from eroute}" \
		'[ "$rc" != 0 ] && systemctl is-failed -q eroute-restore.service && [ -n "$msg" ]'
	echo "NOTE the journal says: $msg"
	table_state >"$state/table-bad"
	if cmp -s "$state/table-boot2" "$state/table-bad"; then
		pass bad-file-leaves-table
	else
		fail bad-file-leaves-table "the table changed: $(diff "$state/table-boot2" "$state/table-bad" | tr '\n' ' ')"
	fi
	cp "$state/good.conf" "$conf"
	systemctl restart eroute-restore.service
	check good-file-again "state $(prop eroute-restore.service ActiveState)" '[ "$(prop eroute-restore.service ActiveState)" = active ]'

	# The monitor started at boot answers the %trap with its hook.
	check monitor-at-boot "eroute-monitor@record: $(prop eroute-monitor@record.service ActiveState)" \
		'[ "$(prop eroute-monitor@record.service ActiveState)" = active ]'
	ip link add d0 type dummy && ip addr add 10.77.0.1/24 dev d0 && ip link set d0 up
	local i
	for i in $(seq 1 20); do
		ping -c 1 -W 1 -I 10.77.0.1 10.77.0.2 >/dev/null 2>&1
		[ -s "$state/hook.out" ] && break
	done
	check monitor-hook "hook output: $(cat "$state/hook.out" 2>/dev/null || echo none)" \
		'grep -q "^10.77.0.1 -> 10.77.0.2 by %trap" "$state/hook.out"'
	echo "NOTE this boot reached the checks $(prop eroute-vm-check.service ExecMainStartTimestampMonotonic | awk '{printf "%.0f", $1 / 1e6}') s after the kernel started; eroute-restore was done at $(awk -v t="$done_at" 'BEGIN {printf "%.1f", t / 1e6}') s"
}

echo "systemd-check: boot $boot, $(systemctl is-system-running 2>&1), eroute $(eroute --version 2>/dev/null | head -n 1)"
case $boot in
1) boot1 ;;
2) boot2 ;;
*) fail boot "boot $boot: nothing to check" ;;
esac
finish
