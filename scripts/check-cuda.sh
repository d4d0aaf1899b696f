#!/usr/bin/env bash
# Proves liblftf's GPU path in one command on a bare GPU machine (no package
# registry, no ../shared): see docs/gpu-check.md.
#
#   0. unpack device-bundle/ (scripts/make-device-bundle.sh): the Debian 12
#      sysroot with jansson, PCRE2, utf8proc and pkgconf into a prefix (after
#      checking the machine's glibc against the bundle's needs), the wheels
#      (gguf) into a site folder;
#   1. configure and build against the machine's own PyTorch
#      (torch.utils.cmake_prefix_path), CUDA enabled;
#   2. checks, each printing PASS/FAIL and its figure:
#      a. `lftf probs` float32 and bfloat16 against transformers on the same
#         device: SmolLM2 (real weights, first blocks), random Gemma 2, Qwen3;
#      b. `lftf run` on stories260k on the device; its "after" against the
#         same run on the CPU, and the saved model reloaded;
#      c. a random bfloat16 model shaped like Llama-3-8B made here: `lftf eval`
#         on the 944 test prompts and one LFTF epoch, timed, against
#         transformers' forward at the same batch size (same-run ratio);
#      d. a memory budget smaller than the model streams blocks and gives the
#         same numbers;
#      e. `lftf merge` refuses a CPU shard with a GPU shard.
#   3. $OUT/summary.json and $OUT/check-cuda.log ($OUT defaults to ./check-cuda-out).
#
# Environment:
#   LFTF_CHECK_DEVICE   cuda (default) or cpu: the rehearsal on a machine
#                       without a GPU (c at a small size, e with a dtype
#                       stand-in, since a CPU has no second device type)
#   LFTF_CHECK_BUNDLE   the bundle (default device-bundle)
#   LFTF_CHECK_PREFIX   where the sysroot is unpacked (default BUILD/sysroot)
#   LFTF_CHECK_PYTHON   the Python with torch + transformers (default python3)
#   LFTF_CHECK_BUILD    build folder (default build-cuda-check)
#   LFTF_CHECK_ONLY     a subset of the checks, e.g. "a b" (default "a b c d e")
#   LFTF_CHECK_BIG      llama8b or llama-small: check c's model (default: llama8b
#                       on cuda, llama-small on cpu)
#   LFTF_CHECK_KEEP     set: keep the scratch folder (models, reports, logs)
#   LFTF_CHECK_DEADLINE seconds for the whole check (default 460 on cuda, 2400
#                       on cpu): each step's
#                       timeout is cut to what is left
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
device=${LFTF_CHECK_DEVICE:-cuda}
bundle=$(cd "${LFTF_CHECK_BUNDLE:-device-bundle}" 2>/dev/null && pwd) || bundle=
py=${LFTF_CHECK_PYTHON:-python3}
build=${LFTF_CHECK_BUILD:-build-cuda-check}
only=${LFTF_CHECK_ONLY:-a b c d e}
# seconds for everything, build included: a GPU call has 8 minutes; the
# rehearsal on 2 busy cores takes about 20
deadline=${LFTF_CHECK_DEADLINE:-}
[ -n "$deadline" ] || { [ "$device" = cuda ] && deadline=460 || deadline=2400; }
OUT=${OUT:-$here/check-cuda-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/check-cuda.XXXXXX")
# inside the build folder (git-ignored): a rerun reuses CMake's cached paths
prefix=${LFTF_CHECK_PREFIX:-$here/$build/sysroot}
log=$OUT/check-cuda.log
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} PYTHONUNBUFFERED=1
t_start=$(date +%s)
exec > >(tee "$log") 2>&1

declare -a names=() verdicts=() figures=()
record() { # NAME VERDICT FIGURE
    names+=("$1"); verdicts+=("$2"); figures+=("$3")
    printf '%-5s %s: %s\n' "$2" "$1" "$3"
}
step() { printf '\n==== %s (%ds) ====\n' "$*" $(( $(date +%s) - t_start )); }
summary() {
    step "summary"
    local failed=0 i
    {
        printf '{"device": "%s", "card": "%s", "seconds": %d, "checks": [' "$device" \
            "$(card_name)" $(( $(date +%s) - t_start ))
        for i in "${!names[@]}"; do
            [ "$i" = 0 ] || printf ', '
            "$py" -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "verdict": sys.argv[2], "figure": sys.argv[3]}), end="")' \
                "${names[$i]}" "${verdicts[$i]}" "${figures[$i]}" 2>/dev/null ||
                printf '{"name": "%s", "verdict": "%s"}' "${names[$i]//\"/}" "${verdicts[$i]}"
        done
        printf ']}\n'
    } > "$OUT/summary.json"
    for i in "${!names[@]}"; do
        printf '%-5s %s: %s\n' "${verdicts[$i]}" "${names[$i]}" "${figures[$i]}"
        [ "${verdicts[$i]}" = FAIL ] && failed=1
    done
    if [ $failed = 0 ]; then echo "check-cuda ($device): PASS"; else echo "check-cuda ($device): FAIL"; fi
    if [ -n "${LFTF_CHECK_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
    exit $failed
}
card_name() {
    if [ "$device" = cuda ]; then
        nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1
    else
        grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'
    fi
}
# a step's last stdout line is its JSON figure; NAME LIMIT_S CMD...
json_of() { tail -1 "$1" 2>/dev/null; }
field() { "$py" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null; }
wanted() { case " $only " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- 0. bundle
step "0. unpack the bundle ($bundle) into $prefix"
if [ -z "$bundle" ] || [ ! -f "$bundle/sysroot.tar.gz" ]; then
    record "bundle" FAIL "no device-bundle/ (run scripts/make-device-bundle.sh here, carry it)"
    summary
fi
have_glibc=$(ldd --version 2>/dev/null | head -1 | grep -Eo '[0-9]+\.[0-9]+$')
need_glibc=$(cat "$bundle/GLIBC_NEEDED")
if [ "$(printf '%s\n%s\n' "$need_glibc" "$have_glibc" | sort -V | head -1)" != "$need_glibc" ]; then
    record "bundle" FAIL "this glibc is $have_glibc, the bundle's Debian 12 binaries need $need_glibc: build static archives (docs/gpu-check.md)"
    summary
fi
rm -rf "$prefix"
mkdir -p "$prefix" "$work/site"
tar -C "$prefix" -xzf "$bundle/sysroot.tar.gz"
libdir=$prefix/usr/lib/x86_64-linux-gnu
# the .pc files say prefix=/usr: point them into the prefix
sed -i "s|^prefix=/usr\$|prefix=$prefix/usr|" "$libdir"/pkgconfig/*.pc
cat > "$prefix/pkg-config" <<EOF
#!/bin/sh
LD_LIBRARY_PATH=$libdir exec $prefix/usr/bin/pkgconf "\$@"
EOF
chmod +x "$prefix/pkg-config"
export PKG_CONFIG="$prefix/pkg-config" PKG_CONFIG_PATH="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" \
    "$bundle"/wheels/*.whl || { record "bundle" FAIL "pip could not install the wheels"; summary; }
export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
versions=$("$py" -c 'import sys, torch, transformers, gguf, importlib.metadata as m
print("python %s, torch %s (CUDA %s), transformers %s, gguf %s from %s, GPU %s" % (sys.version.split()[0],
      torch.__version__, torch.version.cuda, transformers.__version__, m.version("gguf"),
      gguf.__file__.split("/gguf/")[0], torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"))' 2>&1 | tail -1)
record "bundle" PASS "glibc $have_glibc >= $need_glibc; jansson $("$PKG_CONFIG" --modversion jansson), pcre2 $("$PKG_CONFIG" --modversion libpcre2-8), utf8proc $("$PKG_CONFIG" --modversion libutf8proc); $versions"
models=$bundle/models

# ---------------------------------------------------------------- 1. build
step "1. configure and build against this machine's PyTorch"
torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
launcher=()
if command -v ccache >/dev/null; then
    # paths relative to the folder above the checkout: a fresh clone beside it hits the cache
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$here")}
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
configure() { # LFTF_CUDA_TOOLKIT value
    timeout 120 cmake -B "$build" -DCMAKE_BUILD_TYPE=Release -DLFTF_BUILD_TESTS=OFF -DLFTF_BUILD_BENCH=OFF \
        -DCMAKE_PREFIX_PATH="$torch_prefix" -DLFTF_CUDA_TOOLKIT="$1" -DPKG_CONFIG_EXECUTABLE="$PKG_CONFIG" "${launcher[@]}" > "$work/configure.log" 2>&1
}
# AUTO: with the machine's CUDA toolkit when CMake finds one; if Caffe2's CUDA
# config then fails on a part of the toolkit, link libtorch_cuda without it
# (liblftf compiles no CUDA code; cmake/lftf_torch.cmake)
if ! configure AUTO; then
    tail -15 "$work/configure.log"
    echo "  configure with the CUDA toolkit failed; again with LFTF_CUDA_TOOLKIT=OFF"
    rm -f "$build/CMakeCache.txt"
    if ! configure OFF; then
        tail -30 "$work/configure.log"
        record "configure" FAIL "cmake failed (see the log)"
        summary
    fi
fi
grep -E 'liblftf|Torch|CUDA' "$work/configure.log" | head -8
if ! timeout 420 cmake --build "$build" -j"$(nproc)" > "$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    record "build" FAIL "build failed or took over 7 min"
    summary
fi
lftf=$here/$build/bin/lftf
for lib in jansson pcre2-8 utf8proc; do
    where=$(ldd "$here/$build/lib/liblftf.so" | grep "lib$lib" | awk '{print $3}')
    case "$where" in "$prefix"/*) ;; *) record "build" FAIL "liblftf.so loads lib$lib from '$where', not the bundle"; summary ;; esac
done
record "build" PASS "$(( $(date +%s) - t_start )) s since start; jansson, pcre2, utf8proc from the bundle; torch from $torch_prefix"
if [ "$device" = cuda ]; then
    if ! "$lftf" probs --model "$models/stories260k" --device cuda "The nurse said" > "$work/cuda.txt" 2>&1; then
        record "lftf --device cuda starts" FAIL "$(tail -1 "$work/cuda.txt")"
        summary
    fi
    record "lftf --device cuda starts" PASS "$(head -1 "$work/cuda.txt" | cut -c1-200)"
fi

ccx=("$py" "$here/scripts/cuda_check.py")
# run NAME LIMIT_S CMD...: its output in $work/NAME.out (shown), exit status returned
run() {
    local name=$1 limit=$2 left
    shift 2
    left=$(( deadline - ($(date +%s) - t_start) ))
    [ "$left" -lt "$limit" ] && limit=$left
    if [ "$limit" -le 5 ]; then
        echo "  [$name] not started: the ${deadline}s budget of the whole check is spent"
        return 124
    fi
    timeout "$limit" "$@" > "$work/$name.out" 2> "$work/$name.err"
    local rc=$?
    tail -3 "$work/$name.err" | sed "s/^/  [$name stderr] /"
    [ $rc = 124 ] && echo "  [$name] stopped after ${limit}s"
    return $rc
}
# verdict NAME JSON_FILE FIGURE: PASS when the JSON's "ok" is true
verdict() {
    local j
    j=$(json_of "$2")
    if [ "$(field "$j" ok)" = True ]; then record "$1" PASS "$3 $j"; else record "$1" FAIL "$3 ${j:-no result}"; fi
}
time_of() { local t0=$1; "$py" -c "import time; print(round(time.time() - $t0, 2))"; }
now() { "$py" -c 'import time; print(time.time())'; }
gpu_mem() {
    [ "$device" = cuda ] && nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader 2>/dev/null | head -1
}
data=$here/data
stories=$models/stories260k
big=${LFTF_CHECK_BIG:-}
[ -n "$big" ] || { [ "$device" = cuda ] && big=llama8b || big=llama-small; }
if wanted c; then
    # c's model is written while the other checks run (GPU memory and disk
    # allow both; it saves a minute of the budget)
    echo "  making the random $big for check c in the background"
    run c_make 300 "${ccx[@]}" make-random --kind "$big" --out "$work/big" --tokenizer "$stories" --device "$device" &
    c_make_pid=$!
fi
if [ "$device" = cuda ]; then run_tol=1e-3; stream_tol=1e-6; else run_tol=1e-4; stream_tol=1e-6; fi

# ---------------------------------------------------------------- e. shards
if wanted e; then
    step "e. the shard fingerprint: a CPU shard and a $device shard are not merged"
    other=(--device "$device" --dtype float32)
    what="a CPU shard with a GPU shard"
    if [ "$device" = cpu ]; then
        # a CPU has no second device type: the stand-in is the compute dtype,
        # the other half of the same fingerprint field
        other=(--device cpu --dtype bfloat16); what="(CPU stand-in) a float32 shard with a bfloat16 shard"
    fi
    ev=(eval --model "$stories" --data "$data" --no-hint)
    if run e0 120 "$lftf" "${ev[@]}" --shard 0/2 --device cpu --dtype float32 --out "$work/e0.json" &&
       run e1 120 "$lftf" "${ev[@]}" --shard 1/2 "${other[@]}" --out "$work/e1.json" &&
       run e1cpu 120 "$lftf" "${ev[@]}" --shard 1/2 --device cpu --dtype float32 --out "$work/e1cpu.json"; then
        "$lftf" merge "$work/e-mixed.json" "$work/e0.json" "$work/e1.json" > "$work/e-mixed.txt" 2>&1
        mixed=$?
        "$lftf" merge "$work/e-same.json" "$work/e0.json" "$work/e1cpu.json" > "$work/e-same.txt" 2>&1
        same=$?
        msg=$(tail -1 "$work/e-mixed.txt")
        if [ $mixed != 0 ] && grep -q "device type" "$work/e-mixed.txt" && [ ! -e "$work/e-mixed.json" ] && [ $same = 0 ]; then
            record "e. merge refuses $what" PASS "refused: $msg; two CPU shards merge (exit $same)"
        else
            record "e. merge refuses $what" FAIL "mixed exit $mixed ($msg), CPU+CPU exit $same: $(tail -1 "$work/e-same.txt")"
        fi
    else
        record "e. merge refuses $what" FAIL "a shard's eval failed"
    fi
fi

# ---------------------------------------------------------------- b. run
if wanted b; then
    step "b. lftf run on stories260k on $device against the CPU, then reload"
    dev_threads=()
    [ "$device" = cpu ] && dev_threads=(--threads 1)  # the rehearsal: another thread count
    t0=$(now)
    if run b_cpu 240 "$lftf" run --model "$stories" --data "$data" --out "$work/run_cpu" --device cpu --dtype float32 &&
       t_cpu=$(time_of "$t0") && t0=$(now) &&
       run b_dev 240 "$lftf" run --model "$stories" --data "$data" --out "$work/run_dev" --device "$device" --dtype float32 "${dev_threads[@]}" &&
       t_dev=$(time_of "$t0") &&
       run b_reload 120 "$lftf" eval --model "$work/run_dev/model" --data "$data" --device "$device" --dtype float32 --out "$work/reload.json" &&
       run b_cmp 60 "${ccx[@]}" compare-runs "$work/run_cpu" "$work/run_dev" "$work/reload.json" --tol "$run_tol"; then
        verdict "b. lftf run --device $device = CPU run, reload = \"after\"" "$work/b_cmp.out" "lftf run: ${t_dev}s on $device${dev_threads:+ (1 thread)}, ${t_cpu}s on the CPU;"
    else
        record "b. lftf run --device $device = CPU run, reload = \"after\"" FAIL "a step failed (see above)"
    fi
fi

# ---------------------------------------------------------------- a. probs
if wanted a; then
    step "a. lftf probs float32 / bfloat16 against transformers on $device"
    smol=$(ls "$models"/smollm2-*.gguf 2>/dev/null | head -1)
    a_models=()
    if [ -n "$smol" ] && run a_smol_hf 180 "${ccx[@]}" gguf-to-hf --gguf "$smol" --out "$work/smollm2"; then
        a_models+=("$work/smollm2")
    else
        record "a. SmolLM2 (real weights) to an HF directory by transformers" FAIL "$(tail -1 "$work/a_smol_hf.err" 2>/dev/null)"
    fi
    for kind in gemma2 qwen3; do
        if run "a_make_$kind" 120 "${ccx[@]}" make-random --kind "$kind" --out "$work/$kind" --tokenizer "$stories"; then
            a_models+=("$work/$kind")
        else
            record "a. random $kind made by transformers" FAIL "$(tail -1 "$work/a_make_$kind.err")"
        fi
    done
    for m in "${a_models[@]}"; do
        name=$(basename "$m")
        if run "a_$name" 240 "${ccx[@]}" probs --lftf "$lftf" --model "$m" --device "$device" --data "$data" --n 48; then
            verdict "a. probs $name f32+bf16 vs transformers" "$work/a_$name.out" ""
        else
            record "a. probs $name f32+bf16 vs transformers" FAIL "$(tail -1 "$work/a_$name.err")"
        fi
    done
    # the GGUF file itself, where this build reads GGUF (lftf info succeeds)
    if [ -n "$smol" ] && "$lftf" info --model "$smol" > /dev/null 2>&1; then
        if run a_gguf 240 "${ccx[@]}" probs --lftf "$lftf" --model "$smol" --ref "$work/smollm2" --device "$device" --data "$data" --n 48; then
            verdict "a. probs SmolLM2 GGUF read by lftf vs transformers" "$work/a_gguf.out" ""
        else
            record "a. probs SmolLM2 GGUF read by lftf vs transformers" FAIL "$(tail -1 "$work/a_gguf.err")"
        fi
    else
        echo "  (this build does not read GGUF files: SmolLM2 checked through the HF directory only)"
    fi
fi

# ---------------------------------------------------------------- d. streaming
if wanted d; then
    step "d. a memory budget smaller than the model streams blocks, same numbers"
    dm=$work/smollm2
    [ -d "$dm" ] || dm=$stories
    budget_opt=--max-device-memory
    [ "$device" = cpu ] && budget_opt=--max-memory
    if run d_budget 60 "${ccx[@]}" budget --model "$dm" --dtype float32 --resident 1; then
        b=$(field "$(json_of "$work/d_budget.out")" budget)
        total=$(field "$(json_of "$work/d_budget.out")" model_bytes)
        ev=(eval --model "$dm" --data "$data" --no-hint --device "$device" --dtype float32)
        if run d_full 180 "$lftf" "${ev[@]}" --out "$work/d_full.json" &&
           run d_stream 240 "$lftf" "${ev[@]}" "$budget_opt" "$b" --out "$work/d_stream.json" &&
           run d_cmp 60 "${ccx[@]}" compare-evals "$work/d_full.json" "$work/d_stream.json" --tol "$stream_tol"; then
            mem=$(grep -m1 '^memory:' "$work/d_stream.err")
            j=$(json_of "$work/d_cmp.out")
            if [ "$(field "$j" ok)" = True ] && echo "$mem" | grep -q 'blocks streamed'; then
                record "d. $budget_opt $b < model $total streams, same numbers" PASS "$mem; $j"
            else
                record "d. $budget_opt $b < model $total streams, same numbers" FAIL "${mem:-no memory line}; $j"
            fi
        else
            record "d. $budget_opt streams, same numbers" FAIL "an eval failed"
        fi
    else
        record "d. $budget_opt streams, same numbers" FAIL "no budget: $(tail -1 "$work/d_budget.err")"
    fi
fi

# ---------------------------------------------------------------- c. big model
if wanted c; then
    step "c. random bfloat16 $big: lftf eval + one LFTF epoch, against transformers' forward"
    batch=32   # lftf eval's default batch (LFTF_PROMPT_BATCH)
    if wait "$c_make_pid"; then
        echo "  made: $(json_of "$work/c_make.out"); GPU memory $(gpu_mem)"
        t0=$(now)
        if run c_eval 240 "$lftf" eval --model "$work/big" --data "$data" --no-hint --device "$device" --dtype bfloat16 \
                --batch $batch --out "$work/c_eval.json"; then
            t_eval=$(time_of "$t0")
            if run c_hf 240 "${ccx[@]}" hf-eval --lftf "$lftf" --model "$work/big" --device "$device" --dtype bfloat16 \
                    --batch $batch --report "$work/c_eval.json"; then
                j=$(json_of "$work/c_hf.out")
                hf_fwd=$(field "$j" hf_forward_s)
                hf_total=$("$py" -c "import json,sys; d=json.loads(sys.argv[1]); print(round(d['hf_load_s'] + d['hf_forward_s'], 2))" "$j")
                r_fwd=$("$py" -c "print(round($hf_fwd / $t_eval, 3))")
                r_total=$("$py" -c "print(round($hf_total / $t_eval, 3))")
                record "c. lftf eval $big bf16, 944 prompts, batch $batch" PASS \
                    "lftf eval ${t_eval}s (process, load included); transformers forward ${hf_fwd}s (x$r_fwd of lftf's time), load + forward ${hf_total}s (x$r_total); $j"
            else
                record "c. lftf eval $big bf16, 944 prompts, batch $batch" FAIL "transformers side: $(tail -1 "$work/c_hf.err")"
            fi
        else
            record "c. lftf eval $big bf16, 944 prompts, batch $batch" FAIL "$(tail -1 "$work/c_eval.err")"
        fi
        t0=$(now)
        if run c_ft 300 "$lftf" finetune --model "$work/big" --data "$data" --out "$work/big_ft" --device "$device" \
                --dtype bfloat16 --epochs 1 --delta; then
            record "c. one LFTF epoch on $big bf16" PASS "$(time_of "$t0")s (load, locate, 1 epoch, dev eval, delta saved); $(grep -m1 '^fine-tuning' "$work/c_ft.out" | cut -c1-140); $(grep -o 'epoch 1 done: .*' "$work/c_ft.out" | head -1)"
        else
            record "c. one LFTF epoch on $big bf16" FAIL "$(tail -1 "$work/c_ft.err")"
        fi
    else
        record "c. random $big made by transformers on $device" FAIL "$(tail -1 "$work/c_make.err")"
    fi
fi

summary
