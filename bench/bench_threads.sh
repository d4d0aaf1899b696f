#!/bin/sh
# The thread policy, in one run: `lftf run` on stories260k (small products)
# and optionally `lftf eval --no-hint` on the bench model (large products)
# with the default policy, OPENBLAS_NUM_THREADS=1 and =2, interleaved over
# ROUNDS rounds; with BUSY=1 one `yes > /dev/null` competes for the CPUs
# meanwhile.  Prints wall / user / system seconds per run and the load.
# usage: bench/bench_threads.sh [LFTF_BIN] [BENCH_MODEL_DIR]   (env: ROUNDS, BUSY)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
lftf=${1:-$here/build/bin/lftf}
bench_model=${2:-}
shared=${LFTF_SHARED_DIR:-$here/../shared}
stories=$shared/models/stories260k
[ -d "$stories" ] || { echo "skip: $stories is absent"; exit 77; }
rounds=${ROUNDS:-2}
tmp=$(mktemp -d)
hog=
cleanup() { [ -n "$hog" ] && kill "$hog" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
if [ "${BUSY:-0}" = 1 ]; then
    yes > /dev/null &
    hog=$!
fi
timed() { # label, then the command
    label=$1; shift
    /usr/bin/time -f "$label wall %e s user %U s sys %S s" "$@" > /dev/null 2>> "$tmp/times" || {
        echo "$label failed"; tail -5 "$tmp/times"; exit 1; }
    tail -1 "$tmp/times"
}
echo "load before: $(cut -d' ' -f1-4 /proc/loadavg)  busy process: ${BUSY:-0}"
for r in $(seq "$rounds"); do
    for v in default 1 2; do
        rm -rf "$tmp/out"
        if [ "$v" = default ]; then env_set=; else env_set="OPENBLAS_NUM_THREADS=$v"; fi
        timed "run stories260k blas=$v" env $env_set "$lftf" run --model "$stories" --out "$tmp/out"
        if [ -n "$bench_model" ]; then
            timed "eval bench blas=$v" env $env_set "$lftf" eval --model "$bench_model" --no-hint --out "$tmp/r.json"
        fi
    done
done
echo "load after: $(cut -d' ' -f1-4 /proc/loadavg)"
