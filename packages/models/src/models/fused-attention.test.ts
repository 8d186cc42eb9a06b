import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { FUSED_KERNELS, Rng, setFusedKernels, useFused } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../index.js';

afterAll(() => setFusedKernels(true));

const V = 11;
const N = 13; // odd, and > 2W for the sliding model (blocked band)

interface Testable {
  variables(): tf.Variable[];
  dispose(): void;
}

type Build = () => [Testable, (t: tf.Tensor) => tf.Tensor];

const ar =
  (attention: 'full' | 'sliding'): Build =>
  () => {
    const m = createModel({
      type: 'ar-transformer',
      vocabSize: V,
      dModel: 16,
      nLayers: 2,
      nHeads: 2,
      attention,
      ...(attention === 'sliding' ? { window: 4 } : {}),
      seed: 3,
    } as never);
    return [m, (t) => (m as unknown as { forward(t: tf.Tensor): tf.Tensor }).forward(t)];
  };

/** Tokens → logits (B, N, V) of each model under test: causal, sliding-window and bidirectional attention. */
const MODELS: Array<{ name: string; build: Build }> = [
  { name: 'ar-transformer (full causal)', build: ar('full') },
  { name: 'ar-transformer (sliding W 4)', build: ar('sliding') },
  {
    name: 'diffusion-transformer (bidirectional)',
    build: () => {
      const m = createModel({
        type: 'diffusion-transformer',
        vocabSize: V,
        dModel: 16,
        nLayers: 2,
        nHeads: 2,
        seed: 3,
      });
      const dit = m as unknown as { predictX0Logits(z: tf.Tensor, t: tf.Tensor): tf.Tensor };
      return [m, (z) => tf.tidy(() => dit.predictX0Logits(z, tf.tensor1d([0.3, 0.7])))];
    },
  },
];

/** Loss (mean token NLL) and every parameter's gradient, after perturbing all parameters. */
async function lossAndGrads(build: Build): Promise<{ loss: number; grads: Map<string, number[]> }> {
  const [m, logits] = build();
  const rng = new Rng(5);
  for (const v of m.variables()) {
    tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.tensor(rng.normalArray(v.size), v.shape), 0.2))));
  }
  const seq = new Rng(4).randint([2, N + 1], 0, V);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const inp = tf.slice(seq, [0, 0], [2, N]);
      const tgt = tf.slice(seq, [0, 1], [2, N]);
      const lp = tf.logSoftmax(logits(inp));
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tgt, V), lp), -1))) as tf.Scalar;
    }),
  );
  const out = new Map<string, number[]>();
  for (const v of m.variables()) out.set(v.name.replace(/_\d+$/, ''), Array.from(await grads[v.name]!.data()));
  const loss = (await value.data())[0]!;
  tf.dispose([value, seq, ...Object.values(grads)]);
  m.dispose();
  return { loss, grads: out };
}

describe.each(testBackends())('models with fused attention on %s', (backend) => {
  it.each(MODELS)('$name: loss and every parameter gradient equal the composition', async ({ build }) => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      setFusedKernels(false);
      expect(useFused(FUSED_KERNELS.attention)).toBe(false);
      const off = await lossAndGrads(build);
      setFusedKernels(true);
      expect(useFused(FUSED_KERNELS.attention)).toBe(['cpu', 'wasm', 'webgpu'].includes(backend));
      const on = await lossAndGrads(build);
      expect(Math.abs(on.loss - off.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(off.loss)));
      expect(on.grads.size).toBe(off.grads.size);
      for (const [k, ref] of off.grads) {
        const got = on.grads.get(k)!;
        const scale = Math.max(1e-3, ...ref.map(Math.abs));
        const worst = Math.max(...got.map((v, i) => Math.abs(v - ref[i]!)));
        expect(worst / scale, k).toBeLessThan(1e-4);
      }
    });
  });
});
