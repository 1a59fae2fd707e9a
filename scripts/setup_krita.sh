#!/bin/bash
# usage: bash scripts/setup_krita.sh
# Prepares this machine for the Krita tests (tests/krita/test_gui.py, marker `krita`); idempotent.
#  1. installs the Debian packages that are missing: krita xvfb xauth imagemagick
#     python3-grpcio python3-protobuf zstd (Krita's own Python 3.11 uses Debian's grpcio/protobuf)
#  2. warms a Krita profile once (a fresh one costs ~20 s of resource indexing on first start)
#     and caches it as ~/.cache/nlf/krita-profile.tar.zst (NLF_KRITA_PROFILE_CACHE overrides);
#     the tests restore it into a throwaway HOME and install the current plug-in code on top.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${NLF_KRITA_PROFILE_CACHE:-$HOME/.cache/nlf/krita-profile.tar.zst}
PKGS=(krita xvfb xauth imagemagick python3-grpcio python3-protobuf zstd)

need=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "setup_krita: installing ${need[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
dpkg-query -W -f="setup_krita: krita \${Version}\n" krita

if [ -s "$CACHE" ]; then
    echo "setup_krita: warmed profile cached at $CACHE"
    exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
H=$WORK/home
PYK=$H/.local/share/krita/pykrita
mkdir -p "$PYK" "$H/.config"
cp -r "$ROOT/tests/krita/pykrita/krita_test_driver" "$ROOT/tests/krita/pykrita/krita_test_driver.desktop" "$PYK/"
printf '[python]\nenable_krita_test_driver=true\n' > "$H/.config/kritarc"
echo "setup_krita: warming a fresh Krita profile (about 30 s)"
rc=0
HOME=$H XDG_RUNTIME_DIR=$WORK KRITA_TEST_SCRIPT=$ROOT/tests/krita/noop.py KRITA_TEST_TIMEOUT=240 \
    timeout -k 10 270 xvfb-run -a -s "-screen 0 1600x1000x24" krita --nosplash \
    > "$WORK/warm.log" 2>&1 || rc=$?
if [ $rc != 0 ]; then
    tail -30 "$WORK/warm.log"
    echo "setup_krita: warming Krita failed with status $rc" >&2
    exit 1
fi
rm -rf "$PYK/krita_test_driver" "$PYK/krita_test_driver.desktop"  # tests install their own
mkdir -p "$(dirname "$CACHE")"
tar -C "$H" -cf - . | zstd -3 -T0 -q -o "$CACHE.tmp"
mv "$CACHE.tmp" "$CACHE"
echo "setup_krita: cached the warmed profile at $CACHE ($(du -h "$CACHE" | cut -f1))"
