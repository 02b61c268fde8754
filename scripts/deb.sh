#!/bin/bash
# deb.sh: build eroute_VERSION_ARCH.deb from bin/ (make build) with dpkg-deb,
# without debhelper and without the network, then check it with lintian
# (when installed): an error fails the build; warnings are printed.
#
# Usage: scripts/deb.sh [OUTDIR]   (default: the work tree; VERSION from the
# environment, as the Makefile passes it; ARCH from dpkg)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo}
version=${VERSION:-1.0.0}
arch=${ARCH:-$(dpkg --print-architecture)}
deb=$out/eroute_${version}_${arch}.deb

say() { printf 'deb: %s\n' "$*" >&2; }
for f in bin/eroute bin/ipsec; do
	[ -x "$repo/$f" ] || { say "$f missing: run make build"; exit 1; }
done

root=$(mktemp -d "${TMPDIR:-/tmp}/eroute-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
pkg=$root/pkg
doc=$pkg/usr/share/doc/eroute

# The files, as make install places them (SBINDIR /usr/sbin, the ipsec
# front end off PATH), with the ownership and modes Debian wants.
# (Units in /lib/systemd/system: Debian 12's place for them.)
make -s -C "$repo" install DESTDIR="$pkg" PREFIX=/usr BINDIR=/usr/sbin \
	UNITDIR=/lib/systemd/system VERSION="$version" >/dev/null
install -d -m 0755 "$pkg/usr/libexec/eroute"
mv "$pkg/usr/sbin/ipsec" "$pkg/usr/libexec/eroute/ipsec"
gzip -9n "$pkg"/usr/share/man/man8/eroute.8
for page in "$pkg"/usr/share/man/man8/*.8; do
	[ -L "$page" ] || { [ -e "$page" ] && gzip -9n "$page"; }
done
for link in "$pkg"/usr/share/man/man8/*.8; do
	[ -L "$link" ] || continue
	target=$(readlink "$link")
	rm "$link"
	ln -s "$target.gz" "$link.gz"
done
install -D -m 0644 "$repo/packaging/debian/lintian-overrides" "$pkg/usr/share/lintian/overrides/eroute"
install -d -m 0755 "$doc/examples"
install -m 0644 "$repo/README.md" "$doc/README.md"
gzip -9n "$doc/README.md"
install -m 0644 "$repo/packaging/debian/copyright" "$doc/copyright"
gzip -9nc "$repo/packaging/debian/changelog" >"$doc/changelog.gz"
cp -r "$repo/docs/examples/." "$doc/examples/" 2>/dev/null || true
find "$doc/examples" -type f -exec chmod 0644 {} + 2>/dev/null || true
find "$doc/examples" -type d -exec chmod 0755 {} + 2>/dev/null || true

# Control files: the size in KiB, md5sums of every file, the maintainer
# scripts.
install -d -m 0755 "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$repo/packaging/debian/control.in" >"$pkg/DEBIAN/control"
install -m 0755 "$repo/packaging/debian/postinst" "$repo/packaging/debian/postrm" "$pkg/DEBIAN/"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/md5sums" "$pkg/DEBIAN/control"

# Reproducible: every time stamp is the changelog's.
epoch=$(date -d "$(sed -n 's/^ -- .*>  //p' "$repo/packaging/debian/changelog" | head -n 1)" +%s)
find "$pkg" -exec touch -h -d "@$epoch" {} +
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
say "built $deb ($(du -k "$deb" | cut -f1) KiB)"

if command -v lintian >/dev/null; then
	report=$(lintian --tag-display-limit 0 "$deb" 2>&1 || true)
	[ -z "$report" ] || printf '%s\n' "$report" >&2
	if printf '%s\n' "$report" | grep -q '^E: '; then
		say "lintian found errors"
		rm -f "$deb"
		exit 1
	fi
	say "lintian: no errors ($(printf '%s\n' "$report" | grep -c '^W: ' || true) warnings)"
else
	say "lintian not installed (scripts/deps.sh installs it): not checked"
fi
echo "$deb"
