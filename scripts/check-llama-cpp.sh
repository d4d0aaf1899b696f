#!/usr/bin/env bash
# Checks a debiased GGUF with a real llama.cpp client: llama-cpp-python (PyPI;
# pip builds llama.cpp from source, CPU only: 15-45 minutes on 2 cores the
# first time, cached in ~/.cache/lftf/llama-cpp-venv by
# scripts/llama-cpp-venv.sh).
#
#   1. `lftf run --model SRC --save-format gguf` debiases the shipped SmolLM2
#      Q4_1 GGUF (or SRC given as $1) into WORK/run/model.gguf; set
#      LFTF_DEBIASED_GGUF to check an existing file instead, LFTF_RUN_ARGS to
#      pass options to lftf run (e.g. "--blocks 27 --epochs 1");
#   2. tests/gguf/check_llama_cpp.py loads it in llama.cpp and in liblftf
#      (the Python package) and compares next-token log-probs on a few
#      prompts (tolerance in that file and docs/gguf.md).
# Environment: LFTF_BUILD (default build), LFTF_SHARED_DIR (default ../shared),
# LFTF_LLAMA_CPP_WORK (default a temporary directory).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${LFTF_BUILD:-build}
shared=${LFTF_SHARED_DIR:-$here/../shared}
src=${1:-$shared/models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf}
work=${LFTF_LLAMA_CPP_WORK:-$(mktemp -d)}
py=$(bash scripts/llama-cpp-venv.sh)
gguf=${LFTF_DEBIASED_GGUF:-}
if [ -z "$gguf" ]; then
  # shellcheck disable=SC2086
  "$build/bin/lftf" run --model "$src" --out "$work/run" --save-format gguf ${LFTF_RUN_ARGS:-}
  gguf=$work/run/model.gguf
fi
PYTHONPATH="$here/bindings/python" LFTF_LIBRARY="$here/$build/lib/liblftf.so" \
  "$py" tests/gguf/check_llama_cpp.py --source "$src" --gguf "$gguf"
