#!/bin/sh
# `lftf` commands on a GGUF file (the shipped SmolLM2-135M-Instruct Q4_1):
# info reads the metadata, tokenize and probs give transformers' ids and
# probabilities (tests/reference/gguf/smollm2_transformers.json: ids
# [504, 12996, 18628, 975], P(" she") = 0.43380 after "The nurse smiled
# because"), and a truncated file is refused by name with nothing written.
#   sh cli_gguf.sh LFTF_BINARY SHARED_DIR
set -u
lftf=$1
shared=${LFTF_SHARED_DIR:-$2}
model=$shared/models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$model" ]; then
  echo "SKIP: $model is absent; set LFTF_SHARED_DIR"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

out=$("$lftf" info --model "$model") || fail "info: exit status $?"
case "$out" in
  *'"architecture": "LlamaForCausalLM"'*'"n_layers": 30'*'"tie_word_embeddings": true'*) ;;
  *) fail "info: unexpected $out" ;;
esac

out=$("$lftf" tokenize --tokenizer "$model" "The nurse smiled because") || fail "tokenize: exit status $?"
case "$out" in
  *'"ids": [504, 12996, 18628, 975]'*) ;;
  *) fail "tokenize: unexpected $out" ;;
esac

out=$("$lftf" probs --model "$model" --target " he" --target " she" "The nurse smiled because") ||
  fail "probs: exit status $?"
she=$(printf '%s\n' "$out" | sed -n 's/.*" she": {"ids": \[1041\], "prob": \([0-9.]*\).*/\1/p')
awk -v p="$she" 'BEGIN { d = p - 0.4338012; exit !(p != "" && d < 1e-4 && d > -1e-4) }' ||
  fail "probs: P(she) = '$she', transformers 0.4338012 ($out)"

# A truncated file: a precise error naming it, and no output directory.
head -c 1500000 "$model" > "$tmp/cut.gguf"
err=$("$lftf" run --model "$tmp/cut.gguf" --out "$tmp/out" 2>&1) && fail "a truncated file was accepted"
case "$err" in
  *"cut.gguf: truncated"*"tokenizer.ggml.merges"*) ;;
  *) fail "unexpected error: $err" ;;
esac
[ ! -e "$tmp/out" ] || fail "run left $tmp/out behind"
echo "ok: info, tokenize, probs (P(she) = $she) and a truncated file"
