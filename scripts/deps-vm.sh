#!/bin/sh
# deps-vm.sh: install what `make vm-test` needs on the host, on Debian.
# Idempotent: installs only what is missing. Needs root for apt-get.
set -eu

# qemu-system-x86 (qemu-system-x86_64, with its firmware), debootstrap and
# the keys and gpgv it verifies the archive with, e2fsprogs (mkfs.ext4 -d
# builds the disks without a loop mount; debugfs reads the result back),
# util-linux (flock, mountpoint), ca-certificates (for an https mirror).
packages="qemu-system-x86 debootstrap debian-archive-keyring gpgv e2fsprogs util-linux ca-certificates"
missing=""
for p in $packages; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps-vm.sh: missing Debian packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
