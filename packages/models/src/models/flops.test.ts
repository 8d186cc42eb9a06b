/**
 * Analytic FLOPs (`flops()`) against an independent count: Σ over the model's weight matrices of
 * 2·rows·cols per token (per row for the time-conditioning matrices) plus the attention terms written
 * out by enumeration; and the untimed DiffusionTransformer (timeConditioning false) ignores t.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { validateModelConfig } from '../config.js';
import { createModel } from '../factory.js';
import type { ArTransformer } from './ar-transformer.js';
import type { DiffusionTransformer } from './diffusion-transformer.js';
import type { Model } from './base.js';
import { maxAbsDiff } from '../../test/helpers.js';

const V = 11;
const d = 16;
const L = 2;

/** 2·rows·cols summed over rank-2 weights whose name passes `keep` (the tied embedding counted as a V×d head). */
function matFlops(m: Model, keep: (name: string) => boolean, headRows: number): number {
  let f = 0;
  for (const [name, w] of Object.entries(m.getWeights())) {
    if (w.rank !== 2 || !keep(name)) continue;
    f +=
      name === 'tok_emb.weight'
        ? 2 * headRows * (w.shape[1] as number)
        : 2 * (w.shape[0] as number) * (w.shape[1] as number);
  }
  return f;
}

/** Overwrite every weight with N(0, 0.3²) so zero-initialised gates and modulations do not hide t. */
function randomize(m: Model, seed: number): void {
  const rng = new Rng(seed);
  const ws: Record<string, tf.Tensor> = {};
  for (const [name, w] of Object.entries(m.getWeights())) ws[name] = rng.normal(w.shape, 0, 0.3);
  m.setWeights(ws);
  tf.dispose(Object.values(ws));
}

describe('analytic FLOPs equal an independent count', () => {
  it.each([
    ['full gelu', { attention: 'full' }, Infinity],
    ['sliding W=3 swiglu', { attention: 'sliding', window: 3, mlp: 'swiglu' }, 3],
  ] as const)('ArTransformer %s: forward and cached step at every context length', (_n, cfg, W) => {
    const m = createModel({
      type: 'ar-transformer',
      vocabSize: V,
      dModel: d,
      nLayers: L,
      nHeads: 2,
      maxLen: 16,
      positions: 'rope',
      ...cfg,
    }) as ArTransformer;
    try {
      const perToken = matFlops(m, (n) => n !== 'pos_emb', V); // every matrix touches every token once
      const attn = (p: number) => L * 4 * d * Math.min(p, W); // QKᵀ (2·d·p) + AV (2·d·p) per layer
      for (const [B, N] of [
        [1, 1],
        [2, 5],
        [3, 9],
      ] as const) {
        let expected = 0;
        for (let p = 1; p <= N; p++) expected += perToken + attn(p);
        expect(m.flops(B, N)).toBe(B * expected);
        // a cached step at position p−1 (context p) costs one token's matrices + attention over p keys
        expect(m.flops(B, 1, N)).toBe(B * (perToken + attn(N)));
      }
      // the Kaplan 2·P rule: the matrices are all parameters but the vectors (norms, biases)
      const vecs = Object.values(m.getWeights())
        .filter((w) => w.rank === 1)
        .reduce((a, w) => a + w.size, 0);
      expect(perToken).toBe(2 * (m.paramCount() - vecs));
      expect(() => m.flops(1, 4, 2)).toThrow(/contextLen/);
    } finally {
      m.dispose();
    }
  });

  it('ArTransformer linear attention: constant per-token attention cost', () => {
    const m = createModel({
      type: 'ar-transformer',
      vocabSize: V,
      dModel: d,
      nLayers: L,
      nHeads: 2,
      attention: 'linear',
    }) as ArTransformer;
    try {
      const perToken = matFlops(m, () => true, V) + L * (4 * d * (d / 2) + 2 * d);
      expect(m.flops(2, 7)).toBe(2 * 7 * perToken);
      expect(m.flops(2, 1, 50)).toBe(2 * perToken);
    } finally {
      m.dispose();
    }
  });

  it.each([true, false])(
    'DiffusionTransformer (timeConditioning %s): per-token matrices, per-row conditioning, bidirectional attention',
    (tc) => {
      const m = createModel({
        type: 'diffusion-transformer',
        vocabSize: V,
        dModel: d,
        nLayers: L,
        nHeads: 2,
        maxLen: 16,
        positions: 'rope',
        timeConditioning: tc,
      }) as DiffusionTransformer;
      try {
        const isCond = (n: string) => n.startsWith('t_emb') || n.includes('ada');
        const perToken = matFlops(m, (n) => !isCond(n), V);
        const perRow = matFlops(m, isCond, V);
        if (!tc) expect(perRow).toBe(0);
        else expect(perRow).toBe(2 * (d * d + d * d) + L * 2 * d * 6 * d + 2 * d * 2 * d);
        for (const [B, N] of [
          [1, 1],
          [2, 6],
          [3, 16],
        ] as const) {
          let attn = 0;
          for (let i = 0; i < N; i++) attn += L * 4 * d * N; // every query sees all N keys
          expect(m.flops(B, N)).toBe(B * (N * perToken + attn + perRow));
        }
      } finally {
        m.dispose();
      }
    },
  );

  it('SsmLm, MlpDenoiser and UNet: dense-matrix parts match 2·rows·cols per token / pixel', () => {
    const mlp = createModel({ type: 'mlp-denoiser', dim: 3, hidden: 8, nLayers: 2 });
    // every MLP-denoiser matrix is applied once per row
    expect(mlp.flops(5)).toBe(5 * matFlops(mlp, () => true, 0));
    mlp.dispose();
    // with m Fourier features: the wider input matrix is a weight; x·B (2·dim·m per row) is not
    const ff = createModel({ type: 'mlp-denoiser', dim: 3, hidden: 8, nLayers: 2, fourierFeatures: 5 });
    expect(ff.getWeights()['in.w']!.shape).toEqual([3 + 2 * 5, 8]);
    expect(ff.flops(5)).toBe(5 * (matFlops(ff, () => true, 0) + 2 * 3 * 5));
    ff.dispose();
    const s4 = createModel({
      type: 'ssm-lm',
      vocabSize: V,
      dModel: d,
      nLayers: L,
      mixer: 's4d',
      dState: 4,
      mlpRatio: 2,
    });
    expect(s4.flops(2, 3)).toBe(2 * 3 * (matFlops(s4, (n) => !n.includes('.s4d.'), V) + L * 16 * d * 4));
    s4.dispose();
    const sel = createModel({
      type: 'ssm-lm',
      vocabSize: V,
      dModel: d,
      nLayers: L,
      mixer: 'selective',
      dState: 4,
      expand: 2,
      convKernel: 3,
    });
    const e = 2 * d;
    expect(sel.flops(1, 4)).toBe(
      4 * (matFlops(sel, (n) => !n.endsWith('conv.w') && !n.endsWith('A_log'), V) + L * (2 * 3 * e + 6 * e * 4)),
    );
    expect(sel.flops(1, 1, 99)).toBe(sel.flops(1, 1));
    sel.dispose();
    // UNet 8×8, one level pair: convs cost pixels × 2·(9·Cin)·Cout, 1×1 maps pixels × 2·Cin·Cout
    const u = createModel({ type: 'unet', imageSize: 8, channels: 1, baseChannels: 4, channelMults: [1, 2] });
    const P0 = 64;
    const P1 = 16;
    let expected = 0;
    for (const [name, w] of Object.entries(u.getWeights())) {
      if (w.rank !== 2) continue;
      const lvl1 =
        name.startsWith('down.1') || name.startsWith('up.1') || name.startsWith('mid') || name === 'down.0.pool.w';
      const pixels = name.startsWith('t_emb') || name.endsWith('.t.w') ? 1 : lvl1 ? P1 : P0;
      expected += pixels * 2 * (w.shape[0] as number) * (w.shape[1] as number);
    }
    expect(u.flops(3)).toBe(3 * expected);
    u.dispose();
  });
});

describe.each(testBackends())('untimed DiffusionTransformer on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('timeConditioning false: predictX0Logits is identical for different t (and the timed model differs)', async () => {
    await expectNoLeaks(async () => {
      const cfg = {
        type: 'diffusion-transformer',
        vocabSize: V,
        dModel: d,
        nLayers: L,
        nHeads: 2,
        maxLen: 8,
        seed: 4,
      } as const;
      const zt = new Rng(9).randint([2, 8], 0, V + 1);
      const t1 = tf.tensor1d([0.1, 0.3]);
      const t2 = tf.tensor1d([0.9, 0.6]);
      for (const tc of [false, true]) {
        const m = createModel({ ...cfg, timeConditioning: tc }) as DiffusionTransformer;
        randomize(m, 5);
        const a = m.predictX0Logits(zt, t1);
        const b = m.predictX0Logits(zt, t2);
        const c = m.predictX0Logits(zt, 0.5);
        const diff = Math.max(await maxAbsDiff(a, b), await maxAbsDiff(a, c));
        if (tc) expect(diff).toBeGreaterThan(1e-3);
        else expect(diff).toBe(0);
        expect(a.shape).toEqual([2, 8, V]);
        if (!tc) expect(Object.keys(m.getWeights()).some((n) => n.startsWith('t_emb'))).toBe(false);
        tf.dispose([a, b, c]);
        m.dispose();
      }
      tf.dispose([zt, t1, t2]);
    });
  });

  it('validates timeConditioning', () => {
    expect(validateModelConfig({ type: 'diffusion-transformer' })).toMatchObject({ timeConditioning: true });
    expect(() => validateModelConfig({ type: 'diffusion-transformer', timeConditioning: 'no' })).toThrow(
      /timeConditioning/,
    );
    expect(() => validateModelConfig({ type: 'ar-transformer', timeConditioning: false })).toThrow(/timeConditioning/);
  });
});
