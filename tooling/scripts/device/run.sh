#!/usr/bin/env bash
# Runs on the GPU machine from the repository root: unpack Node and the Vulkan loader, point Dawn at
# the NVIDIA Vulkan driver, then run the conformance suite and the backend benchmark (cpu + webgpu).
# Results go to $OUT (or ./device-out).
set -uo pipefail
d=.devcarry
OUT=${OUT:-$PWD/device-out}; mkdir -p "$OUT"
xz -dc "$d/node.xz" > /tmp/node && chmod +x /tmp/node
mkdir -p "$d/node_modules/webgpu/dist/linux-x64" && xz -dc "$d/dawn.node.xz" > "$d/node_modules/webgpu/dist/linux-x64/dawn.node"
for f in "$d"/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done; ldconfig
icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)
[ -n "$icd" ] && export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
echo "vulkan icd: ${icd:-none found}"
glx=$(ldconfig -p | grep 'libGLX_nvidia.so.0' | awk '{print $NF}' | head -1); echo "nvidia glx: ${glx:-none}"; [ -n "$glx" ] && ldd "$glx" | grep 'not found' || true
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
export XDG_RUNTIME_DIR=/tmp
cd "$d"
if [ "${ALTAR_DEVICE_SKIP_FLOOR:-0}" != 1 ]; then
timeout 240 /tmp/node conformance.mjs --backends cpu,webgpu --verbose --out "$OUT/conformance.json" 2>&1 | tail -8
ALTAR_BENCH_OUT="$OUT" ALTAR_BENCH_BACKENDS=cpu,webgpu ALTAR_BENCH_SIZES=256,512,1024,2048 timeout 200 /tmp/node backend-bench.mjs 2>&1 | tail -12
fi
[ -f models.bench.mjs ] && ALTAR_BENCH_OUT="$OUT" ALTAR_BENCH_BACKENDS=webgpu ALTAR_BENCH_BATCH=16 timeout ${ALTAR_MODELS_TIMEOUT:-230} /tmp/node models.bench.mjs 2>&1 | tail -40
[ -f samplers.bench.mjs ] && ALTAR_BENCH_OUT="$OUT" ALTAR_BENCH_BACKENDS=webgpu ALTAR_BENCH_NS=64,256 timeout 100 /tmp/node samplers.bench.mjs 2>&1 | tail -25
# altar vs PyTorch (CUDA) on the reference model, then GPT-2 small: ratios in $OUT/reference-webgpu*.json.
# ALTAR_REFERENCE_ARGS adds options to the ref run (a smoke test on a software adapter: "--batch 1 --decode 8 --steps 1").
if [ -f reference-bench.mjs ] && [ -f bench-reference.mjs ]; then
  ALTAR_REFERENCE_BENCH=$PWD/reference-bench.mjs ALTAR_BENCH_OUT="$OUT" ALTAR_TORCH_PEER=$PWD/torch_reference.py \
    timeout ${ALTAR_REFERENCE_TIMEOUT:-300} /tmp/node bench-reference.mjs --backend webgpu --size ref ${ALTAR_REFERENCE_ARGS:-} 2>&1 | grep -v 'Hi, looks like' | tail -30
  [ "${ALTAR_REFERENCE_GPT2:-1}" = 1 ] && ALTAR_REFERENCE_BENCH=$PWD/reference-bench.mjs ALTAR_BENCH_OUT="$OUT" ALTAR_TORCH_PEER=$PWD/torch_reference.py \
    timeout ${ALTAR_REFERENCE_GPT2_TIMEOUT:-240} /tmp/node bench-reference.mjs --backend webgpu --size gpt2-small --no-baseline --steps 2 2>&1 | grep -v 'Hi, looks like' | tail -30
fi
# The same code on Dawn's null adapter (no kernel runs): this host's own cost per step, token and pass, to set
# against the GPU run above (what remains of a GPU step beyond it is GPU time or waiting).
[ -f reference-bench.mjs ] && [ -f bench-reference.mjs ] && ALTAR_DAWN_FLAGS=backend=null ALTAR_REFERENCE_BENCH=$PWD/reference-bench.mjs \
  ALTAR_BENCH_OUT="$OUT" timeout ${ALTAR_NULL_TIMEOUT:-120} /tmp/node bench-reference.mjs --backend webgpu --size ref --steps 32 --decode 64 2>&1 | grep -v 'Hi, looks like' | tail -12
# The playground's Lab (the browser worker's code) in Node on Dawn: training throughput per family and the race.
[ -f lab-bench.mjs ] && ALTAR_BENCH_OUT="$OUT" ALTAR_BENCH_BACKENDS=${ALTAR_LAB_BACKENDS:-webgpu} timeout 200 /tmp/node lab-bench.mjs 2>&1 | grep -v -e '^=*$' -e 'Hi, looks like' | tail -20
