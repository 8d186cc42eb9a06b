/**
 * Where the norms sit in one training step of the reference model (byte vocabulary, d 256 × 4 layers × 4 heads,
 * learned positions, GELU MLP, sequence 256, batch 16 — apps/trainer/bench/reference.bench.ts's `ref`): forward
 * + backward of the mean token NLL, profiled with tf.profile, fused kernels on. Sums the kernel time of the norm
 * kernels (the residual add fused into LayerNorm, its gradient, and the plain LayerNorm of the stack's first
 * norm) and of the remaining Add kernels, against the whole step's kernel time; REPS profiled steps, medians.
 *
 *   cd packages/models && npx tsx --conditions=@altar/source bench/norm-step.bench.ts
 *
 * Env: ALTAR_BENCH_BACKENDS (default wasm), ALTAR_BENCH_REPS (default 5). Writes bench/results/norm-step.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, Rng, softmaxCrossEntropy, type BackendName } from '@altar/backend';
import { formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { createModel } from '../src/index.js';

const CONFIG = { type: 'ar-transformer', vocabSize: 256, dModel: 256, nLayers: 4, nHeads: 4, maxLen: 256 };
const [SEQ, BATCH] = [256, 16];
const REPS = Number(process.env['ALTAR_BENCH_REPS'] ?? 5);
const BACKENDS = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',') as BackendName[];
const NORM = /Norm/;

const rows: Array<Record<string, number | string>> = [];
for (const backend of BACKENDS) {
  await initBackend(backend);
  const m = createModel({ ...CONFIG, positions: 'learned', seed: 1 } as never) as unknown as {
    forward(t: tf.Tensor): tf.Tensor;
    variables(): tf.Variable[];
    dispose(): void;
  };
  const seq = new Rng(2).randint([BATCH, SEQ + 1], 0, 256);
  const inp = tf.slice(seq, [0, 0], [BATCH, SEQ]);
  const tgt = tf.slice(seq, [0, 1], [BATCH, SEQ]);
  const sample: Record<string, number[]> = { step: [], norms: [], adds: [], normCalls: [] };
  for (let rep = 0; rep <= REPS; rep++) {
    const t0 = performance.now();
    const p = await tf.profile(async () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.mean(softmaxCrossEntropy(m.forward(inp), tgt))));
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    });
    const wall = performance.now() - t0;
    const ms = (re: RegExp) =>
      p.kernels.filter((k) => re.test(k.name)).reduce((s, k) => s + (k.kernelTimeMs as number), 0);
    if (rep === 0) continue; // warm-up
    sample['step']!.push(wall);
    sample['norms']!.push(ms(NORM));
    sample['adds']!.push(ms(/^Add$/));
    sample['normCalls']!.push(p.kernels.filter((k) => NORM.test(k.name)).length);
  }
  tf.dispose([seq, inp, tgt]);
  m.dispose();
  rows.push({
    backend,
    'step ms': median(sample['step']!),
    'norm kernels ms': median(sample['norms']!),
    'norm share': median(sample['norms']!) / median(sample['step']!),
    'norm kernels/step': median(sample['normCalls']!),
    'Add kernels ms': median(sample['adds']!),
  });
}
process.stdout.write(`\nreference model, one forward + backward (medians of ${REPS})\n${formatTable(rows)}\n`);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
process.stdout.write(`wrote ${writeBenchResult(pkgDir, 'norm-step', { reps: REPS, config: CONFIG, rows })}\n`);
process.exit(0);
