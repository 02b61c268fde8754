#!/bin/bash
# run.sh: `make vm-test`. Boots Debian's stock kernel (with ESP, AH and IPCOMP)
# under qemu-system-x86_64 on the image build-image.sh makes (cached), with a
# second small disk carrying bin/eroute and suite.sh; the VM runs the suite as
# its init's payload and powers off. Prints the VM's console and a last line
# `vm-test: N passed, M failed`, and exits with the suite's status.
#
# Environment:
#   VM_ACCEL        auto (default: KVM when /dev/kvm is usable, else TCG), kvm, tcg
#   VM_CACHE        where images are cached (default .vm/ in the work tree)
#   VM_TIMEOUT      seconds before the VM is killed (default 600 with KVM, 1800 with TCG)
#   VM_BOOT_TIMEOUT seconds a KVM boot has to reach the VM's init (default 90)
#   VM_MEM, VM_SMP  memory (MiB, default 1024) and CPUs (default 2) of the VM
#   VM_SUITE_ONLY   run only the checks whose names match this extended regexp
#   VM_SUITE_MUTATE=pass  write every SA eroute as %pass instead: the checks of
#                   the wire must then FAIL (a test of the suite itself);
#                   =norestore: suite.d/charon.sh stops its monitor before
#                   charon leaves, and its last check must then FAIL
#   EROUTE          the binary to test (default bin/eroute; must be static)
#   IPSEC           the ipsec wrapper the VM gets as well (default bin/ipsec, if built)
#   VM_SUITE        the script the VM runs (default scripts/vm/suite.sh); the
#                   files of scripts/vm/suite.d/ go with it. (The Debian
#                   release of the image is build-image.sh's VM_DEBIAN_SUITE.)
#   VM_DEB          the package the VM installs with apt and runs the suite
#                   from (default: eroute_*.deb of the work tree, which `make
#                   vm-test` builds, when it is newer than bin/eroute and
#                   EROUTE is not set; "none": bin/eroute only)
#   VM_SYSTEMD      yes (default) or no: after the suite, the systemd mode
#                   boots real systemd twice on a writable copy of the image
#                   and runs scripts/vm/systemd-check.sh there (the package,
#                   eroute-restore at boot, eroute-save, eroute-monitor@);
#                   its checks count in the summary. Skipped when
#                   VM_SUITE_ONLY does not match "systemd".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
eroute=${EROUTE:-$repo/bin/eroute}
ipsec=${IPSEC:-$repo/bin/ipsec}
qemu=${QEMU:-qemu-system-x86_64}

say() { printf 'vm-test: %s\n' "$*" >&2; }
die() { say "$*"; echo "vm-test: 0 passed, 1 failed"; exit 1; }

[ -x "$eroute" ] || die "$eroute missing: run make build"
if file "$eroute" 2>/dev/null | grep -q 'dynamically linked'; then
	die "$eroute is dynamically linked; the VM needs a static binary (CGO_ENABLED=0)"
fi
command -v "$qemu" >/dev/null || die "$qemu missing: run scripts/deps-vm.sh"
command -v debugfs >/dev/null || die "debugfs missing (e2fsprogs): run scripts/deps-vm.sh"

# KVM when it is there and usable, else TCG (software emulation). Some hosts
# offer a /dev/kvm that cannot run a stock kernel: PVM (the kvm_pvm module,
# used by sandboxes) runs only guests built for it, and a stock kernel hangs
# in its first instructions there: auto mode does not try such a KVM. And a
# KVM boot that has not reached the VM's init within VM_BOOT_TIMEOUT seconds
# (default 90) is abandoned: for TCG in auto mode, as a failure with
# VM_ACCEL=kvm.
kvm_usable() { # kvm_usable auto|kvm
	[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || { kvm_why="no usable /dev/kvm"; return 1; }
	if [ "$1" = auto ] && [ -d /sys/module/kvm_pvm ] && [ ! -d /sys/module/kvm_intel ] && [ ! -d /sys/module/kvm_amd ]; then
		kvm_why="/dev/kvm is PVM (kvm_pvm), which cannot run a stock kernel"
		return 1
	fi
	echo quit | timeout 20 "$qemu" -machine none -accel kvm -nodefaults -display none \
		-monitor stdio >/dev/null 2>&1 || { kvm_why="qemu cannot open KVM"; return 1; }
}
kvm_why=""
accel=${VM_ACCEL:-auto}
fallback=no
case $accel in
auto) if kvm_usable auto; then accel=kvm fallback=yes; else say "TCG: $kvm_why"; accel=tcg; fi ;;
kvm) kvm_usable kvm || die "VM_ACCEL=kvm but $kvm_why" ;;
tcg) ;;
*) die "VM_ACCEL must be auto, kvm or tcg, not $accel" ;;
esac

start=$(date +%s)
image=$("$here/build-image.sh" | tail -n 1) || die "building the image failed"
[ -f "$image/done" ] || die "no image"
built=$(date +%s)

# The payload disk: the binary under test, the suite, the suite's settings; the
# VM writes out/status, out/summary and out/console.txt back to it.
run=$(mktemp -d "${TMPDIR:-/tmp}/eroute-vm.XXXXXX")
qpid=""
trap '[ -z "$qpid" ] || kill "$qpid" 2>/dev/null; rm -rf "$run"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$run/payload/bin" "$run/payload/out"
cp "$eroute" "$run/payload/bin/eroute"
[ ! -x "$ipsec" ] || cp "$ipsec" "$run/payload/bin/ipsec"
# The xfrm package's tests that need ESP (suite.d/xfrmlib.sh), when built.
xfrmtest=${XFRM_TEST:-$repo/bin/xfrm.test}
[ ! -x "$xfrmtest" ] || cp "$xfrmtest" "$run/payload/bin/xfrm.test"
cp "${VM_SUITE:-$here/suite.sh}" "$run/payload/suite.sh"
# The package: the suite runs eroute from where apt installed it.
deb=${VM_DEB:-}
if [ -z "$deb" ] && [ -z "${EROUTE:-}" ]; then
	deb=$(ls -t "$repo"/eroute_*.deb 2>/dev/null | head -n 1 || true)
	if [ -n "$deb" ] && [ "$deb" -ot "$eroute" ]; then
		say "$deb is older than $eroute: not used (make vm-test builds a new one)"
		deb=""
	fi
fi
[ "$deb" != none ] || deb=""
if [ -n "$deb" ]; then
	[ -f "$deb" ] || die "VM_DEB=$deb: no such file"
	cp "$deb" "$run/payload/"
	say "the VM installs $(basename "$deb")"
fi
mkdir -p "$run/payload/suite.d"
cp "$here"/suite.d/*.sh "$run/payload/suite.d/" 2>/dev/null || true
{
	printf 'VM_SUITE_ONLY=%q\n' "${VM_SUITE_ONLY:-}"
	printf 'VM_SUITE_MUTATE=%q\n' "${VM_SUITE_MUTATE:-}"
} >"$run/payload/env"
mkfs.ext4 -q -F -L eroute-payload -E root_owner=0:0 -d "$run/payload" "$run/payload.img" 64M >/dev/null

# boot ACCEL: runs the VM, its console shown as it comes; returns qemu's
# status, 124 on timeout, 125 when a KVM boot never reached init. The root
# disk, the payload disk and what the kernel's command line gets besides
# are root_drive, payload_img and append_extra.
root_drive="file=$image/root.img,format=raw,if=virtio,snapshot=on"
# With the systemd mode to come, the suite's boot runs on a writable copy of
# the image instead: the package apt installs there is on the disk the
# systemd boots then start from (as on a machine: install, then reboot).
systemd_wanted=no
if [ "${VM_SYSTEMD:-yes}" = yes ] && { [ -z "${VM_SUITE_ONLY:-}" ] || echo systemd | grep -Eq -- "$VM_SUITE_ONLY"; }; then
	systemd_wanted=yes
	cp --sparse=always "$image/root.img" "$run/root.img"
	root_drive="file=$run/root.img,format=raw,if=virtio"
fi
payload_img=$run/payload.img
append_extra=""
boot() {
	local accel=$1 timeout boot_timeout=0 args log=$run/console.log tpid t=0 rc=0
	if [ "$accel" = kvm ]; then
		args=(-accel kvm -cpu host)
		timeout=${VM_TIMEOUT:-600}
		boot_timeout=${VM_BOOT_TIMEOUT:-90}
	else
		args=(-accel tcg -cpu max)
		timeout=${VM_TIMEOUT:-1800}
	fi
	say "booting $(cat "$image/kernel-release") with $accel (timeout ${timeout}s)"
	: >"$log"
	# The root disk is opened with snapshot=on: the VM's writes go to a
	# temporary overlay and the cached image stays as it was built.
	"$qemu" "${args[@]}" -m "${VM_MEM:-1024}" -smp "${VM_SMP:-2}" \
		-nodefaults -no-reboot -display none -monitor none -serial "file:$log" \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
		-append "root=/dev/vda rw rootfstype=ext4 console=ttyS0 quiet loglevel=3 panic=-1 init=/sbin/eroute-vm-init$append_extra" \
		-drive "$root_drive" \
		-drive "file=$payload_img,format=raw,if=virtio" \
		</dev/null &
	qpid=$!
	tail -n +1 -f --pid="$qpid" "$log" &
	tpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$t" -ge "$timeout" ]; then
			say "timed out after ${timeout}s"
			rc=124
			break
		fi
		if [ "$boot_timeout" -gt 0 ] && [ "$t" -ge "$boot_timeout" ]; then
			if ! grep -q '^eroute-vm: kernel' "$log"; then
				say "KVM: the kernel did not reach init in ${boot_timeout}s"
				rc=125
				break
			fi
			boot_timeout=0
		fi
		sleep 1
		t=$((t + 1))
	done
	if [ "$rc" != 0 ]; then
		kill "$qpid" 2>/dev/null || true
		sleep 2
		kill -9 "$qpid" 2>/dev/null || true
	fi
	local w=0
	wait "$qpid" 2>/dev/null || w=$?
	[ "$rc" != 0 ] || rc=$w
	wait "$tpid" 2>/dev/null || true
	qpid=""
	return "$rc"
}

status=0
boot "$accel" || status=$?
if [ "$status" = 125 ] && [ "$fallback" = yes ]; then
	say "falling back to TCG"
	accel=tcg
	mkfs.ext4 -q -F -L eroute-payload -E root_owner=0:0 -d "$run/payload" "$run/payload.img" 64M >/dev/null
	status=0
	boot tcg || status=$?
fi
end=$(date +%s)
[ "$status" = 0 ] || say "qemu exited with status $status"

out() { debugfs -R "cat /out/$1" "${2:-$run/payload.img}" 2>/dev/null; }
vmstatus=$(out status | tr -d '[:space:]')
summary=$(out summary | tail -n 1)
say "image $((built - start)) s, VM $((end - built)) s, total $((end - start)) s ($accel)"
if [ -z "$vmstatus" ]; then
	say "the suite did not finish (no status on the payload disk)"
	summary=$(echo "${summary:-0 passed, 1 failed}" | sed 's/, 0 failed$/, 1 failed/')
	vmstatus=1
fi
summary=${summary:-0 passed, 1 failed}

# ---- the systemd mode ------------------------------------------------------
# Real systemd, booted twice from the writable copy of the image the suite
# ran on, where apt installed the package (a reboot is another qemu run on
# the same disk: the VM cannot reboot itself and report, as qemu runs with
# -no-reboot, and the suite's boot has no systemd as PID 1). init.sh sees
# eroute_vm=systemd on the kernel's command line, installs systemd-check.sh
# as a service and hands over to systemd; the service writes its counts to
# the payload disk and powers off.
systemd_mode() {
	local boots=2 b rc n p f
	local sys=$run/systemd
	mkdir -p "$sys/payload/out"
	cp "$here/systemd-check.sh" "$sys/payload/"
	if [ -z "$deb" ]; then
		say "systemd mode: no package (make vm-test builds eroute_*.deb)"
		sys_summary="0 passed, 1 failed"
		return
	fi
	mkfs.ext4 -q -F -L eroute-payload -E root_owner=0:0 -d "$sys/payload" "$sys/payload.img" 64M >/dev/null
	payload_img=$sys/payload.img
	append_extra=" eroute_vm=systemd"
	local t0
	t0=$(date +%s)
	for b in $(seq 1 "$boots"); do
		say "systemd mode: boot $b of $boots"
		rc=0
		VM_TIMEOUT=${VM_SYSTEMD_TIMEOUT:-600} boot "$accel" || rc=$?
		[ "$rc" = 0 ] || say "systemd mode: qemu exited with status $rc on boot $b"
	done
	say "systemd mode: $(($(date +%s) - t0)) s for $boots boots ($accel)"
	p=0 f=0
	for b in $(seq 1 "$boots"); do
		n=$(out "systemd-summary-$b" "$sys/payload.img" | tail -n 1)
		if [ -z "$n" ]; then
			say "systemd mode: boot $b did not finish its checks"
			f=$((f + 1))
			continue
		fi
		p=$((p + $(echo "$n" | sed -n 's/^\([0-9]*\) passed.*/\1/p')))
		f=$((f + $(echo "$n" | sed -n 's/.*, \([0-9]*\) failed$/\1/p')))
	done
	sys_summary="$p passed, $f failed"
}
sys_summary=""
if [ "$systemd_wanted" = yes ]; then
	systemd_mode
	say "systemd mode: $sys_summary"
	if ! echo "$sys_summary" | grep -q ', 0 failed$'; then vmstatus=1; fi
	summary="$(($(echo "$summary" | sed -n 's/^\([0-9]*\) passed.*/\1/p') + $(echo "$sys_summary" | sed -n 's/^\([0-9]*\) passed.*/\1/p'))) passed, $(($(echo "$summary" | sed -n 's/.*, \([0-9]*\) failed$/\1/p') + $(echo "$sys_summary" | sed -n 's/.*, \([0-9]*\) failed$/\1/p'))) failed"
fi
echo "vm-test: $summary"
exit "$vmstatus"
