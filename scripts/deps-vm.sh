#!/bin/sh
# deps-vm.sh: install what `make vm-test` needs on the host, on Debian.
# Idempotent: installs only what is missing. Needs root for apt-get.
set -eu

# qemu-system-x86 (qemu-system-x86_64, with its firmware), debootstrap and
# the keys and gpgv it verifies the archive with, e2fsprogs (mkfs.ext4 -d
# builds the disks without a loop mount; debugfs reads the result back),
# util-linux (flock, mountpoint), ca-certificates (for an https mirror).
packages="qemu-system-x86 debootstrap debian-archive-keyring gpgv e2fsprogs util-linux ca-certificates"
"$(dirname "$0")/apt-install.sh" $packages
