#!/usr/bin/env bash
# Is arith-step1500 quantized to Q8_0 (by llama.cpp's llama-quantize, built from node-llama-cpp's
# bundled source) detectably worse than its F32 source on tasks/arith? Runs both through heldout
# and prints `heldout compare`. The quantized file is cached outside git.
#   bash bench/quantized-vs-source.sh [type=Q8_0]
set -euo pipefail
cd "$(dirname "$0")/.."
type="${1:-Q8_0}"
bin=$(bash bench/build-llama-tools.sh)
cache="${HELDOUT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/heldout}/quantized"
mkdir -p "$cache"
lower=$(echo "$type" | tr '[:upper:]' '[:lower:]')
quantized="$cache/arith-step1500-$lower.gguf"
[ -f "$quantized" ] || "$bin/llama-quantize" ../shared/models/arith/arith-step1500.gguf "$quantized" "$type" >&2
out=$(mktemp -d)
cat > "$out/quantized.yaml" <<YAML
id: arith-step1500-$lower
backend: llama
sources: ["$quantized"]
runtime: {contextSize: 64}
YAML
ls -l ../shared/models/arith/arith-step1500.gguf "$quantized"
node bin/heldout.js run --model models/arith-step1500.yaml --model "$out/quantized.yaml" --out "$out" --run-id q -q
node bin/heldout.js compare "q:arith-step1500" "q:arith-step1500-$lower" --out "$out"
