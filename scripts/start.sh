#!/bin/bash
# The main job (the README's first command): set up the backend on the offline default weights,
# install both plug-ins, and serve on 127.0.0.1:50051.
#   bash scripts/start.sh [serve options, e.g. --port 50052 --device cuda]
set -eu
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
set -eu
python -m backend weights fetch vgg16-hed
python -m backend weights fetch mtcnn
python -m backend install-plugin krita
if [ -n "${NLF_GIMP_PROFILE:-}" ] || command -v gimp-3.0 >/dev/null 2>&1 || command -v gimp-console-3.0 >/dev/null 2>&1; then
    python -m backend install-plugin gimp ${NLF_GIMP_PROFILE:+--profile "$NLF_GIMP_PROFILE"}
else
    echo "start: GIMP 3 not found here; install its plug-in later with: python -m backend install-plugin gimp [--profile DIR]" >&2
fi
python -m backend weights list
exec python -m backend serve "$@"
