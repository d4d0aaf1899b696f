#!/usr/bin/env bash
# A small Python environment with the `gguf` package (llama.cpp's gguf-py,
# which needs only numpy), for the GGUF tests that write files with it
# (tests/test_gguf_tokenizers.c: the mistral/llama3/qwen3/gpt2 vocabularies).
# Prints the python to use; CI exports it as LFTF_GGUF_PYTHON:
#   export LFTF_GGUF_PYTHON=$(bash scripts/ci-venv.sh)
# Without it those cases skip; the committed fixtures still run.
set -euo pipefail
venv=${LFTF_GGUF_VENV:-$HOME/.cache/lftf/gguf-venv}
if ! "$venv/bin/python" -c 'import gguf' 2>/dev/null; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
  "$venv/bin/pip" install --quiet 'gguf>=0.10' >&2
fi
echo "$venv/bin/python"
