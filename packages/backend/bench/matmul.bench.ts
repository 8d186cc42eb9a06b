/**
 * wasm matrix products: altar's SIMD product (src/fused/bmm-wasm.ts, with and without relaxed-SIMD fused
 * multiply-adds) against tfjs-wasm's own BatchMatMul (XNNPACK), on the reference model's training shapes
 * (B·N = 4096 rows, d_model 256, MLP 1024, QKV 768) and attention's batched (64, 256, 256) @ (64, 256, 64).
 * Every call gets a new right operand, as in training (where weights change every step and gradients are
 * always new). Modes alternate within each repetition; medians and GFLOP/s, ratios against XNNPACK.
 *
 *   cd packages/backend && npx tsx --conditions=@altar/source bench/matmul.bench.ts
 *
 * Writes bench/results/matmul.json. ALTAR_BENCH_QUICK=1 shrinks it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchMatMul, getKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { benchQuick, formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bmmWasm, setBmmFma, type WasmHeap } from '../src/fused/bmm-wasm.js';
import { initBackend } from '../src/init.js';
import { Rng } from '../src/rng.js';

const quick = benchQuick();
const REPS = quick ? 3 : 7;
const SHAPES: Array<[string, number[], number[]]> = [
  ['MLP up (4096, 256) @ (256, 1024)', [4096, 256], [256, 1024]],
  ['MLP down (4096, 1024) @ (1024, 256)', [4096, 1024], [1024, 256]],
  ['QKV (4096, 256) @ (256, 768)', [4096, 256], [256, 768]],
  ['weight grad (1024, 4096) @ (4096, 256)', [1024, 4096], [4096, 256]],
  ['denoiser (256, 256) @ (256, 768)', [256, 256], [256, 768]],
  ['attention (64, 256, 256) @ (64, 256, 64)', [64, 256, 256], [64, 256, 64]],
];

await initBackend('wasm');
const be = tf.backend() as unknown as WasmHeap;
const native = (getKernel(BatchMatMul, 'wasm')!.kernelFunc as { altarNative?: KernelFunc }).altarNative;
if (!native) throw new Error('matmul bench: the wasm fast paths are off (ALTAR_FUSED=0?)');
const rng = new Rng(3);

type Mode = 'xnnpack' | 'altar fma' | 'altar plain';
// Without relaxed SIMD (or with ALTAR_WASM_FMA=0) there is no FMA column.
const hasFma = setBmmFma(true);
if (!hasFma) process.stderr.write('matmul bench: no relaxed SIMD here (or ALTAR_WASM_FMA=0): no FMA column\n');
const MODES: Mode[] = hasFma ? ['xnnpack', 'altar fma', 'altar plain'] : ['xnnpack', 'altar plain'];
const run = (mode: Mode, a: tf.Tensor, b: tf.Tensor): TensorInfo => {
  if (mode === 'xnnpack') {
    return native({
      inputs: { a, b },
      backend: be as never,
      attrs: { transposeA: false, transposeB: false },
    }) as TensorInfo;
  }
  setBmmFma(mode === 'altar fma');
  const r = a.rank;
  return bmmWasm(be)!(a, b, [...a.shape.slice(0, -2), a.shape[r - 2]!, b.shape[r - 1]!]);
};

const rows: Array<Record<string, number | string>> = [];
for (const [name, as, bs] of SHAPES) {
  const a = rng.normal(as);
  const flops = (2 * tf.util.sizeFromShape(as) * bs[bs.length - 1]!) / 1e9;
  const times: Record<Mode, number[]> = { xnnpack: [], 'altar fma': [], 'altar plain': [] };
  for (let rep = 0; rep <= REPS; rep++) {
    for (const mode of MODES) {
      const b = rng.normal(bs); // a new right operand every call
      const t0 = performance.now();
      const out = run(mode, a, b);
      const ms = performance.now() - t0;
      be.disposeData(out.dataId);
      b.dispose();
      if (rep > 0) times[mode].push(ms); // rep 0 warms every mode up
    }
  }
  a.dispose();
  const med = Object.fromEntries(MODES.map((m) => [m, median(times[m])])) as Record<Mode, number>;
  rows.push({
    shape: name,
    'xnnpack ms': +med.xnnpack.toFixed(2),
    ...(hasFma ? { 'altar fma ms': +med['altar fma'].toFixed(2) } : {}),
    'altar plain ms': +med['altar plain'].toFixed(2),
    'xnnpack GFLOP/s': +(flops / (med.xnnpack / 1000)).toFixed(1),
    ...(hasFma
      ? {
          'fma GFLOP/s': +(flops / (med['altar fma'] / 1000)).toFixed(1),
          'fma speed-up': +(med.xnnpack / med['altar fma']).toFixed(3),
        }
      : {}),
    'plain speed-up': +(med.xnnpack / med['altar plain']).toFixed(3),
  });
}
setBmmFma(true);
process.stdout.write(
  `wasm matmul with a new right operand each call (median of ${REPS}, alternating)\n${formatTable(rows)}\n`,
);
const out = writeBenchResult(join(dirname(fileURLToPath(import.meta.url)), '..'), 'matmul', {
  reps: REPS,
  results: rows,
});
process.stdout.write(`wrote ${out}\n`);
