#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time
# (FUZZ_SECONDS, default 60) on a copy of its seed corpus. Fails on any crash,
# sanitizer report or leak.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$here/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLFTF_FUZZ=ON -DLFTF_WITH_TORCH=OFF -DLFTF_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"
shopt -s nullglob
status=0
for bin in "$build"/bin/fuzz_*; do
  name=$(basename "$bin")
  corpus=$(mktemp -d)
  seed="$here/fuzz/corpus/${name#fuzz_}"
  [ -d "$seed" ] && cp -r "$seed"/. "$corpus"/
  echo "== $name: ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
       -print_final_stats=1 "$corpus" > "$build/$name.log" 2>&1; then
    echo "!! $name failed; last lines of its log:"
    tail -n 40 "$build/$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$build/$name.log" | tail -n 2 || true
  fi
  rm -rf "$corpus"
done
exit $status
