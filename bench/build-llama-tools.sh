#!/usr/bin/env bash
# Builds llama.cpp's own tools (llama-bench, llama-batched-bench, llama-server, llama-quantize,
# llama-perplexity) from the source
# node-llama-cpp ships (node_modules/node-llama-cpp/llama/gitRelease.bundle), offline, for
# reference measurements. The build is cached outside git, keyed by the bundle's commit:
#   ${HELDOUT_CACHE_DIR:-~/.cache/heldout}/llama.cpp-<commit>/build/bin/
# Prints the bin directory. About 4-5 minutes on 2 cores the first time; instant afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=node_modules/node-llama-cpp/llama/gitRelease.bundle
[ -f "$bundle" ] || { echo "no $bundle: run npm install first" >&2; exit 1; }
cache="${HELDOUT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/heldout}"
commit=$(git bundle list-heads "$bundle" | head -1 | cut -c1-12)
src="$cache/llama.cpp-$commit"
targets=(llama-bench llama-batched-bench llama-server llama-quantize llama-perplexity)
if [ -x "$src/build/bin/llama-batched-bench" ] && [ -x "$src/build/bin/llama-bench" ] && [ -x "$src/build/bin/llama-server" ] && [ -x "$src/build/bin/llama-quantize" ] && [ -x "$src/build/bin/llama-perplexity" ]; then
  echo "$src/build/bin"
  exit 0
fi
mkdir -p "$cache"
[ -d "$src/.git" ] || git clone -q "$bundle" "$src" >&2
# Same CPU options as the node-llama-cpp source build heldout offers: portable (no -march=native), OpenMP.
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_OPENMP=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF >&2 \
  || cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_OPENMP=ON \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_CURL=OFF >&2
cmake --build "$src/build" -j "$(nproc)" --target "${targets[@]}" >&2
echo "$src/build/bin"
