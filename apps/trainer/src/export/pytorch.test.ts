/**
 * Every exported family against real PyTorch: a seeded random model (every weight perturbed, so zero-initialised
 * gates and modulations take part), saved to safetensors as the trainer does, exported, loaded by the generated
 * model.py in /usr/bin/python3, and run on the same inputs; outputs must match altar's to 1e-4 (max abs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesOf, decodeSafetensors, Rng, tensorsToSafetensors } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import {
  createModel,
  type AnyModel,
  ArTransformer,
  DiffusionTransformer,
  MlpDenoiser,
  SsmLm,
  UNet,
  type ModelConfigInput,
  validateModelConfig,
} from '@altar/models';
import { requireTorch, runTorch, runTorchFull, type TorchCase } from '../../test/torch-harness.js';
import { exportPytorch, exportPytorchFromBytes } from './pytorch.js';
import { torchWeightPlan } from './weights.js';

const V = 11;
const B = 2;
const N = 9;
const TOL = 1e-4;

interface Variant {
  name: string;
  config: ModelConfigInput;
  cases: TorchCase[];
}

function ints(seed: number, rows: number, cols: number, hi: number): number[][] {
  const r = new Rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => r.nextInt(0, hi)));
}
function normals(seed: number, rows: number, cols: number): number[][] {
  const r = new Rng(seed);
  return Array.from({ length: rows }, () => Array.from(r.normalArray(cols)));
}

/** (B, C, S, S) NCHW images, as torch takes them (altar's U-Net is NHWC; the test transposes). */
function images(seed: number, b: number, c: number, s: number): number[][][][] {
  const flat = normals(seed, b * c * s, s);
  return Array.from({ length: b }, (_, i) =>
    Array.from({ length: c }, (_, j) => flat.slice((i * c + j) * s, (i * c + j + 1) * s)),
  );
}

const tokens = ints(1, B, N, V + 1); // AR/SSM vocabulary V + 1 (BOS = V); the DiT input also takes [MASK] = V
const lm = { vocabSize: V + 1, dModel: 16, nLayers: 2, nHeads: 2, maxLen: 16, seed: 3 };
const dit = { vocabSize: V, dModel: 16, nLayers: 2, nHeads: 2, maxLen: 16, seed: 4 };
const ssm = { vocabSize: V + 1, dModel: 16, nLayers: 2, dState: 4, seed: 5 };

const VARIANTS: Variant[] = [
  { name: 'ar full rope', config: { type: 'ar-transformer', ...lm }, cases: [{ tokens }] },
  {
    name: 'ar sliding W=3, learned positions, rmsnorm, swiglu',
    config: {
      type: 'ar-transformer',
      ...lm,
      attention: 'sliding',
      window: 3,
      positions: 'learned',
      norm: 'rmsnorm',
      mlp: 'swiglu',
    },
    cases: [{ tokens }],
  },
  {
    name: 'ar linear attention, chunk 4',
    config: { type: 'ar-transformer', ...lm, attention: 'linear', linearChunk: 4 },
    cases: [{ tokens }],
  },
  {
    name: 'diffusion transformer, time-conditioned',
    config: { type: 'diffusion-transformer', ...dit },
    cases: [
      { tokens, t: [0.3, 0.85] },
      { tokens, t: [0.05, 1] },
    ],
  },
  {
    name: 'diffusion transformer without t, rope, swiglu',
    config: { type: 'diffusion-transformer', ...dit, timeConditioning: false, positions: 'rope', mlp: 'swiglu' },
    cases: [{ tokens, t: [0.5, 0.5] }],
  },
  {
    name: 'ssm selective',
    config: { type: 'ssm-lm', ...ssm, mixer: 'selective', scanChunk: 4 },
    cases: [{ tokens }],
  },
  {
    name: 'ssm s4d + mlp, layernorm',
    config: { type: 'ssm-lm', ...ssm, mixer: 's4d', s4dChunk: 4, mlpRatio: 2, norm: 'layernorm' },
    cases: [{ tokens }],
  },
  {
    name: 'mlp denoiser',
    config: { type: 'mlp-denoiser', dim: 3, hidden: 16, nLayers: 2, seed: 6 },
    cases: [{ x: normals(2, 4, 3), t: [0.1, 0.4, 0.7, 0.95] }],
  },
  {
    name: 'mlp denoiser with Fourier features',
    config: { type: 'mlp-denoiser', dim: 2, hidden: 16, nLayers: 2, fourierFeatures: 8, fourierScale: 0.5, seed: 7 },
    cases: [{ x: normals(3, 4, 2), t: [0.2, 0.2, 0.6, 0.9] }],
  },
  {
    name: 'u-net, 3 levels',
    config: { type: 'unet', imageSize: 8, channels: 3, baseChannels: 4, channelMults: [1, 2, 2], seed: 8 },
    cases: [{ x: images(4, 2, 3, 8), t: [0.25, 0.75] }],
  },
];

/** Perturb every weight (seeded): zero-initialised adaLN gates would otherwise hide whole branches. */
function perturb(model: AnyModel, seed: number): void {
  const rng = new Rng(seed);
  const w = model.getWeights();
  const next = tf.tidy(() => {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(w)) out[name] = tf.add(t, rng.normal(t.shape, 0, 0.2));
    return out;
  });
  model.setWeights(next);
  tf.dispose(Object.values(next));
}

/** altar's output for one case, as a flat array. */
async function altarOutput(model: AnyModel, c: TorchCase): Promise<{ shape: number[]; values: Float32Array }> {
  const y = tf.tidy(() => {
    const t = c.t ? tf.tensor1d(c.t) : null;
    if (model instanceof ArTransformer || model instanceof SsmLm)
      return model.forward(tf.tensor2d(c.tokens!, undefined, 'int32'));
    if (model instanceof DiffusionTransformer)
      return model.predictX0Logits(tf.tensor2d(c.tokens!, undefined, 'int32'), t as tf.Tensor);
    if (model instanceof MlpDenoiser) return model.predict(tf.tensor2d(c.x as number[][]), t as tf.Tensor);
    if (model instanceof UNet) {
      const nhwc = tf.transpose(tf.tensor4d(c.x as number[][][][]), [0, 2, 3, 1]);
      return tf.transpose(model.predict(nhwc, t as tf.Tensor), [0, 3, 1, 2]); // back to NCHW
    }
    throw new Error(`no reference for ${(model as { config: { type: string } }).config.type}`);
  });
  const values = (await y.data()) as Float32Array;
  const shape = y.shape;
  y.dispose();
  return { shape, values };
}

const work = mkdtempSync(join(tmpdir(), 'altar-export-torch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('export to PyTorch: outputs match altar to 1e-4', () => {
  let torchVersion = '';
  beforeAll(async () => {
    await useBackend('cpu');
    torchVersion = requireTorch();
  });

  it('every family and variant (one torch process for all)', async () => {
    const expected: Array<Array<{ shape: number[]; values: Float32Array }>> = [];
    const models: Array<{ modelPy: string; weights: string; cases: TorchCase[] }> = [];
    await expectNoLeaks(async () => {
      for (const [k, v] of VARIANTS.entries()) {
        const model = createModel(v.config as never) as AnyModel;
        perturb(model, 100 + k);
        // As the trainer saves it: altar names, the model config in the file's metadata.
        const bytes = await tensorsToSafetensors(model.getWeights(), {
          format: 'altar',
          'altar.config': JSON.stringify(model.config),
        });
        const exp = exportPytorchFromBytes(bytes);
        const dir = join(work, `m${k}`);
        mkdirSync(dir);
        writeFileSync(join(dir, 'model.py'), exp.modelPy);
        writeFileSync(join(dir, 'model.safetensors'), exp.weights);
        models.push({ modelPy: join(dir, 'model.py'), weights: join(dir, 'model.safetensors'), cases: v.cases });
        const outs = [];
        for (const c of v.cases) outs.push(await altarOutput(model, c));
        expected.push(outs);
        model.dispose();
      }
    });
    const full = runTorchFull(work, models);
    const got = full.map((r) => r.outputs);
    const report: string[] = [];
    VARIANTS.forEach((v, k) => {
      v.cases.forEach((_, j) => {
        const e = expected[k]![j]!;
        const g = got[k]![j]!;
        expect(g.shape, v.name).toEqual(e.shape);
        let maxDiff = 0;
        let maxAbs = 0;
        g.values.forEach((x, i) => {
          maxDiff = Math.max(maxDiff, Math.abs(x - (e.values[i] as number)));
          maxAbs = Math.max(maxAbs, Math.abs(e.values[i] as number));
        });
        report.push(`${v.name} [case ${j}]: max |Δ| ${maxDiff.toExponential(2)} (max |y| ${maxAbs.toFixed(2)})`);
        // A non-trivial output: a model whose branches were all zero would match trivially.
        expect(maxAbs, v.name).toBeGreaterThan(0.1);
        expect(maxDiff, `${v.name} case ${j}`).toBeLessThan(TOL);
      });
    });
    // The export trains: one backward pass gives every parameter a finite gradient.
    full.forEach((r, k) => {
      expect(r.params, VARIANTS[k]!.name).toBeGreaterThan(0);
      expect(r.badGrads, VARIANTS[k]!.name).toEqual([]);
    });
    writeFileSync(join(work, 'report.txt'), report.join('\n'));
    process.stderr.write(`torch ${torchVersion}\n${report.join('\n')}\n`);
  });

  it('the diffusion transformer depends on t, and torch follows it', async () => {
    // Same z at two times: the x0 logits differ in altar and the export reproduces each.
    const v = VARIANTS[3]!;
    const model = createModel(v.config as never) as DiffusionTransformer;
    perturb(model, 103);
    const a = await altarOutput(model, { tokens, t: [0.1, 0.1] });
    const b = await altarOutput(model, { tokens, t: [0.9, 0.9] });
    const bytes = await tensorsToSafetensors(model.getWeights(), { 'altar.config': JSON.stringify(model.config) });
    model.dispose();
    const exp = exportPytorchFromBytes(bytes);
    const dir = join(work, 'dit-t');
    mkdirSync(dir);
    writeFileSync(join(dir, 'model.py'), exp.modelPy);
    writeFileSync(join(dir, 'model.safetensors'), exp.weights);
    const [[ga, gb]] = runTorch(dir, [
      {
        modelPy: join(dir, 'model.py'),
        weights: join(dir, 'model.safetensors'),
        cases: [
          { tokens, t: [0.1, 0.1] },
          { tokens, t: [0.9, 0.9] },
        ],
      },
    ]) as unknown as [[{ values: number[] }, { values: number[] }]];
    const gap = Math.max(...a.values.map((x, i) => Math.abs(x - (b.values[i] as number))));
    expect(gap).toBeGreaterThan(0.01);
    expect(Math.max(...ga.values.map((x, i) => Math.abs(x - (a.values[i] as number))))).toBeLessThan(TOL);
    expect(Math.max(...gb.values.map((x, i) => Math.abs(x - (b.values[i] as number))))).toBeLessThan(TOL);
  });
});

describe('export to PyTorch: checks', () => {
  const f32 = (shape: number[]) => ({
    dtype: 'F32' as const,
    shape,
    data: bytesOf(new Float32Array(shape.reduce((a, b) => a * b, 1))),
  });

  it('refuses an unknown model type, naming the supported ones', () => {
    expect(() => exportPytorch({ type: 'rnn' } as never, {})).toThrow(
      /model type 'rnn' is not supported; supported: ar-transformer, diffusion-transformer, ssm-lm, mlp-denoiser, unet/,
    );
  });

  it('names a missing or an unknown parameter, and transposes Linear weights', () => {
    const c = validateModelConfig({ type: 'mlp-denoiser', dim: 2, hidden: 4, nLayers: 1 });
    const full: Record<string, ReturnType<typeof f32>> = {};
    for (const r of torchWeightPlan(c)) full[r.from] = f32(r.layout === 'linear' ? [3, 5] : [5]);
    expect(exportPytorch(c, full).className).toBe('MLPDenoiser');
    const { ['out.b']: _, ...missing } = full;
    expect(() => exportPytorch(c, missing)).toThrow(/lacks parameter 'out.b'/);
    expect(() => exportPytorch(c, { ...full, 'extra.w': f32([1]) })).toThrow(/does not: extra.w/);
    const w = { dtype: 'F32' as const, shape: [2, 3], data: bytesOf(Float32Array.from([1, 2, 3, 4, 5, 6])) };
    const { weights } = exportPytorch(c, { ...full, 'out.w': w });
    const t = decodeSafetensors(weights).tensors['out.weight']!;
    expect(t.shape).toEqual([3, 2]);
    expect(Array.from(new Float32Array(t.data.buffer, t.data.byteOffset, 6))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
