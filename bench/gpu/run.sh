#!/usr/bin/env bash
# Runs the WebGPU benchmark on a real GPU (an x86-64 Linux box, e.g. with an
# NVIDIA H100, no network) in under 5 minutes, writing to $OUT:
#   webgpu_bench.txt    the printed table (refold vs onnxruntime-web WebGPU, f16 error)
#   webgpu_bench.json   the same figures, per case
#   gpu.txt             nvidia-smi and the WebGPU adapter seen
# It needs .gpu/ from bench/gpu/prepare.sh (run on the development machine)
# carried with the working tree; run it from the repository root:
#   bash bench/gpu/run.sh [--quick]
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/refold-gpu-out}"
mkdir -p "$OUT"
work=/tmp/refold-gpu
mkdir -p "$work"
[ -f .gpu/deno.xz ] || { echo "run.sh: .gpu/ is missing; run bench/gpu/prepare.sh and carry .gpu" >&2; exit 1; }
unxz() { python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$1" "$2"; }
unxz .gpu/deno.xz "$work/deno"
chmod +x "$work/deno"
unxz .gpu/ort-wasm-simd-threaded.asyncify.wasm.xz "$work/ort-wasm-simd-threaded.asyncify.wasm"
cp .gpu/webgpu_bench.js .gpu/ort-wasm-simd-threaded.asyncify.mjs "$work/"
# Deno's WebGPU (wgpu) drives the GPU through Vulkan: bring the loader if the image has none.
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
export XDG_RUNTIME_DIR=/tmp DENO_DIR=/tmp/refold-deno-dir DENO_NO_UPDATE_CHECK=1
probe='const a = await navigator.gpu?.requestAdapter(); const i = a?.info;
console.log(a ? `${i.description} | ${i.vendor} | ${i.architecture} | shader-f16 ${a.features.has("shader-f16")}` : "none");'
adapter="$(cd "$work" && timeout 60 ./deno eval --no-config "$probe" 2>&1 | tail -1)"
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if { [ "$adapter" = none ] || echo "$adapter" | grep -qi llvmpipe; } && [ -f "$nvidia_icd" ]; then
  export VK_DRIVER_FILES="$nvidia_icd"
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  adapter="$(cd "$work" && timeout 60 ./deno eval --no-config "$probe" 2>&1 | tail -1)"
fi
{ nvidia-smi 2>&1 | head -15; echo "WebGPU adapter: $adapter"; } > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"
(cd "$work" && timeout 270 ./deno run -A --no-config --v8-flags=--max-old-space-size=16384 \
  webgpu_bench.js --out="$OUT" "$@") 2>&1 | tee "$OUT/webgpu_bench.txt"
