#!/bin/bash
# usage: bash scripts/setup_chroot.sh sid|krita6
# Idempotent: makes sure a Debian rootfs for the newer editors exists and prints its path as the
# last line (as scripts/setup_gimp.sh does for the trixie GIMP 3.0 one):
#   sid     Krita 5.3 (Qt5, PyQt5) + GIMP 3.2, Debian sid        ~/.cache/nlf/sid-rootfs
#   krita6  Krita 6.0 (Qt6, PyQt6), Debian experimental on sid   ~/.cache/nlf/krita6-rootfs
# Both carry Xvfb and Debian's python3-grpcio/python3-protobuf for the editors' own Python.
# Restores from ~/.cache/nlf/NAME-rootfs.tar.zst when present (seconds); otherwise builds with
# mmdebstrap from the mirror this machine's apt uses (scripts/debian_mirror.sh), 2-4 min each, and
# saves that cache. Needs root. Recipe: ../shared/docs/editor-testing.md ("Krita 5.3 and Krita 6.0
# in a chroot", "GIMP 3.2").
set -eu
NAME=${1:?usage: setup_chroot.sh sid|krita6}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE_DIR=${NLF_CACHE_DIR:-$HOME/.cache/nlf}
R=$CACHE_DIR/$NAME-rootfs
CACHE=$CACHE_DIR/$NAME-rootfs.tar.zst
export DEBIAN_FRONTEND=noninteractive

case "$NAME" in
    sid)
        PKGS=krita,python3-pyqt5,gimp,python3-gi,xvfb,xauth,python3-grpcio,python3-protobuf
        SUITES=(sid)
        CHECK=(usr/bin/krita usr/bin/gimp-console-3.2)
        ;;
    krita6)
        # experimental has apt priority 1: name Krita's packages with /experimental;
        # experimental's own python3-grpcio 1.83 is broken (absl symbol), sid's 1.51 works.
        PKGS=krita/experimental,krita-data/experimental,qt6-svg-plugins,python3-pyqt6
        PKGS=$PKGS,xvfb,xauth,python3-grpcio,python3-protobuf
        SUITES=(sid experimental)
        CHECK=(usr/bin/krita)
        ;;
    *)
        echo "setup_chroot: unknown chroot '$NAME' (sid or krita6)" >&2
        exit 2
        ;;
esac

need=()
for p in mmdebstrap zstd; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    apt_get() { apt-get -o DPkg::Lock::Timeout=900 "$@"; }
    apt_get install -y -q "${need[@]}" || { apt_get update -q && apt_get install -y -q "${need[@]}"; }
fi
mkdir -p "$CACHE_DIR"

complete() { for f in "${CHECK[@]}"; do [ -x "$R/$f" ] || return 1; done; }
if ! complete; then
    rm -rf "$R.partial"
    if [ -f "$CACHE" ]; then
        echo "setup_chroot: restoring $R from $CACHE" >&2
        mkdir -p "$R.partial"
        zstd -dcq "$CACHE" | tar --numeric-owner -C "$R.partial" -xf -
    else
        MIRROR=$(bash "$HERE/debian_mirror.sh")
        sources=()
        for s in "${SUITES[@]}"; do sources+=("deb $MIRROR $s main"); done
        echo "setup_chroot: building $R with mmdebstrap (${SUITES[*]}) from $MIRROR" >&2
        mmdebstrap --variant=apt --mode=root -q \
            --aptopt='Acquire::Check-Valid-Until "false"' \
            --aptopt='APT::Install-Recommends "false"' \
            --include="$PKGS" \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/help/*' \
            sid "$R.partial" "${sources[@]}"
        # GTK's SVG icons go through glycin loaders in a bwrap sandbox, which wants a machine-id.
        [ -s "$R.partial/etc/machine-id" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' \
            > "$R.partial/etc/machine-id"
        tar --numeric-owner -C "$R.partial" -cf - . | zstd -3 -T0 -q -f -o "$CACHE.tmp"
        mv -f "$CACHE.tmp" "$CACHE"
    fi
    rm -rf "$R"
    mv "$R.partial" "$R"
fi
echo "$R"
