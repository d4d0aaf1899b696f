#!/usr/bin/env bash
# A small virtual environment for CI with the `gguf` package (gguf-py,
# llama.cpp's own Python reader/writer; numpy only), so that the GGUF checks
# (tests/gguf/check_gguf_write.py: quantizers bit-identical to
# gguf.quants.quantize, layout identical to gguf.GGUFWriter) run there
# instead of skipping.  Built on Debian's /usr/bin/python3 with
# --system-site-packages (numpy comes from Debian); cached, reused when gguf
# imports.  Prints the venv's python: export LFTF_GGUF_PYTHON=$(bash scripts/ci-venv.sh)
#   LFTF_CI_VENV   where (default ~/.cache/lftf/ci-venv)
set -euo pipefail
venv=${LFTF_CI_VENV:-$HOME/.cache/lftf/ci-venv}
if ! "$venv/bin/python" -c "import gguf, numpy" 2>/dev/null; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check gguf >&2
fi
echo "$venv/bin/python"
