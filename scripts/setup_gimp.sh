#!/bin/bash
# usage: bash scripts/setup_gimp.sh
# Idempotent: makes sure a Debian 13 (trixie) rootfs with GIMP 3.0 + python3-gi + python3-grpcio +
# python3-protobuf exists at $NLF_GIMP_ROOTFS (default ~/.cache/nlf/gimp-rootfs) and prints its path
# as the last line. Restores from ~/.cache/nlf/gimp-rootfs.tar.zst when present (~3 s); otherwise
# builds it with mmdebstrap (2-4 min, ~155 MB download) and saves that cache.
# Needs root (mmdebstrap --mode=root, chroot). See docs/gimp.md and editor-testing.md section 2.
set -eu
CACHE_DIR=${NLF_CACHE_DIR:-$HOME/.cache/nlf}
R=${NLF_GIMP_ROOTFS:-$CACHE_DIR/gimp-rootfs}
CACHE=${NLF_GIMP_ROOTFS_CACHE:-$CACHE_DIR/gimp-rootfs.tar.zst}
export DEBIAN_FRONTEND=noninteractive

need=()
for p in mmdebstrap zstd; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    # Other jobs may hold the dpkg lock: wait for it rather than fail.
    apt_get() { apt-get -o DPkg::Lock::Timeout=900 "$@"; }
    apt_get install -y -q "${need[@]}" || { apt_get update -q && apt_get install -y -q "${need[@]}"; }
fi
mkdir -p "$CACHE_DIR"

if [ ! -x "$R/usr/bin/gimp-console-3.0" ]; then
    rm -rf "$R.partial"
    if [ -f "$CACHE" ]; then
        echo "setup_gimp: restoring $R from $CACHE" >&2
        mkdir -p "$R.partial"
        zstd -dcq "$CACHE" | tar --numeric-owner -C "$R.partial" -xf -
    else
        MIRROR=$(bash "$(dirname "$0")/debian_mirror.sh")  # the host's own apt mirror
        echo "setup_gimp: building $R with mmdebstrap (trixie) from $MIRROR" >&2
        mmdebstrap --variant=apt --mode=root -q \
            --include=gimp,python3-gi,python3-grpcio,python3-protobuf \
            --aptopt='APT::Install-Recommends "false"' \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-include=/usr/share/locale/locale.alias' \
            --dpkgopt='path-exclude=/usr/share/help/*' \
            trixie "$R.partial" "$MIRROR"
        tar --numeric-owner -C "$R.partial" -cf - . | zstd -3 -T0 -q -f -o "$CACHE.tmp"
        mv -f "$CACHE.tmp" "$CACHE"
    fi
    rm -rf "$R"
    mv "$R.partial" "$R"
fi
# A tiny smoke check: the binary must start in the chroot.
timeout -k 5 60 chroot "$R" gimp-console-3.0 --version >&2
echo "$R"
