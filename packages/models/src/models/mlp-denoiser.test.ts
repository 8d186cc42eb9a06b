/**
 * MlpDenoiser's optional random Fourier features (Tancik et al. 2020):
 * - FourierFeatures γ(x) = [x, sin(2πxB), cos(2πxB)] equals a float64 host loop over the same B, and B is
 *   exactly 2π × the N(0, scale²) draws of the Rng it was given (empirical std ≈ scale);
 * - in the model: B comes from Rng(seed).fork('fourier'), is not a weight (checkpoints hold the same
 *   names; only 'in.w' widens to dim + 2m), the same config rebuilds the same function, the default
 *   (fourierFeatures 0) keeps the plain input, gradients reach every weight, nothing leaks;
 * - config validation: defaults filled, bad values rejected with the key named.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect, beforeAll } from 'vitest';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../factory.js';
import { validateModelConfig } from '../config.js';
import { FourierFeatures } from '../layers/fourier.js';
import { maxAbsDiff } from '../../test/helpers.js';

/** γ(x) in float64 on the host: x (n, d) row-major, freqs (d, m) row-major (already × 2π). */
function hostFourier(x: Float32Array, n: number, d: number, freqs: ArrayLike<number>, m: number): Float64Array {
  const out = new Float64Array(n * (d + 2 * m));
  for (let i = 0; i < n; i++) {
    const row = i * (d + 2 * m);
    for (let j = 0; j < d; j++) out[row + j] = x[i * d + j]!;
    for (let k = 0; k < m; k++) {
      let p = 0;
      for (let j = 0; j < d; j++) p += x[i * d + j]! * freqs[j * m + k]!;
      out[row + d + k] = Math.sin(p);
      out[row + d + m + k] = Math.cos(p);
    }
  }
  return out;
}

describe('mlp-denoiser config: Fourier features', () => {
  it('defaults keep the plain input; bad values are rejected naming the key', () => {
    expect(validateModelConfig({ type: 'mlp-denoiser' })).toMatchObject({ fourierFeatures: 0, fourierScale: 1 });
    expect(validateModelConfig({ type: 'mlp-denoiser', fourierFeatures: 8, fourierScale: 0.5 })).toMatchObject({
      fourierFeatures: 8,
      fourierScale: 0.5,
    });
    for (const bad of [-1, 1.5, '4', null]) {
      expect(() => validateModelConfig({ type: 'mlp-denoiser', fourierFeatures: bad })).toThrow(ConfigError);
      expect(() => validateModelConfig({ type: 'mlp-denoiser', fourierFeatures: bad })).toThrow(
        /model\.fourierFeatures.*integer ≥ 0/,
      );
    }
    for (const bad of [0, -0.5, Number.NaN, Number.POSITIVE_INFINITY, '1']) {
      expect(() => validateModelConfig({ type: 'mlp-denoiser', fourierScale: bad })).toThrow(
        /model\.fourierScale.*> 0/,
      );
    }
    expect(() => validateModelConfig({ type: 'unet', fourierFeatures: 4 })).toThrow(
      /unet\.fourierFeatures|model\.fourierFeatures.*unknown key/,
    );
  });
});

describe.each(testBackends())('Fourier features on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('FourierFeatures: B = 2π·N(0, scale²) draws of its Rng; γ(x) equals the float64 host loop', async () => {
    await expectNoLeaks(async () => {
      const d = 2;
      const m = 7;
      const scale = 0.8;
      const ff = new FourierFeatures(new Rng(11), d, m, scale);
      expect(ff.outDim).toBe(d + 2 * m);
      const freqs = await ff.frequencies();
      const draws = new Rng(11).normalArray(d * m, 0, scale);
      for (let i = 0; i < d * m; i++) expect(freqs[i]).toBeCloseTo(2 * Math.PI * draws[i]!, 4);
      const n = 5;
      const xh = new Rng(12).normalArray(n * d, 0, 1.5);
      const x = tf.tensor2d(xh, [n, d]);
      const y = ff.apply(x);
      expect(y.shape).toEqual([n, d + 2 * m]);
      const got = await y.data();
      const want = hostFourier(xh, n, d, freqs, m);
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
      expect(err).toBeLessThan(1e-4);
      // rank-3 input maps over the last axis
      const y3 = tf.tidy(() => ff.apply(tf.reshape(x, [1, n, d])));
      expect(y3.shape).toEqual([1, n, d + 2 * m]);
      const y3flat = tf.reshape(y3, [n, d + 2 * m]);
      expect(await maxAbsDiff(y3flat, y)).toBeLessThan(1e-6);
      tf.dispose([x, y, y3, y3flat]);
      ff.dispose();
      expect(() => new FourierFeatures(new Rng(1), 2, 0, 1)).toThrow(/count/);
      expect(() => new FourierFeatures(new Rng(1), 2, 4, 0)).toThrow(/scale/);
    }, 'fourier layer');
  });

  it('FourierFeatures: the frequencies have std ≈ scale·2π (m = 4000)', async () => {
    const ff = new FourierFeatures(new Rng(3), 1, 4000, 0.5);
    const f = await ff.frequencies();
    let s2 = 0;
    for (const v of f) s2 += v * v;
    expect(Math.sqrt(s2 / f.length) / (2 * Math.PI)).toBeCloseTo(0.5, 1); // ±0.05; sampling error ≈ 0.006
    ff.dispose();
  });

  it('MlpDenoiser with fourierFeatures: B from Rng(seed).fork("fourier"), not a weight; same config = same function; gradients flow', async () => {
    await expectNoLeaks(async () => {
      const cfg = {
        type: 'mlp-denoiser',
        dim: 2,
        hidden: 16,
        nLayers: 2,
        prediction: 'v',
        fourierFeatures: 6,
        fourierScale: 0.7,
        seed: 4,
      } as const;
      const a = createModel(cfg);
      const plain = createModel({ ...cfg, fourierFeatures: 0 });
      const wa = a.getWeights();
      const wp = plain.getWeights();
      expect(Object.keys(wa).sort()).toEqual(Object.keys(wp).sort()); // checkpoints name the same tensors
      expect(wa['in.w']!.shape).toEqual([2 + 12, 16]);
      expect(wp['in.w']!.shape).toEqual([2, 16]);
      expect(a.paramCount() - plain.paramCount()).toBe(12 * 16);
      const freqs = await a.fourierFrequencies();
      const draws = new Rng(4).fork('fourier').normalArray(2 * 6, 0, 0.7);
      expect(freqs).not.toBeNull();
      for (let i = 0; i < 12; i++) expect(freqs![i]).toBeCloseTo(2 * Math.PI * draws[i]!, 4);
      expect(await plain.fourierFrequencies()).toBeNull();

      // A second model of the same config, given a's weights, is the same function (B rebuilt from the seed).
      const b = createModel(cfg);
      b.setWeights(wa);
      const x = tf.tidy(() => new Rng(9).normal([8, 2]));
      const t = tf.tensor1d([0.01, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1]);
      const ya = a.predict(x, t);
      const yb = b.predict(x, t);
      expect(ya.shape).toEqual([8, 2]);
      expect(await maxAbsDiff(ya, yb)).toBe(0);
      // A different seed draws a different B.
      const c = createModel({ ...cfg, seed: 5 });
      const fc = (await c.fourierFrequencies())!;
      expect(Math.max(...fc.map((v, i) => Math.abs(v - freqs![i]!)))).toBeGreaterThan(1e-3);

      // Gradients of a loss reach every trainable weight, 'in.w' included.
      const vars = a.variables();
      const { grads, value } = tf.variableGrads(() => tf.mean(tf.square(a.predict(x, t))) as tf.Scalar, vars);
      expect(Object.keys(grads).length).toBe(vars.length);
      let checked = 0;
      for (const v of vars) {
        const g = grads[v.name]!;
        if (v.shape[0] !== 14) continue;
        checked++; // 'in.w' (dim + 2m, H): every input feature gets a gradient
        const gv = await g.data();
        for (let r = 0; r < 14; r++)
          expect(Math.max(...Array.from(gv.subarray(r * 16, r * 16 + 16), Math.abs))).toBeGreaterThan(0);
      }
      expect(checked).toBe(1);
      tf.dispose([x, t, ya, yb, value, ...Object.values(grads)]);
      for (const m of [a, b, c, plain]) m.dispose();
    }, 'fourier mlp');
  });
});
