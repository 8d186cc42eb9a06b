/**
 * Sampling cost, measured against the roofline prediction: AR decoding with a KV cache vs masked
 * diffusion (T = 8, 32, 128; uncached and cached) vs SSM recurrent decoding, for models of about equal
 * size, at n = 64, 256, 1024 generated tokens (batch 1). Wall time, NFE, tokens/s, and measured /
 * predicted, where the prediction is the CostModel on a `local` profile calibrated in this run
 * (matMul GFLOP/s, add bandwidth, per-op dispatch) with each call's kernel count measured by tf.profile.
 * Writes bench/results/samplers.json. ALTAR_BENCH_QUICK=1 shrinks it; ALTAR_BENCH_BACKENDS picks backends
 * (default wasm; cpu is 5–20× slower here).
 *
 * FLOPs given to the CostModel: each model's analytic `flops(batch, seqLen, contextLen)` (2 × multiply-adds
 * of its matmuls, attention QKᵀ/AV over the context, SSM recurrences; see @altar/models).
 */
import * as tf from '@tensorflow/tfjs-core';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng, initBackend, type BackendName } from '@altar/backend';
import { createModel, type ArTransformer, type DiffusionTransformer, type SsmLm } from '@altar/models';
import { benchQuick, formatTable, writeBenchResult } from '@altar/tooling/bench';
import { CostModel, calibrateLocal, countDispatches } from '../src/roofline.js';
import { sampleAr } from '../src/ar.js';
import { sampleMasked } from '../src/discrete.js';
import type { CausalLM, CostRecord, DiscreteDenoiser } from '../src/types.js';

const quick = benchQuick();
const ns = process.env['ALTAR_BENCH_NS']
  ? process.env['ALTAR_BENCH_NS'].split(',').map(Number)
  : quick
    ? [32, 64]
    : [64, 256, 1024];
const Ts = quick ? [8, 32] : [8, 32, 128];
const backends = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm').split(',') as BackendName[];
const V = 64;
const d = quick ? 32 : 64;
const L = 2;
const maxLen = Math.max(...ns) + 1;

/** A log-linear masking schedule α(t) = 1 − t (MDLM's default), mask id V. */
const maskProc = { maskId: V, alpha: (t: number) => 1 - t };

interface Row {
  backend: string;
  model: string;
  n: number;
  T: number | string;
  cached: boolean;
  nfe: number;
  wallMs: number;
  tokensPerSec: number;
  predictedMs: number;
  measuredOverPredicted: number;
  [k: string]: unknown;
}

const rows: Row[] = [];
const results: unknown[] = [];

for (const backend of backends) {
  try {
    await initBackend(backend);
  } catch (e) {
    process.stderr.write(`bench: ${backend} skipped: ${(e as Error).message}\n`);
    results.push({ backend, skipped: (e as Error).message });
    continue;
  }
  const { profile, calibration } = await calibrateLocal();
  const cm = new CostModel(profile);
  // About equal parameter counts: the denoiser's adaptive-norm time conditioning costs ~half a block per
  // layer, so the AR model gets one more layer and the (cheaper per layer) SSM more still.
  const ar = createModel({
    type: 'ar-transformer',
    vocabSize: V,
    dModel: d,
    nLayers: L + 1,
    nHeads: 4,
    maxLen,
    attention: 'full',
    positions: 'rope',
    seed: 1,
  }) as ArTransformer;
  const dt = createModel({
    type: 'diffusion-transformer',
    vocabSize: V,
    dModel: d,
    nLayers: L,
    nHeads: 4,
    maxLen,
    positions: 'rope',
    seed: 1,
  }) as DiffusionTransformer;
  const ssm = createModel({
    type: 'ssm-lm',
    vocabSize: V,
    dModel: d,
    nLayers: L + 3,
    mixer: 'selective',
    dState: 8,
    seed: 1,
  }) as SsmLm;
  const sizes = { ar: ar.paramCount(), diffusion: dt.paramCount(), ssm: ssm.paramCount() };
  process.stderr.write(
    `bench ${backend}: params ar ${sizes.ar}, diffusion ${sizes.diffusion}, ssm ${sizes.ssm}; ${profile.note}\n`,
  );

  // The models satisfy the sampler interfaces directly, FLOPs hint included (their analytic `flops()`).
  const arLm: CausalLM = ar;
  const ssmLm: CausalLM = ssm;
  const den: DiscreteDenoiser = dt;

  // Kernels per call, measured once per shape.
  const opsStep = async (m: CausalLM, ctx: number) => {
    let s = m.initState(1);
    const tok = tf.tensor1d([0], 'int32');
    for (let i = 0; i < ctx; i++) {
      const r = m.step(tok, s);
      m.disposeState(s);
      r.logits.dispose();
      s = r.state;
    }
    const n = await countDispatches(() => {
      const r = m.step(tok, s);
      m.disposeState(r.state);
      return r.logits;
    });
    m.disposeState(s);
    tok.dispose();
    return n;
  };
  const opsDen = async (n: number) => {
    const z = tf.fill([1, n], V, 'int32') as tf.Tensor2D;
    const t = tf.fill([1], 0.5) as tf.Tensor1D;
    const k = await countDispatches(() => den.predictX0Logits(z, t));
    tf.dispose([z, t]);
    return k;
  };

  const predictMs = (c: CostRecord, ops: number) =>
    cm.predict({
      calls: c.nfe,
      bytesPerCall: c.paramBytes,
      flopsPerCall: c.nfe > 0 ? c.flops / c.nfe : 0,
      opsPerCall: ops,
      bytesPerWeight: 4,
    }).seconds * 1e3;
  const push = (model: string, n: number, T: number | string, cached: boolean, c: CostRecord, ops: number) => {
    const predictedMs = predictMs(c, ops);
    const row: Row = {
      backend,
      model,
      n,
      T,
      cached,
      nfe: c.nfe,
      wallMs: c.wallMs,
      tokensPerSec: c.tokensPerSec,
      predictedMs,
      measuredOverPredicted: c.wallMs / predictedMs,
      weightMB: c.weightBytesLoaded / 1e6,
      gflops: c.flops / 1e9,
    };
    rows.push(row);
    process.stderr.write(
      `  ${model} n=${n} T=${T}${cached ? ' cached' : ''}: ${c.wallMs.toFixed(0)} ms, NFE ${c.nfe}, predicted ${predictedMs.toFixed(0)} ms\n`,
    );
  };

  // warm-up (kernel compilation, JIT)
  await sampleAr(arLm, { prompt: [[0]], length: 8, rng: new Rng(0) });
  await sampleAr(ssmLm, { prompt: [[0]], length: 8, rng: new Rng(0) });
  await sampleMasked(den, maskProc, { batch: 1, seqLen: 16, steps: 4, rng: new Rng(0) });

  for (const n of ns) {
    const arOps = await opsStep(arLm, Math.floor(n / 2));
    const ssmOps = await opsStep(ssmLm, 1);
    const denOps = await opsDen(n);
    const a = await sampleAr(arLm, { prompt: [[0]], length: n, rng: new Rng(1) });
    push('ar-transformer (KV cache)', n, '-', true, a.cost, arOps);
    const s = await sampleAr(ssmLm, { prompt: [[0]], length: n, rng: new Rng(1) });
    push('ssm-lm (recurrent)', n, '-', true, s.cost, ssmOps);
    for (const T of Ts) {
      for (const cached of [false, true]) {
        const r = await sampleMasked(den, maskProc, { batch: 1, seqLen: n, steps: T, rng: new Rng(2), cached });
        push(`masked diffusion${cached ? ' (cached)' : ''}`, n, T, cached, r.cost, denOps);
      }
    }
  }

  // Crossover: T* = AR wall time / one diffusion call at the same n (uncached, largest T); predicted alike.
  const crossovers = ns.map((n) => {
    const arRow = rows.find((r) => r.backend === backend && r.n === n && r.model.startsWith('ar-'))!;
    const ssmRow = rows.find((r) => r.backend === backend && r.n === n && r.model.startsWith('ssm'))!;
    const dRow = rows.find(
      (r) => r.backend === backend && r.n === n && r.model === 'masked diffusion' && r.T === Ts[Ts.length - 1],
    )!;
    const perCall = dRow.wallMs / dRow.nfe;
    const perCallPred = dRow.predictedMs / dRow.nfe;
    return {
      n,
      measuredTStarVsAr: arRow.wallMs / perCall,
      predictedTStarVsAr: arRow.predictedMs / perCallPred,
      measuredTStarVsSsm: ssmRow.wallMs / perCall,
      diffusionCallMs: perCall,
      arStepMs: arRow.wallMs / arRow.nfe,
      ssmStepMs: ssmRow.wallMs / ssmRow.nfe,
    };
  });
  results.push({
    backend,
    calibration,
    profile,
    params: sizes,
    dModel: d,
    layers: L,
    vocab: V,
    crossovers,
    rows: rows.filter((r) => r.backend === backend),
  });
  process.stdout.write(`\ncrossover on ${backend} (diffusion beats AR when T < T*):\n${formatTable(crossovers)}\n`);
  tf.dispose([]);
  ar.dispose();
  dt.dispose();
  ssm.dispose();
}

process.stdout.write(
  `\nsampling cost (batch 1; predicted = roofline on the calibrated local profile)\n${formatTable(rows.map((r) => ({ ...r, cached: r.cached ? 'yes' : 'no' })))}\n`,
);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = writeBenchResult(pkgDir, 'samplers', { quick, ns, Ts, results });
process.stdout.write(`wrote ${file}\n`);
process.exit(0);
