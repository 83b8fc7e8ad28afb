#!/usr/bin/env bash
# Prepares .gpu/ for bench/gpu/run.sh on an x86-64 Linux machine with a GPU and
# no network. Run here, from the repository root; then carry `.gpu` with the
# working tree (about 40 MB):
#   .gpu/deno.xz                          this deno binary, xz-compressed
#   .gpu/webgpu_bench.js                  bench/webgpu_bench.ts bundled with every import
#   .gpu/ort-wasm-simd-threaded.asyncify.mjs, .wasm.xz  onnxruntime-web's WebGPU runtime
#   .gpu/debs/libvulkan1_*.deb            the Vulkan loader, in case the machine lacks one
# .gpu/ is kept out of git through .git/info/exclude.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/debs
deno run -A bench/gpu/bundle.ts .gpu
deno_bin="$(readlink -f "$(command -v deno)")"
[ "$(uname -m)" = x86_64 ] || { echo "prepare.sh: this deno is $(uname -m), the GPU machine is x86-64" >&2; exit 1; }
xz -T0 -6 -c "$deno_bin" > .gpu/deno.xz
xz -T0 -6 .gpu/ort-wasm-simd-threaded.asyncify.wasm
# Debian's Vulkan loader, fetched by apt as the device notes describe.
apt_opts=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
mkdir -p /tmp/amd64/partial
apt-get "${apt_opts[@]}" update -qq
(cd .gpu/debs && apt-get "${apt_opts[@]}" download libvulkan1 >/dev/null)
du -sh .gpu
