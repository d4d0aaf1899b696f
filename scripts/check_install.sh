#!/usr/bin/env bash
# Installs build/ into a temporary prefix and builds examples/next_token.c
# against it from outside the tree, once through pkg-config and once through
# find_package(lftf); runs both on stories260k when the fixtures are there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
cmake --install "$here/build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib*/ | head -n1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Werror "$here/examples/next_token.c" $(pkg-config --cflags --libs lftf) \
   -Wl,-rpath,"$libdir" -o "$work/next_token_pc"
cmake -S "$here/examples/find_package" -B "$work/fp" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$work/fp" >/dev/null
echo "built next_token via pkg-config and via find_package against $prefix"
model="$here/../shared/models/stories260k"
if [ -d "$model" ]; then
  LFTF_DATA_DIR= "$work/next_token_pc" "$model" "The nurse smiled because"
  "$work/fp/next_token" "$model" "The nurse smiled because" >/dev/null
else
  echo "SKIP: $model absent, not running the installed example"
fi
