#!/bin/bash
# usage: source scripts/bootstrap.sh
# Makes sure the backend's virtual environment exists and is current, then activates it.
# $NLF_VENV (default ~/.cache/nlf/venv) lives outside the clone so fresh clones reuse it;
# `pip install -e .[dev]` is a no-op when nothing changed. torch 2.14.1 / torchvision 0.29.1
# come from this machine's local package cache (see pyproject.toml).
set -eu
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NLF_VENV=${NLF_VENV:-$HOME/.cache/nlf/venv}
PY=${NLF_PYTHON:-python3}
if [ ! -x "$NLF_VENV/bin/python" ]; then
    echo "bootstrap: creating $NLF_VENV" >&2
    mkdir -p "$(dirname "$NLF_VENV")"
    "$PY" -m venv "$NLF_VENV"
    "$NLF_VENV/bin/python" -m pip install -q --upgrade pip
fi
stamp="$NLF_VENV/.nlf-installed"
want=$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)":$ROOT"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "bootstrap: installing the project into $NLF_VENV (first time: a few minutes)" >&2
    "$NLF_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]" 2> >(grep -v "^WARNING: Location" >&2)
    echo "$want" > "$stamp"
fi
export PATH="$NLF_VENV/bin:$PATH"
set +eu
