#!/bin/sh
# deps.sh: install what eroute's build, demo and tests need on Debian.
# Idempotent: installs only what is missing. Needs root for apt-get.
set -eu

# Debian packages: iproute2 (ip netns, ip xfrm: the independent reader),
# tcpdump (captures at the receiver), netbase (/etc/protocols, /etc/services),
# procps (sysctl), make and ca-certificates (Go module downloads), time
# (GNU time: peak RSS in make bench).
packages="iproute2 tcpdump netbase procps make ca-certificates time"
missing=""
for p in $packages; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	missing="$missing golang-go"
fi
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi

# Go modules, pinned by go.sum.
cd "$(dirname "$0")/.."
PATH="$PATH:/usr/local/go/bin" go mod download
