#!/usr/bin/env bash
# The main job: set up, then run the whole LFTF pipeline (evaluate, locate,
# fine-tune, evaluate again) on the default model, writing demo-out/.
# Default: the real SmolLM2-135M-Instruct from its llama.cpp file (~5 min on
# 2 cores); pass ../shared/models/stories260k for the 20-second toy.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$here/../shared/models/smollm2-135m-instruct-gguf/SmolLM2-135M-Instruct.Q4_1.gguf}
out=${2:-$here/demo-out}
bash "$here/scripts/setup.sh"
# a Hugging Face model directory or a GGUF file (llama.cpp / Ollama)
if [ ! -d "$model" ] && [ ! -f "$model" ]; then
  echo "demo: model '$model' not found (pass a Hugging Face model directory or a .gguf file as the first argument)" >&2
  exit 1
fi
# A previous demo's output (it has a report.json) is replaced; anything else is refused by lftf.
if [ -f "$out/report.json" ]; then rm -rf "$out"; fi
"$here/build/bin/lftf" run --model "$model" --out "$out"
echo "demo: wrote $out/report.html (open it in a browser), $out/report.json, $out/bmi.svg, $out/professions.svg and the debiased model in $out/model/"
