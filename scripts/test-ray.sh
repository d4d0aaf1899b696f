#!/usr/bin/env bash
# The Python package as a new user installs it, and the Ray cluster tests:
#  1. a fresh clone of this checkout's HEAD installs into a clean venv with
#     `pip install .` and then `pip install '.[ray]'`, and both import;
#  2. scripts/ray-venv.sh's venv (Debian's python3 + system site-packages +
#     ray) runs bindings/python/tests/test_distributed.py on a real two-node
#     local Ray cluster (the tests start and stop it).
# Needs the C library built (build/lib/liblftf.so, build/bin/lftf).
#   LFTF_SKIP_FRESH_INSTALL=1  skip step 1 (no package index reachable)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export LFTF_LIBRARY="$here/build/lib/liblftf.so"
work=$(mktemp -d /tmp/lftf-install.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "${LFTF_SKIP_FRESH_INSTALL:-0}" != 1 ]; then
  echo "== pip install . from a fresh clone, in a clean venv"
  git clone --quiet "$here" "$work/clone"
  /usr/bin/python3 -m venv "$work/venv"
  pip=("$work/venv/bin/python" -m pip --disable-pip-version-check)
  (cd "$work/clone" && "${pip[@]}" install --quiet .)
  (cd "$work" && "$work/venv/bin/python" -c 'import lftf; print("import lftf", lftf.__version__, "from", lftf.__file__)')
  echo "== pip install '.[ray]'"
  (cd "$work/clone" && "${pip[@]}" install --quiet '.[ray]')
  (cd "$work" && "$work/venv/bin/python" -c 'import ray, lftf.distributed; print("import lftf.distributed with ray", ray.__version__)')
  "$work/venv/bin/lftf-ray" --help | head -1
fi

echo "== Ray cluster tests"
python=$(bash scripts/ray-venv.sh)
PYTHONPATH="$here/bindings/python" "$python" -m pytest -q -rs -p no:cacheprovider \
  bindings/python/tests/test_distributed.py
