#!/bin/sh
# Set-up of the differential tokenizer test (a ctest fixture): installs the
# reference tokenizer (@lenml/tokenizers, pinned in package-lock.json) with
# npm, writes the corpus and the reference ids into OUT_DIR.
#
#   sh tests/reference/setup.sh OUT_DIR SHARED_DIR DATA_DIR
#
# Exit 77 (ctest: skipped) when node/npm or the fixtures are missing, except
# under CI=true, where a missing node/npm is a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: setup.sh OUT_DIR SHARED_DIR DATA_DIR}
shared=${LFTF_SHARED_DIR:-${2:?usage: setup.sh OUT_DIR SHARED_DIR DATA_DIR}}
data=${3:-$here/../../data}

unavailable() {
  if [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; then
    echo "tokenizer reference set-up FAILED: $1" >&2
    exit 1
  fi
  echo "SKIP: tokenizer reference set-up: $1" >&2
  exit 77
}

if [ ! -d "$shared/tokenizers" ]; then
  echo "SKIP: fixtures folder $shared is absent; set LFTF_SHARED_DIR" >&2
  exit 77
fi
command -v node >/dev/null 2>&1 || unavailable "node is not installed"
command -v npm >/dev/null 2>&1 || unavailable "npm is not installed"

# Install only when the pinned version is not there yet.
if ! node -e "process.exit(require('$here/node_modules/@lenml/tokenizers/package.json').version === '3.7.2' ? 0 : 1)" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || unavailable "npm ci failed (is the npm registry reachable?)"
fi

rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp" || exit 1
node "$here/gen_corpus.mjs" --data "$data" --out "$out.tmp/corpus.jsonl" || exit 1
node "$here/reference_ids.mjs" --shared "$shared" --corpus "$out.tmp/corpus.jsonl" --out "$out.tmp" || exit 1
# Publish the files together, so a failed run leaves none behind.
mv "$out.tmp" "$out"
