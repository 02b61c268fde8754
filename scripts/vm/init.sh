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

# systemd mode (the kernel's command line has eroute_vm=systemd, which the
# kernel hands to init as an environment variable): run.sh boots a writable
# copy of the image twice this way. The payload's systemd-check.sh becomes a
# service that runs once the system is up, and real systemd takes over as
# PID 1. The consoles' gettys are masked: they would wait for udev, which
# the image has not, and nobody logs in.
if [ "${eroute_vm:-}" = systemd ]; then
	echo "eroute-vm: kernel $(uname -r), $(nproc) CPUs: booting systemd"
	install -m 0755 /payload/systemd-check.sh /usr/local/sbin/eroute-vm-systemd-check
	cat >/etc/systemd/system/eroute-vm-check.service <<'UNIT'
[Unit]
Description=eroute VM: checks of the package and the systemd units
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/eroute-vm-systemd-check
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=600

[Install]
WantedBy=multi-user.target
UNIT
	mkdir -p /etc/systemd/system/multi-user.target.wants
	ln -sf /etc/systemd/system/eroute-vm-check.service /etc/systemd/system/multi-user.target.wants/
	ln -sf /dev/null /etc/systemd/system/serial-getty@ttyS0.service
	ln -sf /dev/null /etc/systemd/system/getty@tty1.service
	umount /payload
	sync
	exec /lib/systemd/systemd
fi
mkdir -p /payload/out
echo "eroute-vm: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "== eroute-vm-suite begin"
set -a
[ -f /payload/env ] && . /payload/env
set +a
# The package, when run.sh put one on the payload disk, installed as an
# admin would (apt install ./eroute_VERSION_ARCH.deb): the suite then runs
# eroute from its installed paths.
EROUTE=/payload/bin/eroute IPSEC=/payload/bin/ipsec
deb=$(ls /payload/eroute_*.deb 2>/dev/null | head -n 1)
if [ -n "$deb" ]; then
	mkdir -p /var/lib/apt/lists/partial
	cp "$deb" /tmp/
	if (cd /tmp && apt install -y -q "./$(basename "$deb")") >/payload/out/apt.log 2>&1; then
		echo "eroute-vm: installed $(basename "$deb"): eroute is /usr/sbin/eroute"
		EROUTE=/usr/sbin/eroute IPSEC=/usr/libexec/eroute/ipsec
	else
		echo "eroute-vm: apt install ./$(basename "$deb") FAILED:"
		tail -n 20 /payload/out/apt.log
		echo 1 >/payload/out/status
		echo "0 passed, 1 failed" >/payload/out/summary
		off
	fi
fi
export EROUTE IPSEC
SUITE_SUMMARY=/payload/out/summary bash /payload/suite.sh 2>&1 | tee /payload/out/console.txt
status=${PIPESTATUS[0]}
echo "$status" >/payload/out/status
echo "== eroute-vm-suite end status=$status"
off
