/**
 * The residual add fused into the norm: add + LayerNorm (and add + RMSNorm) forward, and forward + backward,
 * at (rows, D) = (4096, 256) — the reference model's B·N × d_model, 9 norms a training step. Variants,
 * alternated within each repetition:
 *   fused        addLayerNorm / addRmsNorm (one kernel each way)
 *   composition  the same ops with fused kernels off (tf.add, then the norm as tfjs ops)
 *   separate     tf.add, then the fused norm without the add: layerNormFused (the model's path before
 *                addLayerNorm) or rmsNormFused (for RMSNorm the model's path before was the composition)
 * fwd+bwd times the gradient of s + y with a fixed upstream gradient (the extra Add is in every variant).
 * Wall time and this process's CPU time (process.cpuUsage: less sensitive to other processes on a shared machine).
 * Writes bench/results/norm.json. ALTAR_BENCH_BACKENDS picks backends (default wasm); ALTAR_BENCH_QUICK=1 shrinks it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { benchQuick, formatTable, median, timeIt, writeBenchResult } from '@altar/tooling/bench';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/init.js';
import type { BackendName } from '../src/init-types.js';
import { Rng } from '../src/rng.js';
import { setFusedKernels } from '../src/fused/host-kernel.js';
import { layerNormFused } from '../src/fused/ops.js';
import { addLayerNorm, addRmsNorm, rmsNormFused } from '../src/fused/norm.js';

const quick = benchQuick();
const ROWS = quick ? 1024 : 4096;
const D = 256;
const REPS = quick ? 3 : 9;
const backends = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',') as BackendName[];

type Pair = (x: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => [tf.Tensor, tf.Tensor];
const VARIANTS: Array<{ norm: string; name: string; fused: boolean; fn: Pair }> = [
  { norm: 'layernorm', name: 'fused', fused: true, fn: (x, r, g, b) => addLayerNorm(x, r, g, b) },
  { norm: 'layernorm', name: 'composition', fused: false, fn: (x, r, g, b) => addLayerNorm(x, r, g, b) },
  {
    norm: 'layernorm',
    name: 'separate',
    fused: true,
    fn: (x, r, g, b) => {
      const s = tf.add(x, r);
      return [s, layerNormFused(s, g, b)];
    },
  },
  { norm: 'rmsnorm', name: 'fused', fused: true, fn: (x, r, g) => addRmsNorm(x, r, g) },
  { norm: 'rmsnorm', name: 'composition', fused: false, fn: (x, r, g) => addRmsNorm(x, r, g) },
  {
    norm: 'rmsnorm',
    name: 'separate',
    fused: true,
    fn: (x, r, g) => {
      const s = tf.add(x, r);
      return [s, rmsNormFused(s, g, 1e-5)];
    },
  },
];

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const rows: Array<Record<string, number | string>> = [];
const results: Record<string, unknown>[] = [];
for (const backend of backends) {
  try {
    await initBackend(backend);
  } catch (e) {
    process.stderr.write(`bench: ${backend} skipped: ${(e as Error).message}\n`);
    results.push({ backend, skipped: (e as Error).message });
    continue;
  }
  const rng = new Rng(7);
  const x = rng.normal([ROWS, D]);
  const r = rng.normal([ROWS, D]);
  const g = tf.add(1, tf.mul(0.1, rng.normal([D])));
  const b = tf.mul(0.1, rng.normal([D]));
  const dOut = rng.normal([ROWS, D]);
  const fwd = VARIANTS.map(() => [] as number[]);
  const both = VARIANTS.map(() => [] as number[]);
  const fwdCpu = VARIANTS.map(() => [] as number[]);
  const bothCpu = VARIANTS.map(() => [] as number[]);
  for (let rep = 0; rep < REPS + 1; rep++) {
    for (const [i, v] of VARIANTS.entries()) {
      setFusedKernels(v.fused);
      const c0 = cpuMs();
      const tf1 = await timeIt(
        async () => {
          const [s, y] = v.fn(x, r, g, b);
          await Promise.all([s.data(), y.data()]);
          tf.dispose([s, y]);
        },
        1,
        0,
      );
      const c1 = cpuMs();
      const tf2 = await timeIt(
        async () => {
          const grads = tf.tidy(() =>
            tf.grads((...a: tf.Tensor[]) => {
              const [s, y] = v.fn(a[0]!, a[1]!, a[2]!, a[3] ?? b);
              return tf.add(s, y);
            })(v.norm === 'layernorm' ? [x, r, g, b] : [x, r, g], dOut),
          );
          await Promise.all(grads.map((t) => t.data()));
          tf.dispose(grads);
        },
        1,
        0,
      );
      const c2 = cpuMs();
      if (rep > 0) {
        // rep 0 is the warm-up of every variant
        fwd[i]!.push(tf1[0]!);
        both[i]!.push(tf2[0]!);
        fwdCpu[i]!.push(c1 - c0);
        bothCpu[i]!.push(c2 - c1);
      }
    }
  }
  setFusedKernels(true);
  tf.dispose([x, r, g, b, dOut]);
  for (const [i, v] of VARIANTS.entries()) {
    const base = VARIANTS.findIndex((u) => u.norm === v.norm && u.name === 'fused');
    const row = {
      backend,
      norm: v.norm,
      variant: v.name,
      'fwd ms': median(fwd[i]!),
      'fwd+bwd ms': median(both[i]!),
      'fwd ×fused': median(fwd[i]!) / median(fwd[base]!),
      'fwd+bwd ×fused': median(both[i]!) / median(both[base]!),
      'cpu fwd ms': median(fwdCpu[i]!),
      'cpu fwd+bwd ms': median(bothCpu[i]!),
      'cpu fwd+bwd ×fused': median(bothCpu[i]!) / median(bothCpu[base]!),
    };
    rows.push(row);
    results.push({ ...row, fwdMs: fwd[i], fwdBwdMs: both[i], fwdCpuMs: fwdCpu[i], fwdBwdCpuMs: bothCpu[i] });
  }
}
process.stdout.write(
  `\nadd + norm at (${ROWS}, ${D}), medians of ${REPS} alternated repetitions; ×fused = time / fused time\n` +
    `${formatTable(rows)}\n`,
);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = writeBenchResult(pkgDir, 'norm', { quick, rows: ROWS, d: D, reps: REPS, results });
process.stdout.write(`wrote ${file}\n`);
process.exit(0);
