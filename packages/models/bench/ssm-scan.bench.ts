/**
 * Selective-scan benchmark: one training step (forward + backward + Adam) of the shakespeare-char-ssm preset
 * model (vocab 65, d_model 128, 4 layers, d_state 8, expand 2, seq 64, batch 12), with the fused scan kernel
 * against the plain composition (ALTAR_FUSED=0: every fused op off), measured alternately in the same run.
 * Also profiles one step of each (tf.profile): kernel dispatches and the kernels that take the time.
 *
 *   cd packages/models && npx tsx --conditions=@altar/source bench/ssm-scan.bench.ts
 *
 * Env: ALTAR_BENCH_BACKENDS=wasm,cpu (default wasm), ALTAR_BENCH_REPS (timed steps per mode, default 7).
 * Writes bench/results/ssm-scan.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, Rng, setFusedKernels, softmaxCrossEntropy, type BackendName } from '@altar/backend';
import { formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { createModel } from '../src/index.js';

const PRESET = { type: 'ssm-lm', vocabSize: 65, dModel: 128, nLayers: 4, mixer: 'selective', dState: 8, expand: 2 };
const SEQ = 64;
const BATCH = 12;
const REPS = Number(process.env['ALTAR_BENCH_REPS'] ?? 7);
const BACKENDS = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',').map((s) => s.trim()) as BackendName[];

interface Profiled {
  kernels: number;
  top: Array<{ kernel: string; count: number; ms: number }>;
}

async function benchBackend(backend: BackendName): Promise<Record<string, unknown>> {
  const info = await initBackend(backend);
  const m = createModel({ ...PRESET, seed: 1 } as never) as unknown as {
    forward(t: tf.Tensor): tf.Tensor;
    variables(): tf.Variable[];
    dispose(): void;
  };
  const rng = new Rng(2);
  const seq = rng.randint([BATCH, SEQ + 1], 0, PRESET.vocabSize);
  const inp = tf.slice(seq, [0, 0], [BATCH, SEQ]);
  const tgt = tf.slice(seq, [0, 1], [BATCH, SEQ]);
  const opt = tf.train.adam(1e-3);
  const step = async () => {
    const l = opt.minimize(() => tf.tidy(() => tf.mean(softmaxCrossEntropy(m.forward(inp), tgt))), true, m.variables());
    await l!.data();
    l!.dispose();
  };
  const times: Record<'fused' | 'composition', number[]> = { fused: [], composition: [] };
  const modes = ['fused', 'composition'] as const;
  for (const mode of modes) {
    setFusedKernels(mode === 'fused');
    await step(); // warm-up (kernel compilation, allocator)
  }
  for (let r = 0; r < REPS; r++) {
    for (const mode of modes) {
      setFusedKernels(mode === 'fused');
      const t0 = performance.now();
      await step();
      times[mode].push(performance.now() - t0);
    }
  }
  const profiles: Record<string, Profiled> = {};
  for (const mode of modes) {
    setFusedKernels(mode === 'fused');
    const p = await tf.profile(step);
    const kernels = p.kernels.slice(); // tf.profile reuses one object; copy before profiling again
    const by = new Map<string, { count: number; ms: number }>();
    for (const k of kernels) {
      const e = by.get(k.name) ?? { count: 0, ms: 0 };
      e.count += 1;
      e.ms += Number(k.kernelTimeMs) || 0;
      by.set(k.name, e);
    }
    const top = [...by.entries()]
      .map(([kernel, e]) => ({ kernel, ...e }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8);
    profiles[mode] = { kernels: kernels.length, top };
  }
  setFusedKernels(true);
  tf.dispose([seq, inp, tgt]);
  opt.dispose();
  m.dispose();
  const fused = median(times.fused);
  const comp = median(times.composition);
  return {
    backend: info.name,
    'fused ms/step': fused,
    'composition ms/step': comp,
    'speed-up': comp / fused,
    'kernels/step fused': profiles['fused']!.kernels,
    'kernels/step composition': profiles['composition']!.kernels,
    times,
    profiles,
  };
}

async function main(): Promise<void> {
  const rows: Array<Record<string, unknown>> = [];
  for (const b of BACKENDS) {
    const r = await benchBackend(b);
    rows.push(r);
    for (const mode of ['composition', 'fused']) {
      const p = (r['profiles'] as Record<string, Profiled>)[mode]!;
      process.stdout.write(`${b} ${mode}: ${p.kernels} kernels/step; top by time:\n`);
      process.stdout.write(formatTable(p.top) + '\n');
    }
  }
  const table = rows.map(({ times: _t, profiles: _p, ...rest }) => rest);
  process.stdout.write('\n' + formatTable(table) + '\n');
  const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const file = writeBenchResult(pkgDir, 'ssm-scan', {
    preset: { ...PRESET, seq: SEQ, batch: BATCH },
    reps: REPS,
    results: rows,
    notes: 'one training step (forward + backward + Adam); fused vs every fused op off, alternating in one run',
  });
  process.stdout.write(`wrote ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`ssm-scan bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
