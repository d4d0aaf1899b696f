#!/usr/bin/env bash
# Creates (or reuses) a Python venv with Ray for the distributed tests and
# lftf-ray: Debian's /usr/bin/python3 with its system site-packages (cffi,
# numpy, pytest from apt) plus `pip install ray`.  Prints the venv's python.
#   LFTF_RAY_VENV=DIR   where the venv lives (default ~/.cache/lftf/ray-venv)
#   LFTF_RAY_VERSION=V  the ray release (default below: it has cp311
#                       manylinux wheels, so nothing is compiled)
set -euo pipefail
venv=${LFTF_RAY_VENV:-$HOME/.cache/lftf/ray-venv}
version=${LFTF_RAY_VERSION:-2.60.0}
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
fi
if ! "$venv/bin/python" -c "import ray, sys; sys.exit(ray.__version__ != '$version')" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ray==$version" >&2
fi
echo "$venv/bin/python"
