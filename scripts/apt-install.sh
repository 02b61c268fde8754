#!/bin/sh
# apt-install.sh PACKAGE...: install the Debian packages that are missing,
# and only those (apt-get update runs only when something is missing).
set -eu
missing=""
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "apt-install.sh: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
