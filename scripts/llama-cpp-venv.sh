#!/usr/bin/env bash
# Creates (once) a venv with llama-cpp-python, the Python binding of llama.cpp
# that PyPI ships as source: pip builds llama.cpp with CMake, CPU only, on
# two jobs (about 15-30 minutes on a 2-core machine).  Prints the venv's
# python.  Used by scripts/check-llama-cpp.sh.
#   LFTF_LLAMA_CPP_VENV   where (default ~/.cache/lftf/llama-cpp-venv)
set -euo pipefail
venv=${LFTF_LLAMA_CPP_VENV:-$HOME/.cache/lftf/llama-cpp-venv}
if ! "$venv/bin/python" -c "import llama_cpp, gguf" 2>/dev/null; then
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
  # CPU only, portable (no -march=native), no BLAS: the reference forward
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
  "$venv/bin/pip" install --quiet --no-cache-dir gguf llama-cpp-python >&2
fi
echo "$venv/bin/python"
