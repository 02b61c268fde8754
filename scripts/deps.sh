#!/bin/sh
# deps.sh: install what eroute's build, demo and tests need on Debian.
# Idempotent: installs only what is missing. Needs root for apt-get.
set -eu

# Debian packages: iproute2 (ip netns, ip xfrm: the independent reader),
# tcpdump (captures at the receiver), netbase (/etc/protocols, /etc/services),
# procps (sysctl), make and ca-certificates (Go module downloads), time
# (GNU time: peak RSS in make bench), strongswan-charon and strongswan-swanctl
# (strongSwan's IKE daemon and its control tool: the integration tests run
# eroute next to a real charon), bash-completion (the completion's tests),
# ansible-core (the Ansible example's test), lintian (make deb), gcc and
# libc6-dev (cgo, which the race detector of make race needs).
#
# strongswan-charon pulls in strongswan-starter, whose service a systemd host
# starts on install: a charon in the host's own network namespace, with the
# host's /etc/swanctl and /run/charon.vici. The tests neither use nor disturb
# it: each runs its own charons in its own namespaces, each with its own
# configuration (STRONGSWAN_CONF, SWANCTL_DIR), vici socket and a private
# /run (integration/charon_test.go). Whether that service runs is the host
# admin's business, so this script leaves it as the package left it.
packages="iproute2 tcpdump netbase procps make ca-certificates time strongswan-charon strongswan-swanctl bash-completion ansible-core lintian gcc libc6-dev"
extra=""
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
	extra="golang-go"
fi
"$(dirname "$0")/apt-install.sh" $packages $extra

# Go 1.22 or newer (the go line of go.mod). Debian 13's golang-go is; Debian
# 12's (1.19) is not, and cannot fetch a newer toolchain itself.
PATH="$PATH:/usr/local/go/bin"
version=$(go env GOVERSION | sed 's/^go//')
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)
if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 22 ]; }; then
	echo "deps.sh: Go $version is older than the Go 1.22 eroute needs; install a newer Go (on Debian 12, golang-1.22-go or newer from bookworm-backports) and put it first in PATH" >&2
	exit 1
fi

# Go modules, pinned by go.sum.
cd "$(dirname "$0")/.."
go mod download
