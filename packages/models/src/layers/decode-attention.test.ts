import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DECODE_ATTENTION_KERNEL, Rng, setFusedKernels, useFused } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { Attention, type AttentionCache } from './attention.js';
import { ParamStore } from './params.js';

afterAll(() => setFusedKernels(true));

/** Decode 7 positions through `step`; returns every output row. */
async function decode(att: Attention, xs: tf.Tensor3D): Promise<number[]> {
  const [b, n] = xs.shape;
  let cache: AttentionCache = att.initCache(b);
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    const xi = tf.tidy(() => tf.reshape(tf.slice(xs, [0, i, 0], [b, 1, -1]), [b, -1]) as tf.Tensor2D);
    const r = att.step(xi, cache);
    xi.dispose();
    att.disposeCache(cache);
    cache = r.cache;
    rows.push(...(await r.y.data()));
    r.y.dispose();
  }
  att.disposeCache(cache);
  return rows;
}

describe.each(testBackends())('fused decode attention on %s', (backend) => {
  it.each([true, false])('equals the composition step and the full forward (rope %s)', async (rope) => {
    expect(await useBackend(backend)).not.toBeNull();
    const store = new ParamStore(new Rng(8));
    const att = new Attention(store, 'a', { kind: 'full', dModel: 12, nHeads: 3, rope });
    const xs = new Rng(9).normal([2, 7, 12]) as tf.Tensor3D;
    await expectNoLeaks(async () => {
      setFusedKernels(false);
      const ref = await decode(att, xs);
      setFusedKernels(true);
      expect(useFused(DECODE_ATTENTION_KERNEL)).toBe(backend === 'cpu' || backend === 'wasm' || backend === 'webgpu');
      const got = await decode(att, xs);
      // the whole-sequence causal forward, rearranged to the step order (position-major)
      const full = tf.tidy(() => tf.transpose(att.forward(xs), [1, 0, 2]));
      const fwd = Array.from(await full.data());
      full.dispose();
      expect(got.length).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) {
        expect(got[i]).toBeCloseTo(ref[i]!, 5);
        expect(got[i]).toBeCloseTo(fwd[i]!, 4);
      }
    });
    xs.dispose();
    store.dispose();
  });
});
