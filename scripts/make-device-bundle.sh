#!/usr/bin/env bash
# Prepares device-bundle/ (git-ignored): everything scripts/check-cuda.sh needs
# on a bare GPU machine that reaches no package registry and has no ../shared.
#
#   sysroot.tar.gz   jansson, PCRE2 (8-bit) and utf8proc, runtime + dev files,
#                    and pkgconf (the device image may have no pkg-config),
#                    from Debian 12's .debs (`apt-get download` + `dpkg -x`),
#                    docs and man pages left out;
#   GLIBC_NEEDED     the newest GLIBC_x.y symbol version any of those binaries
#                    needs (read with objdump); check-cuda.sh compares it with
#                    the device's glibc before it builds;
#   wheels/          Python wheels the device image lacks: `gguf` (pure
#                    Python, `pip download --no-deps`; its needs numpy, pyyaml,
#                    tqdm and requests are in the image), which transformers
#                    needs to read a GGUF file;
#   models/          stories260k (from ../shared, 1 MB) and SmolLM2-135M-Instruct
#                    cut to its first $LFTF_BUNDLE_SMOLLM2_BLOCKS blocks (default 6
#                    of 30), its real quantized tensors copied byte for byte
#                    into a new GGUF with block_count rewritten.  The whole
#                    model does not travel: its GGUF is 94 MiB and a device
#                    call carries at most 64 MiB (tree, bundle and all); the
#                    Q8_0 token embedding alone is 29 MiB and every block
#                    2.1 MiB.  ../shared does not travel to the device.
#   MANIFEST         what is inside, with sizes and sha256s.
#
# Shared libraries, not static archives: Debian 12 has glibc 2.36 and these
# binaries need at most GLIBC_2.34 (libraries: 2.33; pkgconf: 2.34).  The
# device image's OS is not recorded; its Python 3.12.3 (KINDS.md) is Ubuntu
# 24.04's, glibc 2.39, newer than what they need.  check-cuda.sh checks the
# machine's glibc against GLIBC_NEEDED first and stops with a clear message
# if it is older (static archives would then be the way).
#
# Needs: apt-get (Debian 12 sources), dpkg, objdump, a Python with the `gguf`
# package (default: the venv ~/.cache/lftf/torch2-venv; LFTF_BUNDLE_PYTHON).
# Usage: scripts/make-device-bundle.sh [OUT_DIR]   (default device-bundle)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/device-bundle}
shared=${LFTF_SHARED_DIR:-$here/../shared}
py=${LFTF_BUNDLE_PYTHON:-$HOME/.cache/lftf/torch2-venv/bin/python}
blocks=${LFTF_BUNDLE_SMOLLM2_BLOCKS:-6}
debs=(libjansson4 libjansson-dev libpcre2-8-0 libpcre2-dev libutf8proc2 libutf8proc-dev
      pkgconf pkgconf-bin libpkgconf3)

"$py" -c 'import gguf' || { echo "make-device-bundle: $py cannot import gguf" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debs" "$tmp/root" "$tmp/bundle/wheels" "$tmp/bundle/models"

echo "== Debian packages: ${debs[*]}"
# apt-get download writes as the _apt user when it can; a root-owned temp dir is fine
(cd "$tmp/debs" && chmod 777 . && apt-get download "${debs[@]}")
for f in "$tmp"/debs/*.deb; do dpkg -x "$f" "$tmp/root"; done
rm -rf "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/usr/share/lintian"
# binaries that need a newer glibc than the device has would fail to load there
glibc=$( (find "$tmp/root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec objdump -T {} + 2>/dev/null || true) |
        grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "${glibc#GLIBC_}" > "$tmp/bundle/GLIBC_NEEDED"
(cd "$tmp/debs" && ls *.deb) > "$tmp/bundle/DEBS"
tar -C "$tmp/root" -czf "$tmp/bundle/sysroot.tar.gz" .

echo "== wheels"
gguf_version=$("$py" -c 'import importlib.metadata as m; print(m.version("gguf"))')
"$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp/bundle/wheels" "gguf==$gguf_version"

echo "== models"
if [ ! -d "$shared/models/stories260k" ]; then
    echo "make-device-bundle: $shared/models/stories260k is absent (LFTF_SHARED_DIR)" >&2
    exit 1
fi
cp -r "$shared/models/stories260k" "$tmp/bundle/models/"
chmod -R u+w "$tmp/bundle/models"
gguf_src="$shared/models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf"
"$py" "$here/scripts/cuda_check.py" cut-gguf --src "$gguf_src" --blocks "$blocks" \
    --out "$tmp/bundle/models/smollm2-135m-first$blocks.gguf"

(cd "$tmp/bundle" && find . -type f ! -name MANIFEST | sort | xargs sha256sum |
     while read -r sum f; do printf '%s %10d %s\n' "$sum" "$(stat -c %s "$f")" "$f"; done) \
    > "$tmp/bundle/MANIFEST"
rm -rf "$out"
mv "$tmp/bundle" "$out"
echo "== $out: $(du -sh "$out" | cut -f1), glibc needed ${glibc#GLIBC_}"
cat "$out/MANIFEST"
