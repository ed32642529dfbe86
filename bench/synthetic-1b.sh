#!/usr/bin/env bash
# "How would a 1B model at Q4_0 run on this machine?" without downloading one: heldout synth
# writes a 1B-shaped llama GGUF with random weights (cached outside git), then heldout profile
# measures it with both engines (node-llama-cpp embedded, and llama.cpp's own llama-server; pp512,
# tg128; threads 1 and 2), and llama-bench measures the same file. On a model of real size the
# llama-server engine reads within 5% of llama-bench (on a 2-vCPU Xeon, 2 threads: pp512 1.00,
# tg64 1.04); on the tiny test models it trails by a fixed ~0.17 ms per generated token of server
# loop, which only a model generating thousands of tokens per second notices.
#   npm run build && bash bench/synthetic-1b.sh [shape=1b] [type=q4_0]
set -euo pipefail
cd "$(dirname "$0")/.."
shape="${1:-1b}"; type="${2:-q4_0}"
cache="${HELDOUT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/heldout}/synthetic"
mkdir -p "$cache"
model="$cache/$shape-$type.gguf"
[ -f "$model" ] || node bin/heldout.js synth --shape "$shape" --type "$type" --out "$model"
ls -l "$model"
node bin/heldout.js profile --model "$model" --pp 512 --tg 128 --threads 1,2 --engine embedded,llama-server --reps 3 --warmup 1 --gpu cpu --out "$(mktemp -d)"
bin=$(bash bench/build-llama-tools.sh)
"$bin/llama-bench" -m "$model" -p 512 -n 128 -t 1,2 -r 3 -fa 0 2>/dev/null
