import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../factory.js';
import type { ArTransformer } from './ar-transformer.js';
import type { SsmLm } from './ssm-lm.js';
import { maxAbsDiff, stepAll } from '../../test/helpers.js';

const V = 11;
const LMS: Array<[string, Record<string, unknown>]> = [
  ['ar full rope', { type: 'ar-transformer', attention: 'full', positions: 'rope' }],
  [
    'ar full learned swiglu rmsnorm',
    { type: 'ar-transformer', attention: 'full', positions: 'learned', mlp: 'swiglu', norm: 'rmsnorm' },
  ],
  ['ar sliding W=3', { type: 'ar-transformer', attention: 'sliding', window: 3 }],
  ['ar linear chunk 4', { type: 'ar-transformer', attention: 'linear', linearChunk: 4 }],
  ['ssm selective', { type: 'ssm-lm', mixer: 'selective', scanChunk: 4 }],
  ['ssm s4d chunk 4 + mlp', { type: 'ssm-lm', mixer: 's4d', s4dChunk: 4, mlpRatio: 2 }],
];
const tiny = { vocabSize: V, dModel: 16, nLayers: 2, nHeads: 2, maxLen: 16, dState: 4, seed: 3 };

function randInts(seed: number, n: number): Int32Array {
  const r = new Rng(seed);
  return Int32Array.from({ length: n }, () => r.nextInt(0, V));
}

function make(cfg: Record<string, unknown>): ArTransformer | SsmLm {
  return createModel({
    ...tiny,
    ...cfg,
    ...(cfg['type'] === 'ssm-lm' ? { nHeads: undefined, maxLen: undefined } : { dState: undefined }),
  } as never) as ArTransformer | SsmLm;
}

describe.each(testBackends())('causal LMs on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each(LMS)('%s: step-wise decoding reproduces forward to 1e-4', async (_name, cfg) => {
    await expectNoLeaks(async () => {
      const m = make(cfg);
      const tokens = new Rng(7).randint([2, 11], 0, V);
      const par = m.forward(tokens);
      const seq = stepAll(m, tokens);
      expect(par.shape).toEqual([2, 11, V]);
      expect(await maxAbsDiff(par, seq)).toBeLessThan(1e-4);
      tf.dispose([tokens, par, seq]);
      m.dispose();
    }, 'step vs forward');
  });

  it.each(LMS)('%s: changing a future token never changes earlier logits', async (_name, cfg) => {
    await expectNoLeaks(async () => {
      const m = make(cfg);
      const a = randInts(9, 10);
      const b = Int32Array.from(a);
      const k = 6;
      b[k] = ((a[k] as number) + 1) % V;
      for (let j = k + 1; j < 10; j++) b[j] = ((a[j] as number) + 3) % V;
      const ta = tf.tensor2d(a, [1, 10], 'int32');
      const tb = tf.tensor2d(b, [1, 10], 'int32');
      const la = m.forward(ta);
      const lb = m.forward(tb);
      const [pa, pb, qa, qb] = tf.tidy(() => [
        tf.slice(la, [0, 0, 0], [1, k, V]),
        tf.slice(lb, [0, 0, 0], [1, k, V]),
        tf.slice(la, [0, k, 0], [1, 1, V]),
        tf.slice(lb, [0, k, 0], [1, 1, V]),
      ]);
      expect(await maxAbsDiff(pa as tf.Tensor, pb as tf.Tensor)).toBe(0); // strictly unaffected
      expect(await maxAbsDiff(qa as tf.Tensor, qb as tf.Tensor)).toBeGreaterThan(1e-4); // the changed position matters
      tf.dispose([ta, tb, la, lb, pa, pb, qa, qb] as tf.Tensor[]);
      m.dispose();
    }, 'causality');
  });

  it('sliding window: logits depend only on the last W positions (2 layers → receptive field 2(W−1)+1)', async () => {
    await expectNoLeaks(async () => {
      const w = 3;
      const m = createModel({
        ...tiny,
        type: 'ar-transformer',
        attention: 'sliding',
        window: w,
        nLayers: 1,
        dState: undefined,
      } as never) as ArTransformer;
      const a = randInts(2, 12);
      const b = Int32Array.from(a);
      for (let j = 0; j < 12 - w; j++) b[j] = ((a[j] as number) + 5) % V; // change everything but the last W
      const ta = tf.tensor2d(a, [1, 12], 'int32');
      const tb = tf.tensor2d(b, [1, 12], 'int32');
      const la = m.forward(ta);
      const lb = m.forward(tb);
      const [ea, eb, fa, fb] = tf.tidy(() => [
        tf.slice(la, [0, 11, 0], [1, 1, V]),
        tf.slice(lb, [0, 11, 0], [1, 1, V]),
        tf.slice(la, [0, 10, 0], [1, 1, V]),
        tf.slice(lb, [0, 10, 0], [1, 1, V]),
      ]);
      expect(await maxAbsDiff(ea as tf.Tensor, eb as tf.Tensor)).toBeLessThan(1e-6); // last position sees only 9..11
      expect(await maxAbsDiff(fa as tf.Tensor, fb as tf.Tensor)).toBeGreaterThan(1e-4); // position 10 sees 8 (changed)
      tf.dispose([ta, tb, la, lb, ea, eb, fa, fb] as tf.Tensor[]);
      m.dispose();
    }, 'sliding window locality');
  });

  it('sliding window decodes past W with a fixed-size ring buffer', async () => {
    await expectNoLeaks(async () => {
      const m = createModel({
        ...tiny,
        type: 'ar-transformer',
        attention: 'sliding',
        window: 4,
        dState: undefined,
      } as never) as ArTransformer;
      let s = m.initState(1);
      for (let i = 0; i < 9; i++) {
        const tok = tf.tensor1d([i % V], 'int32');
        const r = m.step(tok, s);
        m.disposeState(s);
        s = r.state;
        r.logits.dispose();
        tok.dispose();
      }
      const c = s.caches[0];
      expect(c?.kind).toBe('sliding');
      if (c?.kind === 'sliding') expect(c.k.shape).toEqual([1, 2, 4, 8]);
      m.disposeState(s);
      m.dispose();
    });
  });

  it('learned positions refuse to step past maxLen', async () => {
    const m = createModel({
      ...tiny,
      type: 'ar-transformer',
      positions: 'learned',
      maxLen: 2,
      dState: undefined,
    } as never) as ArTransformer;
    let s = m.initState(1);
    const tok = tf.tensor1d([1], 'int32');
    for (let i = 0; i < 2; i++) {
      const r = m.step(tok, s);
      m.disposeState(s);
      s = r.state;
      r.logits.dispose();
    }
    expect(() => m.step(tok, s)).toThrow(/maxLen/);
    m.disposeState(s);
    tok.dispose();
    m.dispose();
  });
});

describe.each(testBackends())('denoisers on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('DiffusionTransformer: logits over V data tokens, accepts [MASK]=V, bidirectional and time-dependent', async () => {
    await expectNoLeaks(async () => {
      const m = createModel({
        type: 'diffusion-transformer',
        vocabSize: V,
        dModel: 16,
        nLayers: 2,
        nHeads: 2,
        maxLen: 8,
        seed: 1,
      });
      expect(m.maskId).toBe(V);
      // adaLN-Zero starts as identity blocks; randomise weights so the checks below are meaningful.
      const rng = new Rng(5);
      const w = m.getWeights();
      const noisy = Object.fromEntries(
        Object.entries(w).map(([k, t]) => [k, tf.tidy(() => tf.add(t, rng.normal(t.shape, 0, 0.2)))]),
      );
      m.setWeights(noisy);
      tf.dispose(Object.values(noisy));
      const z = tf.tensor2d(
        [
          [0, V, 3, V, 5, 6],
          [V, V, V, V, V, V],
        ],
        [2, 6],
        'int32',
      );
      const z2 = tf.tensor2d(
        [
          [0, V, 3, V, 5, 7],
          [V, V, V, V, V, V],
        ],
        [2, 6],
        'int32',
      );
      const t = tf.tensor1d([0.3, 0.9]);
      const t2 = tf.tensor1d([0.6, 0.9]);
      const a = m.predictX0Logits(z, t);
      const b = m.predictX0Logits(z2, t);
      const c = m.predictX0Logits(z, t2);
      expect(a.shape).toEqual([2, 6, V]);
      const [a0, b0, c0] = tf.tidy(() => [a, b, c].map((x) => tf.slice(x, [0, 0, 0], [1, 1, V])));
      expect(await maxAbsDiff(a0 as tf.Tensor, b0 as tf.Tensor)).toBeGreaterThan(1e-5); // a later token changes position 0
      expect(await maxAbsDiff(a0 as tf.Tensor, c0 as tf.Tensor)).toBeGreaterThan(1e-5); // time matters
      const num = tf.tidy(() => m.predictX0Logits(z, 0.3));
      const [n0, a1] = tf.tidy(() => [tf.slice(num, [0, 0, 0], [1, 6, V]), tf.slice(a, [0, 0, 0], [1, 6, V])]);
      expect(await maxAbsDiff(n0 as tf.Tensor, a1 as tf.Tensor)).toBeLessThan(1e-5); // plain-number t broadcasts
      tf.dispose([z, z2, t, t2, a, b, c, a0, b0, c0, num, n0, a1] as tf.Tensor[]);
      m.dispose();
    });
  });

  it('MlpDenoiser and UNet: output has the input shape; prediction type declared', async () => {
    await expectNoLeaks(async () => {
      const mlp = createModel({ type: 'mlp-denoiser', dim: 3, hidden: 16, nLayers: 2, prediction: 'v' });
      expect(mlp.prediction).toBe('v');
      const x = tf.tidy(() => new Rng(1).normal([4, 3]));
      const t = tf.tensor1d([0.1, 0.2, 0.5, 0.9]);
      const y = mlp.predict(x, t);
      expect(y.shape).toEqual([4, 3]);
      for (const [size, ch] of [
        [16, 1],
        [32, 3],
      ] as const) {
        const u = createModel({
          type: 'unet',
          imageSize: size,
          channels: ch,
          baseChannels: 4,
          channelMults: [1, 2, 2],
          prediction: 'x0',
        });
        expect(u.prediction).toBe('x0');
        const img = tf.tidy(() => new Rng(2).normal([2, size, size, ch]));
        const tt = tf.tensor1d([0.2, 0.7]);
        const out = u.predict(img, tt);
        tt.dispose();
        expect(out.shape).toEqual([2, size, size, ch]);
        const vals = await out.data();
        expect(vals.every(Number.isFinite)).toBe(true);
        tf.dispose([img, out]);
        u.dispose();
      }
      tf.dispose([x, t, y]);
      mlp.dispose();
    });
  });
});
