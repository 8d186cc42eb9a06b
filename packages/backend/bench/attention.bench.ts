/**
 * Fused attention benchmark: forward + backward (the gradients of Σ o·w with respect to q, k and v) of the
 * fused attention kernel (called directly: `attentionFused` itself keeps the composition on wasm, where this
 * benchmark found the kernel slower) against `attentionComposition`, measured alternately in one run.
 *
 *   cd packages/backend && npx tsx --conditions=@altar/source bench/attention.bench.ts
 *
 * Shapes: the reference AR model's attention (B 16, H 4, N 256, dh 64, causal), the denoiser's pass
 * (B 1, H 4, N 256, dh 64, bidirectional) and a sliding window (B 4, H 4, N 1024, dh 64, W 64).
 * Env: ALTAR_BENCH_BACKENDS (default wasm), ALTAR_BENCH_REPS (timed calls per mode, default 9).
 * Writes bench/results/attention.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { attentionAttrs, attentionComposition, type AttentionFusedOptions } from '../src/fused/attention.js';
import { FUSED_KERNELS } from '../src/fused/names.js';
import { initBackend } from '../src/init.js';
import type { BackendName } from '../src/init-types.js';
import { Rng } from '../src/rng.js';

const REPS = Number(process.env['ALTAR_BENCH_REPS'] ?? 9);
const BACKENDS = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',') as BackendName[];
const SHAPES: Array<{ name: string; shape: [number, number, number, number]; opts: AttentionFusedOptions }> = [
  { name: 'causal B16 H4 N256 dh64', shape: [16, 4, 256, 64], opts: { causal: true } },
  { name: 'bidirectional B1 H4 N256 dh64', shape: [1, 4, 256, 64], opts: { causal: false } },
  { name: 'sliding W64 B4 H4 N1024 dh64', shape: [4, 4, 1024, 64], opts: { causal: true, window: 64 } },
];

const rows: Array<Record<string, unknown>> = [];
for (const backend of BACKENDS) {
  await initBackend(backend);
  const rng = new Rng(5);
  for (const { name, shape, opts } of SHAPES) {
    const [q, k, v, w] = [0, 1, 2, 3].map(() => rng.normal(shape) as tf.Tensor4D) as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor4D,
    ];
    const a = attentionAttrs(opts, shape[3]);
    const kernel = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
      (
        tf
          .engine()
          .runKernel(
            FUSED_KERNELS.attention,
            { q: x, k: y, v: z },
            a as unknown as NamedAttrMap,
          ) as unknown as tf.Tensor[]
      )[0]!;
    const composition = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
      attentionComposition(x as tf.Tensor4D, y as tf.Tensor4D, z as tf.Tensor4D, a.causal, a.window, a.scale);
    let op = kernel;
    const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) => tf.tidy(() => tf.sum(tf.mul(op(x, y, z), w)) as tf.Scalar);
    // Wall time and this process's CPU time (user + system): the machine is shared, and CPU time is what
    // other processes' load disturbs least (the wasm backend runs on one thread).
    const step = async (): Promise<[number, number]> => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const gs = tf.grads(f)([q, k, v]);
      await Promise.all(gs.map((g) => g.data()));
      tf.dispose(gs);
      const c = process.cpuUsage(c0);
      return [performance.now() - t0, (c.user + c.system) / 1000];
    };
    const times = { fused: [] as number[], composition: [] as number[] };
    const cpu = { fused: [] as number[], composition: [] as number[] };
    const modes = ['fused', 'composition'] as const;
    for (const mode of modes) {
      op = mode === 'fused' ? kernel : composition;
      await step(); // warm-up
    }
    for (let r = 0; r < REPS; r++) {
      for (const mode of modes) {
        op = mode === 'fused' ? kernel : composition;
        const [wall, used] = await step();
        times[mode].push(wall);
        cpu[mode].push(used);
      }
    }
    tf.dispose([q, k, v, w]);
    const fused = median(times.fused);
    const comp = median(times.composition);
    rows.push({
      backend,
      shape: name,
      'kernel ms': fused,
      'composition ms': comp,
      'speed-up': comp / fused,
      'kernel cpu ms': median(cpu.fused),
      'composition cpu ms': median(cpu.composition),
      'cpu speed-up': median(cpu.composition) / median(cpu.fused),
      times,
      cpu,
    });
    process.stdout.write(`${backend} ${name}: fused ${fused.toFixed(1)} ms, composition ${comp.toFixed(1)} ms\n`);
  }
}
process.stdout.write(
  `\nattention fwd+bwd (median of ${REPS}, alternating; speed-up = composition / kernel; wall and process CPU ms)\n` +
    formatTable(rows.map(({ times: _t, cpu: _c, ...r }) => r)) +
    '\n',
);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = writeBenchResult(pkgDir, 'attention', {
  reps: REPS,
  results: rows,
  notes:
    'forward + backward (grads of Σ o·w wrt q, k, v); the fused kernel (called directly) vs attentionComposition, alternating in one run; cpu ms = process CPU time',
});
process.stdout.write(`wrote ${file}\n`);
process.exit(0);
