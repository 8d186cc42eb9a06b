/**
 * Every option the run-config schema accepts changes what runs: for each (family, key, value), the
 * runtime built from the changed config differs from the base one in its batches, its loss on the same
 * batch and random stream, its model, or its samples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { useBackend } from '@altar/backend/testing';
import { createModel, DiffusionTransformer, MlpDenoiser, validateModelConfig } from '@altar/models';
import { GaussianMixtureSource, gmmPreset } from '@altar/data';
import { D3PMProcess, GaussianProcess } from '@altar/noise';
import { buildRuntime } from './build.js';
import { buildGaussianRuntime } from './families/gaussian.js';
import { d3pmImportanceLoss } from './families/discrete.js';
import { parseRunConfig, type Family } from './config/schema.js';
import type { FamilyRuntime, SamplerName } from './runtime.js';

const small: Record<Family, Record<string, unknown>> = {
  ar: { model: { dModel: 16, nLayers: 1, nHeads: 2 } },
  ssm: { model: { dModel: 16, nLayers: 1 } },
  'masked-diffusion': { model: { dModel: 16, nLayers: 1, nHeads: 2 } },
  d3pm: { model: { dModel: 16, nLayers: 1, nHeads: 2 }, diffusion: { T: 16 }, eval: { sampleSteps: 8 } },
  gaussian: { model: { hidden: 16, nLayers: 1 } },
};
const hmm = { vocabSize: 8, numStates: 4, seqLen: 8, tokensPerState: 2, overlap: 0 };

function configOf(family: Family, patch: Record<string, Record<string, unknown>>) {
  const base: Record<string, unknown> = {
    family,
    ...small[family],
    data: family === 'gaussian' ? { batchSize: 16 } : { batchSize: 8, hmm },
  };
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = { ...(typeof base[k] === 'object' ? base[k] : {}), ...v };
  return parseRunConfig(out);
}

interface Fingerprint {
  batch: number[];
  loss: number;
  params: number;
  sample: number[];
  nfe: number;
}

async function fingerprint(rt: FamilyRuntime): Promise<Fingerprint> {
  const x = rt.nextBatch(new Rng(1));
  const batch = Array.from(await x.data());
  const l = rt.loss(x, new Rng(2));
  const loss = (await l.data())[0]!;
  tf.dispose([x, l]);
  const sampler: SamplerName = rt.samplers[0]!;
  const s = await rt.sample(new Rng(3), { sampler, n: 2 });
  return { batch, loss, params: rt.model.paramCount(), sample: Array.from(s.tokens), nfe: s.cost.nfe };
}

async function run(family: Family, patch: Record<string, Record<string, unknown>>): Promise<Fingerprint> {
  const rt = buildRuntime(configOf(family, patch));
  try {
    return await fingerprint(rt);
  } finally {
    rt.dispose();
  }
}

const cases: [Family, Record<string, Record<string, unknown>>][] = [
  ['ar', { data: { hmm: { ...hmm, seed: 7 } } }],
  ['ar', { data: { batchSize: 4 } }],
  ['ar', { model: { dModel: 8 } }],
  ['ar', { model: { attention: 'linear' } }],
  ['ssm', { model: { dState: 4 } }],
  ['masked-diffusion', { diffusion: { schedule: 'linear' } }],
  ['masked-diffusion', { diffusion: { timesteps: 'uniform' } }],
  ['masked-diffusion', { eval: { sampleSteps: 4 } }],
  ['d3pm', { diffusion: { process: 'uniform' } }],
  ['d3pm', { diffusion: { schedule: 'cosine' } }],
  ['d3pm', { diffusion: { T: 12 } }],
  ['d3pm', { diffusion: { timesteps: 'uniform' } }],
  ['d3pm', { diffusion: { timesteps: 'antithetic' } }],
  ['d3pm', { diffusion: { timesteps: 'importance' } }],
  ['gaussian', { diffusion: { process: 'vp-linear' } }],
  ['gaussian', { diffusion: { T: 50 } }],
  ['gaussian', { diffusion: { timesteps: 'uniform' } }],
  ['gaussian', { data: { gmm: { preset: 'grid' } } }],
  ['gaussian', { eval: { sampleSteps: 4 } }],
  ['gaussian', { model: { prediction: 'v' } }],
  ['gaussian', { diffusion: { loss: 'mse' } }],
  ['gaussian', { diffusion: { loss: 'mse', timePower: 2 } }],
  ['gaussian', { data: { gmm: { standardise: true } } }],
];

describe('each run-config option changes what runs', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('the same config gives the same numbers (so a difference below is the option)', async () => {
    const before = tf.memory().numTensors;
    for (const f of ['ar', 'd3pm', 'gaussian'] as const) expect(await run(f, {})).toEqual(await run(f, {}));
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each(cases)('%s %j', async (family, patch) => {
    const before = tf.memory().numTensors;
    const a = await run(family, {});
    const b = await run(family, patch);
    expect(b, JSON.stringify(patch)).not.toEqual(a);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("D3PM 'importance' draws t from a proposal learnt from the losses: uniform until warm, then not", async () => {
    const before = tf.memory().numTensors;
    const T = 4;
    const den = createModel(
      validateModelConfig({
        type: 'diffusion-transformer',
        vocabSize: 8,
        maxLen: 8,
        dModel: 16,
        nLayers: 1,
        nHeads: 2,
      }),
    );
    if (!(den instanceof DiffusionTransformer)) throw new Error('expected a DiffusionTransformer');
    const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: 8, T, schedule: 'jsd' });
    const { loss, proposal } = d3pmImportanceLoss(proc, den, 8);
    const rng = new Rng(5);
    expect(Array.from(proposal())).toEqual([0.25, 0.25, 0.25, 0.25]);
    // T · history = 40 per-step losses warm the proposal; batch 16 → 3 calls (draws are random, so allow more).
    for (let i = 0; i < 12; i++) {
      const x = tf.tensor2d(
        Int32Array.from({ length: 16 * 8 }, (_, k) => (k * 7 + i) % 8),
        [16, 8],
        'int32',
      );
      const l = loss(x, rng);
      expect(Number.isFinite((await l.data())[0]!)).toBe(true);
      tf.dispose([x, l]);
    }
    const p = Array.from(proposal());
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.max(...p) - Math.min(...p)).toBeGreaterThan(0.01);
    den.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

function parseGaussian(c: unknown) {
  const r = parseRunConfig(c);
  if (r.family !== 'gaussian') throw new Error('not a gaussian config');
  return r;
}

describe('the Gaussian recipe in numbers', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it("loss 'mse' is the mean squared error of the model's own parameterisation, on x / s with data.gmm.standardise", async () => {
    const before = tf.memory().numTensors;
    const cfg = parseRunConfig({
      family: 'gaussian',
      data: { batchSize: 8, gmm: { preset: 'grid', standardise: true } },
      model: { hidden: 16, nLayers: 1, prediction: 'v' },
      diffusion: { loss: 'mse', timePower: 2 },
    });
    const rt = buildRuntime(cfg);
    const s = rt.dataScale!;
    expect(s).toBeGreaterThan(1); // the 5×5 grid spans ±1.6
    const x = rt.nextBatch(new Rng(1));
    const lossT = rt.loss(x, new Rng(2));
    const got = (await lossT.data())[0]!;
    // By hand, with the same random stream: t = tMin + (1 − tMin) u², ε ~ N(0, I), z = α x/s + σ ε, v = α ε − σ x/s.
    const rng = new Rng(2);
    const u = rng.uniformArray(8);
    const t = Float32Array.from(u, (v) => 1e-3 + (1 - 1e-3) * v ** 2);
    const eps = rng.normal([8, 2]);
    const proc = new GaussianProcess('vp-cosine');
    const [xs, es] = [await x.data(), await eps.data()];
    const zIn: number[] = [];
    const vT: number[] = [];
    for (let b = 0; b < 8; b++) {
      const a = proc.alpha(t[b]!);
      const sg = proc.sigma(t[b]!);
      for (let j = 0; j < 2; j++) {
        const x0 = xs[b * 2 + j]! / s;
        zIn.push(a * x0 + sg * es[b * 2 + j]!);
        vT.push(a * es[b * 2 + j]! - sg * x0);
      }
    }
    const m = rt.model;
    if (!(m instanceof MlpDenoiser)) throw new Error('expected an MLP denoiser');
    const pred = tf.tidy(() => m.predict(tf.tensor2d(zIn, [8, 2]), tf.tensor1d(t)));
    const p = await pred.data();
    const want = vT.reduce((acc, v, i) => acc + (p[i]! - v) ** 2, 0) / 16;
    expect(got).toBeCloseTo(want, 4);
    tf.dispose([x, eps, pred, lossT]);
    rt.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bits per dimension are of the data: standardising adds log2 s back, samples come back in data units', async () => {
    const before = tf.memory().numTensors;
    const base = {
      family: 'gaussian',
      data: { batchSize: 8, gmm: { preset: 'grid' } },
      model: { hidden: 16, nLayers: 1 },
    };
    const plain = buildRuntime(parseRunConfig(base));
    // The same network seeing x / s: its bound on x / s plus log2 s equals the standardised runtime's.
    const std = buildRuntime(
      parseRunConfig({ ...base, data: { batchSize: 8, gmm: { preset: 'grid', standardise: true } } }),
    );
    const s = std.dataScale!;
    const e = await std.evaluate(new Rng(4), { batches: 1, batchSize: 32, timeSampling: 'log-snr' });
    // The grid mixture divided by s: means / s, variances / s².
    const g = gmmPreset('grid');
    const K = g.weights.length;
    const scaled = new GaussianMixtureSource({
      weights: g.weights,
      means: Array.from({ length: K }, (_, k) => Array.from(g.means.subarray(k * 2, k * 2 + 2), (m) => m / s)),
      variances: Array.from({ length: K }, (_, k) =>
        Array.from(g.variances.subarray(k * 2, k * 2 + 2), (v) => v / (s * s)),
      ),
    });
    const scaledMeans = buildGaussianRuntime(parseGaussian(base), { gmm: scaled });
    const f = await scaledMeans.evaluate(new Rng(4), { batches: 1, batchSize: 32, timeSampling: 'log-snr' });
    expect(e.bitsPerToken).toBeCloseTo(f.bitsPerToken + Math.log2(s), 3);
    const out = await std.sample(new Rng(5), { sampler: 'ddim', n: 4, steps: 3 });
    expect(Math.max(...Array.from(out.tokens, Math.abs))).toBeGreaterThan(0);
    for (const r of [plain, std, scaledMeans]) r.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
