#!/bin/bash
# init.sh: PID 1 of the test VM (installed as /sbin/eroute-vm-init by
# build-image.sh; the kernel runs it with init=). It mounts the payload disk
# that run.sh made (/dev/vdb: bin/eroute, suite.sh, env), runs the suite,
# writes its exit status and summary back to that disk, and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

mnt() { mountpoint -q "$2" || mount -t "$1" "$1" "$2"; }
mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mnt devpts /dev/pts
mnt tmpfs /run
mnt tmpfs /tmp
dmesg -n 1 2>/dev/null # kernel messages on the console would interleave with the suite's
hostname eroute-vm
ip link set lo up

off() {
	sync
	umount /payload 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 30
	exit 1 # PID 1 exiting panics; with panic=-1 and qemu -no-reboot the VM stops
}

mkdir -p /payload
if ! mount -t ext4 /dev/vdb /payload; then
	echo "eroute-vm: cannot mount the payload disk /dev/vdb"
	off
fi
mkdir -p /payload/out
echo "eroute-vm: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "== eroute-vm-suite begin"
set -a
[ -f /payload/env ] && . /payload/env
set +a
EROUTE=/payload/bin/eroute IPSEC=/payload/bin/ipsec SUITE_SUMMARY=/payload/out/summary \
	bash /payload/suite.sh 2>&1 | tee /payload/out/console.txt
status=${PIPESTATUS[0]}
echo "$status" >/payload/out/status
echo "== eroute-vm-suite end status=$status"
off
