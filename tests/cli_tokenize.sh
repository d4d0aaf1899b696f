#!/bin/sh
# Test of `lftf tokenize` (the CLI contract): one JSON line per text with
# text, ids and tokens.  Reference: the ids in
# shared/models/stories260k/README.md, from the original llama2.c code.
#   sh cli_tokenize.sh LFTF_BINARY SHARED_DIR
set -u
lftf=$1
shared=${LFTF_SHARED_DIR:-$2}
model=$shared/models/stories260k
if [ ! -d "$model" ]; then
  echo "SKIP: fixtures folder $shared is absent; set LFTF_SHARED_DIR"
  exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }

out=$("$lftf" tokenize --tokenizer "$model" "Once upon a time, there was a little boy named Tom. One day," "he") || fail "exit status $?"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] || fail "expected two lines, got: $out"
line1=$(printf '%s\n' "$out" | head -n 1)
case "$line1" in
  '{"text": "Once upon a time, there was a little boy named Tom. One day,", "ids": [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422, 395, 274, 287, 426, 385, 328, 432], "tokens": ["<s>", "▁Once", "▁upon", '*) ;;
  *) fail "unexpected first line: $line1" ;;
esac

# --no-special drops the BOS; a tokenizer.json path works like its directory;
# standard input is read line by line when no text is given.
out=$(printf 'Once upon\n' | "$lftf" tokenize --tokenizer "$model/tokenizer.json" --no-special) || fail "stdin run failed"
[ "$out" = '{"text": "Once upon", "ids": [403, 407], "tokens": ["▁Once", "▁upon"]}' ] || fail "unexpected: $out"

# Bad input: invalid UTF-8 fails with the byte offset; usage errors exit 2.
err=$("$lftf" tokenize --tokenizer "$model" "$(printf 'ab\377')" 2>&1) && fail "invalid UTF-8 accepted"
case "$err" in *"offset 2"*) ;; *) fail "no byte offset in: $err" ;; esac
"$lftf" tokenize "x" >/dev/null 2>&1
[ $? -eq 2 ] || fail "missing --tokenizer is not a usage error"
"$lftf" tokenize --tokenizer /nonexistent "x" >/dev/null 2>&1 && fail "a missing tokenizer was accepted"
echo "cli_tokenize: ok"
