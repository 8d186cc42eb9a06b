/**
 * Model-zoo benchmark (`pnpm --filter @altar/models bench`, i.e. `tsx --conditions=@altar/source bench/models.bench.ts`).
 *
 *  1. Training throughput at the reference size (byte vocab 256, d_model 256, 4 layers, seq 256):
 *     tokens/s of forward + backward + Adam, per family.
 *  2. Decode latency per token, batch 1, per causal family, at context n ∈ {256, 1024, 4096}:
 *     cached = one `step` with the state at position n (KV cache / ring buffer / recurrent state),
 *     uncached = a full `forward` over n tokens to get the last logits (what decoding costs with no cache).
 *     Ratios: uncached/cached, and each cheap mixer's cost over full attention at the same n, so the
 *     O(n) vs O(n²) claim is measured.
 *
 * Env: ALTAR_BENCH_QUICK=1 (smaller: n ≤ 1024, batch 4, fewer reps), ALTAR_BENCH_BACKENDS=wasm,cpu
 * (default: wasm), ALTAR_BENCH_BATCH (training batch; default 4, quick 2; the reference is 16 — tokens/s barely depends on it at this size).
 */
import * as tf from '@tensorflow/tfjs-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, Rng, type BackendName } from '@altar/backend';
import { benchQuick, formatTable, median, timeIt, writeBenchResult } from '@altar/tooling/bench';
import { createModel, type AnyModel } from '../src/index.js';

const quick = benchQuick();
const REF = { vocabSize: 256, dModel: 256, nLayers: 4 };
const SEQ = 256;
const BATCH = Number(process.env['ALTAR_BENCH_BATCH'] ?? (quick ? 2 : 4)); // 16 is the reference; 4 keeps the wasm run to minutes
const LENGTHS = quick ? [256, 1024] : [256, 1024, 4096];
const BACKENDS = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',').map((s) => s.trim()) as BackendName[];
const TRAIN_REPS = quick ? 1 : 2;

const FAMILIES: Array<{ name: string; config: Record<string, unknown>; causal: boolean }> = [
  { name: 'ar-full', config: { type: 'ar-transformer', nHeads: 4, attention: 'full', maxLen: 4096 }, causal: true },
  {
    name: 'ar-sliding64',
    config: { type: 'ar-transformer', nHeads: 4, attention: 'sliding', window: 64, maxLen: 4096 },
    causal: true,
  },
  { name: 'ar-linear', config: { type: 'ar-transformer', nHeads: 4, attention: 'linear', maxLen: 4096 }, causal: true },
  { name: 'ssm-selective', config: { type: 'ssm-lm', mixer: 'selective', dState: 16, expand: 2 }, causal: true },
  { name: 'ssm-s4d', config: { type: 'ssm-lm', mixer: 's4d', dState: 32, mlpRatio: 2 }, causal: true },
  { name: 'diffusion-dit', config: { type: 'diffusion-transformer', nHeads: 4, maxLen: 256 }, causal: false },
];

function make(f: (typeof FAMILIES)[number]): AnyModel {
  return createModel({ ...REF, ...f.config, seed: 1 } as never);
}

function xent(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  const v = logits.shape[logits.rank - 1] as number;
  return tf.neg(
    tf.mean(tf.sum(tf.mul(tf.oneHot(tf.cast(targets, 'int32'), v), tf.logSoftmax(logits)), -1)),
  ) as tf.Scalar;
}

async function trainTokensPerSec(
  f: (typeof FAMILIES)[number],
): Promise<{ msPerStep: number; tokensPerSec: number; params: number }> {
  const m = make(f);
  const rng = new Rng(2);
  const seq = rng.randint([BATCH, SEQ + 1], 0, 256);
  const inp = tf.slice(seq, [0, 0], [BATCH, SEQ]);
  const tgt = tf.slice(seq, [0, 1], [BATCH, SEQ]);
  const mask = tf.less(rng.uniform([BATCH, SEQ]), 0.5);
  const zt = tf.where(mask, tf.fill([BATCH, SEQ], 256, 'int32'), inp);
  const t = rng.uniform([BATCH]);
  const opt = tf.train.adam(1e-3);
  const loss = () =>
    tf.tidy(() => {
      if ('forward' in m) return xent(m.forward(inp), tgt);
      if ('predictX0Logits' in m) return xent(m.predictX0Logits(zt, t), inp);
      throw new Error('unreachable');
    });
  const times = await timeIt(
    async () => {
      const l = opt.minimize(loss, true, m.variables()) as tf.Scalar;
      await l.data();
      l.dispose();
    },
    TRAIN_REPS,
    1,
  );
  const ms = median(times);
  const params = m.paramCount();
  tf.dispose([seq, inp, tgt, mask, zt, t]);
  opt.dispose();
  m.dispose();
  return { msPerStep: ms, tokensPerSec: (BATCH * SEQ) / (ms / 1000), params };
}

interface LM {
  forward(t: tf.Tensor): tf.Tensor;
  initState(b: number): unknown;
  step(t: tf.Tensor, s: never): { logits: tf.Tensor; state: unknown };
  disposeState(s: never): void;
}

/** Step from position 0 to max(LENGTHS); record the per-step time of the 8 steps ending at each n. */
async function cachedLatency(m: LM): Promise<Record<number, number>> {
  const maxN = Math.max(...LENGTHS);
  const times: number[] = [];
  let s = m.initState(1);
  const tok = tf.tensor1d([65], 'int32');
  for (let i = 0; i < maxN; i++) {
    const t0 = performance.now();
    const r = m.step(tok, s as never);
    await r.logits.data();
    times.push(performance.now() - t0);
    m.disposeState(s as never);
    r.logits.dispose();
    s = r.state;
  }
  m.disposeState(s as never);
  tok.dispose();
  return Object.fromEntries(LENGTHS.map((n) => [n, median(times.slice(n - 8, n))]));
}

async function uncachedLatency(m: LM, n: number): Promise<number> {
  const toks = tf.fill([1, n], 65, 'int32');
  const reps = n >= 4096 ? 1 : 2;
  const times = await timeIt(
    async () => {
      const y = tf.tidy(() => tf.slice(m.forward(toks), [0, n - 1, 0], [1, 1, -1]));
      await y.data();
      y.dispose();
    },
    reps,
    n >= 4096 ? 0 : 1,
  );
  toks.dispose();
  return median(times);
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const t0 = performance.now();
  for (const backend of BACKENDS) {
    const info = await initBackend(backend);
    const trainRows: Array<Record<string, unknown>> = [];
    for (const f of FAMILIES) {
      const r = await trainTokensPerSec(f);
      trainRows.push({
        backend: info.name,
        family: f.name,
        params: r.params,
        batch: BATCH,
        seq: SEQ,
        'ms/step': r.msPerStep,
        'train tok/s': r.tokensPerSec,
      });
      process.stdout.write(`train ${f.name}: ${r.tokensPerSec.toFixed(0)} tok/s\n`);
    }
    const decodeRows: Array<Record<string, unknown>> = [];
    const fullAt: Record<number, { cached: number; uncached: number }> = {};
    for (const f of FAMILIES.filter((x) => x.causal)) {
      const m = make(f) as unknown as LM & AnyModel;
      const cached = await cachedLatency(m);
      for (const n of LENGTHS) {
        const unc = await uncachedLatency(m, n);
        const c = cached[n] as number;
        if (f.name === 'ar-full') fullAt[n] = { cached: c, uncached: unc };
        const full = fullAt[n];
        decodeRows.push({
          backend: info.name,
          family: f.name,
          n,
          'cached ms/tok': c,
          'uncached ms/tok': unc,
          'uncached/cached': unc / c,
          'cached vs full': full ? c / full.cached : NaN,
          'forward vs full': full ? unc / full.uncached : NaN,
        });
        process.stdout.write(`decode ${f.name} n=${n}: cached ${c.toFixed(2)} ms, uncached ${unc.toFixed(1)} ms\n`);
      }
      m.dispose();
    }
    results[info.name] = { adapter: info.adapter, train: trainRows, decode: decodeRows };
    process.stdout.write('\n' + formatTable(trainRows) + '\n\n' + formatTable(decodeRows) + '\n\n');
  }
  const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
  const file = writeBenchResult(pkgDir, 'models', {
    quick,
    reference: { ...REF, seq: SEQ, batch: BATCH },
    lengths: LENGTHS,
    results,
    totalSeconds: (performance.now() - t0) / 1000,
    notes:
      'cached = one step with state at position n; uncached = forward over n tokens (batch 1). ' +
      '"cached vs full" / "forward vs full" = this family / ar-full at the same n.',
  });
  process.stdout.write(`wrote ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`models bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
