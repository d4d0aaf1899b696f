#!/bin/sh
# Test of the commands' option parsing (cli/options.h: getopt_long over shared
# groups): --help everywhere, usage errors exit 2 with the message naming the
# option, shared and own options, missing values, "--" and arguments.
#   sh cli_options.sh LFTF_BINARY SHARED_DIR
set -u
lftf=$1
shared=${LFTF_SHARED_DIR:-$2}
model=$shared/models/stories260k
if [ ! -d "$model" ]; then
  echo "SKIP: fixtures folder $shared is absent; set LFTF_SHARED_DIR"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for cmd in info probs tokenize build-data eval locate finetune run apply-delta \
    loglikelihood generate bias general dama edit convert; do
  "$lftf" "$cmd" --help >"$tmp/out" 2>"$tmp/err" || fail "$cmd --help exits $?"
  head -n 1 "$tmp/out" | grep -q "^usage: lftf $cmd " || fail "$cmd --help: $(head -n 1 "$tmp/out")"
  [ -s "$tmp/err" ] && fail "$cmd --help wrote to stderr"
  # --quiet (no progress lines) is accepted by every command
  "$lftf" "$cmd" --quiet --help >"$tmp/out" 2>"$tmp/err" || fail "$cmd --quiet --help exits $?"
done

# usage_error EXPECTED_MESSAGE ARGS...: exit 2, the message and the hint
usage_error() {
  want=$1
  shift
  "$lftf" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ $rc -eq 2 ] || fail "lftf $* exits $rc, not 2"
  [ -s "$tmp/out" ] && fail "lftf $* wrote to stdout"
  [ "$(head -n 1 "$tmp/err")" = "lftf $1: $want" ] || fail "lftf $*: $(cat "$tmp/err")"
  [ "$(sed -n 2p "$tmp/err")" = "(see 'lftf $1 --help')" ] || fail "lftf $*: no --help hint"
}
usage_error "unknown option '--bogus'" eval --bogus
usage_error "unknown option '--overwrite=yes'" finetune --model "$model" --overwrite=yes
usage_error "unknown option '--'" eval --model "$model" --
usage_error "unknown option 'word'" locate word
usage_error "unknown option '--threads'" info --model "$model" --threads 2
usage_error "unknown option '--top'" finetune --model "$model" --top 2
usage_error "--model needs a directory" locate --model
usage_error "--lr needs a positive number" finetune --model "$model" --lr
# saving as GGUF (docs/gguf.md) and lftf convert
usage_error "--save-format needs hf or gguf" finetune --model "$model" --out x --save-format onnx
usage_error "--gguf-type needs same, f32, f16, bf16, q8_0, q4_1, q4_0, q5_0 or q5_1" run --model "$model" --out x --save-format gguf --gguf-type q3_k
usage_error "--gguf-type needs --save-format gguf" dama --model "$model" --out x --gguf-type q8_0
usage_error "--delta is saved as safetensors, not with --save-format gguf" edit --model "$model" --out x --delta --save-format gguf
usage_error "IN and OUT are required" convert "$model"
usage_error "--to needs hf or gguf" convert "$model" x --to onnx
usage_error "--type to gguf needs same, f32, f16, bf16, q8_0, q4_1, q4_0, q5_0 or q5_1" convert "$model" x --type f64
usage_error "--type to hf needs f32, f16 or bf16" convert x.gguf y --type q8_0
usage_error "--blocks must be auto, last, random or a list like 3 or 2,3" run --model "$model" --blocks 1,
usage_error "--top needs a positive integer" run --model "$model" --top 0
usage_error "--bias-limit needs a number" run --model "$model" --bias-limit x
usage_error "unknown option '--bos=1'" bias --model "$model" --bos=1
usage_error "--split needs train, dev, test or all" eval --model="$model" --split
usage_error "--out needs a file name" eval --model "$model" --out
usage_error "--out needs a directory" apply-delta --out
usage_error "--batch needs a positive integer" probs --model "$model" --batch 0 x
usage_error "--model and --out are required" run --model "$model" --seed 3 --delta

# tokenize: the first argument (or "--") ends the options, "-x" included
out=$("$lftf" tokenize --tokenizer "$model" --no-special -- --no-special) || fail "tokenize -- exits $?"
case "$out" in '{"text": "--no-special", '*) ;; *) fail "tokenize -- : $out" ;; esac
out=$("$lftf" tokenize --tokenizer="$model" -x --bogus) || fail "tokenize -x exits $?"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "tokenize -x --bogus: $out"
echo "cli_options: ok"
