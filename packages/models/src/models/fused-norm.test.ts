import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { FUSED_KERNELS, Rng, setFusedKernels, useFused } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../index.js';

afterAll(() => setFusedKernels(true));

const V = 13;

interface Testable {
  variables(): tf.Variable[];
  dispose(): void;
}

/** Tokens → logits (B, N, V) of each model under test, built from a config (every norm is after a residual add). */
const MODELS: Array<{ name: string; kernel: string; build: () => [Testable, (t: tf.Tensor) => tf.Tensor] }> = [
  ...(['layernorm', 'rmsnorm'] as const).map((norm) => ({
    name: `ar-transformer (${norm})`,
    kernel: norm === 'layernorm' ? FUSED_KERNELS.addLayerNorm : FUSED_KERNELS.addRmsNorm,
    build: (): [Testable, (t: tf.Tensor) => tf.Tensor] => {
      const m = createModel({ type: 'ar-transformer', vocabSize: V, dModel: 16, nLayers: 2, nHeads: 2, norm, seed: 3 });
      return [m, (t) => (m as unknown as { forward(t: tf.Tensor): tf.Tensor }).forward(t)];
    },
  })),
  {
    name: 'diffusion-transformer (adaLN)',
    kernel: FUSED_KERNELS.addLayerNorm,
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
  {
    name: 'ssm-lm (s4d + MLP, rmsnorm)',
    kernel: FUSED_KERNELS.addRmsNorm,
    build: () => {
      const m = createModel({
        type: 'ssm-lm',
        vocabSize: V,
        dModel: 16,
        nLayers: 2,
        mixer: 's4d',
        mlpRatio: 2,
        norm: 'rmsnorm',
        seed: 3,
      } as never);
      return [m, (t) => (m as unknown as { forward(t: tf.Tensor): tf.Tensor }).forward(t)];
    },
  },
];

/** Loss (mean token NLL) and every parameter's gradient, after perturbing all parameters (gains ≠ 1, gates ≠ 0). */
async function lossAndGrads(
  build: () => [Testable, (t: tf.Tensor) => tf.Tensor],
): Promise<{ loss: number; grads: Map<string, number[]> }> {
  const [m, logits] = build();
  const rng = new Rng(5);
  for (const v of m.variables()) {
    tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.tensor(rng.normalArray(v.size), v.shape), 0.2))));
  }
  const seq = new Rng(4).randint([2, 10], 0, V);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const inp = tf.slice(seq, [0, 0], [2, 9]);
      const tgt = tf.slice(seq, [0, 1], [2, 9]);
      const lp = tf.logSoftmax(logits(inp));
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tgt, V), lp), -1))) as tf.Scalar;
    }),
  );
  const out = new Map<string, number[]>();
  // Keyed by parameter name without the variable's unique suffix, so two models' keys match.
  for (const v of m.variables()) out.set(v.name.replace(/_\d+$/, ''), Array.from(await grads[v.name]!.data()));
  const loss = (await value.data())[0]!;
  tf.dispose([value, seq, ...Object.values(grads)]);
  m.dispose();
  return { loss, grads: out };
}

describe.each(testBackends())('models with the residual add fused into the norm on %s', (backend) => {
  it.each(MODELS)('$name: loss and every parameter gradient equal the composition', async ({ kernel, build }) => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      setFusedKernels(false);
      expect(useFused(kernel)).toBe(false);
      const off = await lossAndGrads(build);
      setFusedKernels(true);
      if (['cpu', 'wasm', 'webgpu'].includes(backend)) expect(useFused(kernel)).toBe(true);
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
