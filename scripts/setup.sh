#!/usr/bin/env bash
# Installs what liblftf needs on Debian 12 (root or sudo), then configures
# and builds it into build/.  Safe to run again: it skips what is present.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

# Build and runtime dependencies (README "Dependencies" says why each is here).
pkgs=(build-essential cmake pkg-config git
      libtorch-dev libopenblas0-pthread
      libjansson-dev libpcre2-dev libutf8proc-dev
      libcmocka-dev
      clang libclang-rt-14-dev llvm
      python3-torch python3-numpy python3-cffi python3-pytest python3-matplotlib
      python3-nbclient python3-nbformat python3-ipykernel python3-tqdm
      libxml2-utils
      python3-yaml python3-jinja2
      # weight editors: scikit-learn's PLSRegression is the reference of DAMA's PLS
      python3-sklearn
      # report.html is checked in a real browser (headless, no network)
      chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (the reference tokenizer): any installation will do; some
# machines carry a Node.js build that bundles npm and conflicts with Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$here/build" -j"$(nproc)"
