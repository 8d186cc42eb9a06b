/**
 * Backend floor benchmarks: matMul GFLOP/s at 256/512/1024 and per-op dispatch overhead (µs for a
 * tiny elementwise op) on each available backend. The cpu backend is the baseline of the ratios.
 * Writes bench/results/backend.json. ALTAR_BENCH_QUICK=1 shrinks it; ALTAR_BENCH_BACKENDS picks backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { benchQuick, formatTable, median, timeIt, writeBenchResult } from '@altar/tooling/bench';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/init.js';
import type { BackendName } from '../src/init-types.js';
import { Rng } from '../src/rng.js';

const quick = benchQuick();
const sizes = process.env['ALTAR_BENCH_SIZES']
  ? process.env['ALTAR_BENCH_SIZES'].split(',').map(Number)
  : quick
    ? [128, 256]
    : [256, 512, 1024];
const backends = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'cpu,wasm,webgpu').split(',') as BackendName[];
const rows: Array<Record<string, number | string>> = [];
const results: Record<string, unknown>[] = [];

for (const name of backends) {
  let adapter: string;
  try {
    adapter = (await initBackend(name)).adapter;
  } catch (e) {
    process.stderr.write(`bench: ${name} skipped: ${(e as Error).message}\n`);
    results.push({ backend: name, skipped: (e as Error).message });
    continue;
  }
  const rng = new Rng(1);
  const matmul: Record<string, number> = {};
  for (const n of sizes) {
    const a = rng.normal([n, n]);
    const b = rng.normal([n, n]);
    // Fewer repetitions where one product takes seconds (the cpu backend at 1024).
    const reps = name === 'cpu' && n >= 1024 ? 2 : quick ? 3 : 5;
    const times = await timeIt(
      async () => {
        const c = tf.matMul(a, b);
        await c.data();
        c.dispose();
      },
      reps,
      1,
    );
    tf.dispose([a, b]);
    matmul[n] = (2 * n ** 3) / (median(times) / 1000) / 1e9;
  }
  // Dispatch: 200 chained tiny adds, one readback at the end.
  const x = tf.ones([4]);
  const chain = 200;
  const times = await timeIt(
    async () => {
      const y = tf.tidy(() => {
        let t = x;
        for (let i = 0; i < chain; i++) t = tf.add(t, 1);
        return t;
      });
      await y.data();
      y.dispose();
    },
    quick ? 3 : 7,
    2,
  );
  x.dispose();
  const dispatchUs = (median(times) * 1000) / chain;
  results.push({ backend: name, adapter, matmulGflops: matmul, dispatchUs });
  rows.push({
    backend: name,
    ...Object.fromEntries(sizes.map((n) => [`matMul ${n} GFLOP/s`, matmul[n]!])),
    'dispatch µs/op': dispatchUs,
  });
}

const base = rows.find((r) => r['backend'] === 'cpu');
if (base) {
  for (const r of rows) {
    for (const n of sizes)
      r[`×cpu@${n}`] = (r[`matMul ${n} GFLOP/s`] as number) / (base[`matMul ${n} GFLOP/s`] as number);
  }
}
process.stdout.write(
  `\nbackend floor (median of repetitions; ratios against the cpu backend in this run)\n${formatTable(rows)}\n`,
);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = writeBenchResult(pkgDir, 'backend', { quick, sizes, results });
process.stdout.write(`wrote ${file}\n`);
process.exit(0);
