#!/bin/bash
# build-image.sh: build (once) the VM that `make vm-test` boots: a Debian
# bookworm root file system made here with debootstrap from the machine's own
# Debian mirror, with Debian's stock kernel (linux-image-amd64 and all its
# modules, so ESP, AH and IPCOMP are there), iproute2, tcpdump, socat and the
# VM's init (scripts/vm/init.sh). Nothing prebuilt comes from anywhere else.
#
# The result is cached in $VM_CACHE (default: .vm/ in the work tree, which git
# ignores), in a directory named after the hash of this script and of init.sh:
# editing either builds a new image, and an unchanged one is reused at once.
# The directory holds root.img (ext4, the whole root), vmlinuz, initrd.img and
# packages.txt (what was installed, with versions).
#
# Usage: build-image.sh       (as root) prints the image directory on stdout
# Environment: VM_CACHE, VM_MIRROR (a Debian mirror URL; default: the one apt
# uses here), VM_SECURITY_MIRROR, VM_DEBIAN_SUITE (the Debian release;
# default bookworm).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VM_CACHE:-$repo/.vm}
suite=${VM_DEBIAN_SUITE:-bookworm}

log() { printf 'build-image: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The Debian mirror apt uses on this machine (deb822 or one-line format).
apt_uri() { # $1: regexp the URI must match
	{ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
		awk -v re="$1" '
			$1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i ~ re) { print $i; exit } }
			$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { if ($i ~ re) { print $i; exit } break } }'
}
mirror=${VM_MIRROR:-$(apt_uri '/debian/?$')}
security=${VM_SECURITY_MIRROR:-$(apt_uri '/debian-security/?$')}
[ -n "$mirror" ] || die "no Debian mirror in the apt sources: set VM_MIRROR (and VM_SECURITY_MIRROR)"
[ -n "$security" ] || security=$(printf '%s' "$mirror" | sed 's,/debian/*$,/debian-security,')

# Packages of the VM. linux-image-amd64 is Debian's stock kernel; initramfs-tools
# makes the initrd that finds the virtio root disk; the rest is what suite.sh
# runs (bash, ip, tcpdump, socat, ping, sysctl, modprobe; charon and swanctl
# for suite.d/charon.sh), and systemd (systemd-sysv) for run.sh's systemd
# mode. One a line, so that changes merge.
vm_pkgs=(
	iproute2
	tcpdump
	socat
	iputils-ping
	kmod
	netbase
	procps
	strongswan-charon
	strongswan-swanctl
	systemd-sysv
)
base_pkgs=$(IFS=,; echo "${vm_pkgs[*]}")
kernel_pkgs="linux-image-amd64 initramfs-tools"

key=$(cat "$here/build-image.sh" "$here/init.sh" | sha256sum | cut -c1-16)
out=$cache/image-$key
if [ -f "$out/done" ]; then
	log "cached image $out"
	echo "$out"
	exit 0
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot) to build the image; run as root or reuse a cached one"
for t in debootstrap mkfs.ext4 chroot; do
	command -v "$t" >/dev/null || die "$t missing: run scripts/deps-vm.sh"
done

mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
if [ -f "$out/done" ]; then # another build finished meanwhile
	echo "$out"
	exit 0
fi

work=$cache/build-$key
root=$work/root
# A build killed half-way may have left proc or sysfs mounted in its root.
while read -r _ m _; do
	case $m in "$work"/*) umount "$m" 2>/dev/null || umount -l "$m" || die "cannot unmount $m" ;; esac
done < <(tac /proc/mounts)
rm -rf "$work"
mkdir -p "$root"
buildlog=$work/build.log
mounted=()
cleanup() {
	local m
	for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	mounted=()
}
fail() {
	cleanup
	log "FAILED; the last lines of $buildlog:"
	tail -n 40 "$buildlog" >&2 || true
	exit 1
}
trap fail ERR
trap cleanup EXIT

start=$(date +%s)
log "debootstrap --variant=minbase $suite from $mirror (log: $buildlog)"
debootstrap --variant=minbase --components=main --include="$base_pkgs" \
	"$suite" "$root" "$mirror" >>"$buildlog" 2>&1

# The kernel comes with the suite's updates and security fixes, as on an
# installed Debian machine.
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
SOURCES
echo 'eroute-vm' >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

for fs in proc sys; do
	mount -t "${fs/sys/sysfs}" "$fs" "$root/$fs"
	mounted=("$root/$fs" "${mounted[@]}")
done
log "installing $kernel_pkgs"
chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $kernel_pkgs && apt-get clean" \
	>>"$buildlog" 2>&1
chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' >"$work/packages.txt"
cleanup
for fs in proc sys; do
	! mountpoint -q "$root/$fs" || die "$root/$fs is still mounted"
done

# The VM's init, and no leftovers.
install -m 0755 "$here/init.sh" "$root/sbin/eroute-vm-init"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb

vmlinuz=$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$root"/boot/initrd.img-* | sort -V | tail -n 1)
[ -f "$vmlinuz" ] && [ -f "$initrd" ] || die "no kernel or initrd in $root/boot"
cp "$vmlinuz" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$work/kernel-release"

# ext4 image from the directory, no loop mount needed (mkfs.ext4 -d), sparse.
used=$(du -sm "$root" | cut -f1)
size=$((used + used / 4 + 256))
log "root file system: ${used} MiB used, image ${size} MiB (sparse)"
mkfs.ext4 -q -F -L eroute-root -E root_owner=0:0 -d "$root" "$work/root.img" "${size}M" >>"$buildlog" 2>&1
rm -rf "$root"

rm -rf "$out"
mv "$work" "$out"
touch "$out/done"
# Images of earlier versions of these scripts are of no more use.
for old in "$cache"/image-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
log "image built in $(($(date +%s) - start)) s: $out (kernel $(cat "$out/kernel-release"))"
echo "$out"
