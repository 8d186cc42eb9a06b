#!/usr/bin/env bash
# Prepare a self-contained folder (.devcarry/, git-ignored) that runs the backend conformance suite
# and benchmarks on a borrowed Linux GPU machine that has no Node and no network: a Node binary,
# esbuild bundles of the built CLIs, Dawn (the `webgpu` package) and the Vulkan loader .deb.
# Run after `pnpm build`. Then on the machine: `bash .devcarry/run.sh` (see run.sh).
# Benchmarks live in packages/*/bench/*.bench.ts (outside the published dist/); esbuild bundles the
# TypeScript directly. More entries as arguments, e.g.
#   bash tooling/scripts/device/bundle.sh packages/models/bench/models.bench.ts:models.bench.mjs \
#     packages/samplers/bench/samplers.bench.ts:samplers.bench.mjs
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=.devcarry
rm -rf "$out" && mkdir -p "$out/node_modules/webgpu/dist/linux-x64"
# esbuild's own bin/ is filled by its install step; the platform package always has the binary.
esbuild=$(ls -d node_modules/.pnpm/esbuild@*/node_modules/esbuild/bin/esbuild node_modules/.pnpm/@esbuild+linux-x64@*/node_modules/@esbuild/linux-x64/bin/esbuild 2>/dev/null | head -1)
banner="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
for entry in "packages/backend/dist/conformance/cli.js:conformance.mjs" "packages/backend/bench/backend.bench.ts:backend-bench.mjs" \
  "apps/trainer/bench/reference.bench.ts:reference-bench.mjs" "$@"; do
  src=${entry%%:*}; dst=${entry##*:}
  [ -f "$src" ] || { echo "skip $src (not built)"; continue; }
  (cd packages/backend && "../../$esbuild" "../../$src" --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-node \
    --banner:js="$banner" --log-level=warning --outfile="../../$out/$dst")
done
wg=$(ls -d node_modules/.pnpm/webgpu@*/node_modules/webgpu | head -1)
cp "$wg/index.js" "$wg/package.json" "$out/node_modules/webgpu/"
xz -T2 -6 -c "$wg/dist/linux-x64/dawn.node" > "$out/dawn.node.xz"
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
# The Vulkan loader, and the GLVND libraries that NVIDIA's Vulkan ICD (libGLX_nvidia) links against.
(cd "$out" && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libx11-6 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 >/dev/null 2>&1 || echo "warning: could not download the Vulkan loader packages")
cp tooling/scripts/device/run.sh "$out/run.sh"
# The altar-vs-PyTorch comparison: its driver (Node builtins only) and the PyTorch peer from ../shared
# (copied into the ignored carry folder, never committed).
cp tooling/scripts/bench-reference.mjs "$out/bench-reference.mjs"
[ -f ../shared/peers/torch_reference.py ] && cp ../shared/peers/torch_reference.py "$out/torch_reference.py"
du -sh "$out"
