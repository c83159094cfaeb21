#!/bin/sh
# The runner benchmark's anchor: a lean virtual environment with only `jupyter nbconvert` and
# ipykernel, installed the way their users install them. An anchor run from a crowded
# environment (the project's own .tools/py) starts about 2x slower and flatters what is compared
# with it (measured: nbconvert on 50 trivial cells 4.26 s there, 2.05 s lean).
#   bench/anchors/nbconvert-venv.sh VENV     then VENV/bin/jupyter-nbconvert
# The kernel also gets what the benchmark's notebooks import (matplotlib), as a user's would;
# nothing imports it at start, so the other cases stay lean.
# Uses pip's configured index (PIP_INDEX_URL / pip.conf); no retries against an unreachable one.
set -eu
VENV=${1:?usage: nbconvert-venv.sh VENV}
export PIP_RETRIES=0 PIP_DEFAULT_TIMEOUT=5 PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$VENV/bin/jupyter-nbconvert" ] && "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null && exit 0
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q nbconvert ipykernel matplotlib
"$VENV/bin/python" -m ipykernel install --sys-prefix >/dev/null
"$VENV/bin/jupyter-nbconvert" --version
