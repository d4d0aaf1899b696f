#!/usr/bin/env bash
# Sets up and runs every test: the CMocka suite through ctest (release
# build), the Python package's pytest suite (with the example notebook), the
# install check (pkg-config + find_package from outside the tree), the
# exported-symbol check, the unit suite again under ASan+UBSan, each
# libFuzzer target for a bounded time, `pip install .` / '.[ray]' from a
# fresh clone and the Ray cluster tests (scripts/test-ray.sh).  Any failure stops with non-zero exit.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 60)
#   LFTF_SKIP_ASAN=1 / LFTF_SKIP_FUZZ=1 to skip those stages locally
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=$(nproc)

step() { printf '\n==== %s ====\n' "$*"; }

step "set up and build"
bash scripts/setup.sh

step "Python environment with the gguf package (GGUF tests)"
LFTF_GGUF_PYTHON=$(bash scripts/ci-venv.sh)
export LFTF_GGUF_PYTHON
echo "gguf from $LFTF_GGUF_PYTHON"

step "unit and integration tests (ctest)"
ctest --test-dir build --output-on-failure -j"$jobs"

step "exported symbols"
bad=$(nm -D --defined-only build/lib/liblftf.so | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v '^lftf_' || true)
if [ -n "$bad" ]; then echo "non-lftf symbols exported:"; echo "$bad" | head; exit 1; fi
echo "only lftf_* symbols are exported ($(nm -D --defined-only build/lib/liblftf.so | grep -c ' T lftf_') functions)"

step "install and build an outside program (pkg-config and find_package)"
bash scripts/check_install.sh

step "Python package (pytest)"
PYTHONPATH="$here/bindings/python" LFTF_LIBRARY="$here/build/lib/liblftf.so" \
  /usr/bin/python3 -m pytest -q bindings/python/tests

if [ "${LFTF_SKIP_ASAN:-0}" != 1 ]; then
  step "unit suite under ASan+UBSan"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLFTF_SANITIZE=ON -DLFTF_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  # libtorch itself is not instrumented and keeps process-lifetime allocations.
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE slow
fi

if [ "${LFTF_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzzing (libFuzzer, ASan+UBSan, ${FUZZ_SECONDS:-60}s per target)"
  bash fuzz/run.sh
fi

step "pip install from a fresh clone; Ray cluster tests"
bash scripts/test-ray.sh

step "all tests passed"
