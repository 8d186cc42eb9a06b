/**
 * Every model with altar's fused kernels on and off (ALTAR_FUSED): same loss and same gradient for every
 * parameter. Fused attention (causal, sliding-window, bidirectional) and the residual add fused into the norm
 * (LayerNorm, RMSNorm, adaLN, an SSM block) each get a model that exercises them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { FUSED_KERNELS, Rng, setFusedKernels, useFused, type BackendName } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../index.js';

afterAll(() => setFusedKernels(true));

const V = 11;

interface Testable {
  variables(): tf.Variable[];
  dispose(): void;
}

type Build = () => [Testable, (t: tf.Tensor) => tf.Tensor];

interface Case {
  name: string;
  /** The fused kernel the model must use when fused kernels are on. */
  kernel: string;
  build: Build;
  /** Sequence length, when not the describe block's. */
  n?: number;
}

/** An autoregressive model: tokens → logits via forward. */
const lm =
  (config: Record<string, unknown>): Build =>
  () => {
    const m = createModel({ vocabSize: V, dModel: 16, nLayers: 2, seed: 3, ...config } as never);
    return [m, (t) => (m as unknown as { forward(t: tf.Tensor): tf.Tensor }).forward(t)];
  };

/** The diffusion transformer (bidirectional attention, adaLN): noisy tokens → x₀ logits at t = 0.3, 0.7. */
const dit: Build = () => {
  const m = createModel({ type: 'diffusion-transformer', vocabSize: V, dModel: 16, nLayers: 2, nHeads: 2, seed: 3 });
  const d = m as unknown as { predictX0Logits(z: tf.Tensor, t: tf.Tensor): tf.Tensor };
  return [m, (z) => tf.tidy(() => d.predictX0Logits(z, tf.tensor1d([0.3, 0.7])))];
};

const ATTENTION: Case[] = [
  {
    name: 'ar-transformer (full causal)',
    kernel: FUSED_KERNELS.attention,
    build: lm({ type: 'ar-transformer', nHeads: 2, attention: 'full' }),
  },
  {
    name: 'ar-transformer (sliding W 4)',
    kernel: FUSED_KERNELS.attention,
    build: lm({ type: 'ar-transformer', nHeads: 2, attention: 'sliding', window: 4 }),
  },
  { name: 'diffusion-transformer (bidirectional)', kernel: FUSED_KERNELS.attention, build: dit },
  {
    // N and dh multiples of 8: wasm runs its kernel too (triangular SIMD products)
    name: 'ar-transformer (full causal, N 16, dh 8)',
    kernel: FUSED_KERNELS.attention,
    build: lm({ type: 'ar-transformer', nHeads: 2, attention: 'full' }),
    n: 16,
  },
];

const NORM: Case[] = [
  ...(['layernorm', 'rmsnorm'] as const).map((norm) => ({
    name: `ar-transformer (${norm})`,
    kernel: norm === 'layernorm' ? FUSED_KERNELS.addLayerNorm : FUSED_KERNELS.addRmsNorm,
    build: lm({ type: 'ar-transformer', nHeads: 2, norm }),
  })),
  { name: 'diffusion-transformer (adaLN)', kernel: FUSED_KERNELS.addLayerNorm, build: dit },
  {
    name: 'ssm-lm (s4d + MLP, rmsnorm)',
    kernel: FUSED_KERNELS.addRmsNorm,
    build: lm({ type: 'ssm-lm', mixer: 's4d', mlpRatio: 2, norm: 'rmsnorm' }),
  },
];

/** Loss (mean token NLL over n positions) and every parameter's gradient, after perturbing all parameters. */
async function lossAndGrads(build: Build, n: number): Promise<{ loss: number; grads: Map<string, number[]> }> {
  const [m, logits] = build();
  const rng = new Rng(5);
  for (const v of m.variables()) {
    tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.tensor(rng.normalArray(v.size), v.shape), 0.2))));
  }
  const seq = new Rng(4).randint([2, n + 1], 0, V);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const inp = tf.slice(seq, [0, 0], [2, n]);
      const tgt = tf.slice(seq, [0, 1], [2, n]);
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

/** Fused off, then on: the model must switch kernels, and agree on the loss and every gradient. */
async function expectSameOnAndOff(backend: BackendName, { kernel, build }: Case, n: number): Promise<void> {
  expect(await useBackend(backend)).not.toBeNull();
  await expectNoLeaks(async () => {
    setFusedKernels(false);
    expect(useFused(kernel)).toBe(false);
    const off = await lossAndGrads(build, n);
    setFusedKernels(true);
    expect(useFused(kernel)).toBe(['cpu', 'wasm', 'webgpu'].includes(backend));
    const on = await lossAndGrads(build, n);
    expect(Math.abs(on.loss - off.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(off.loss)));
    expect(on.grads.size).toBe(off.grads.size);
    for (const [k, ref] of off.grads) {
      const got = on.grads.get(k)!;
      const scale = Math.max(1e-3, ...ref.map(Math.abs));
      const worst = Math.max(...got.map((v, i) => Math.abs(v - ref[i]!)));
      expect(worst / scale, k).toBeLessThan(1e-4);
    }
  });
}

describe.each(testBackends())('models with fused attention on %s', (backend) => {
  // N = 13: odd, and > 2W for the sliding model (its blocked band).
  it.each(ATTENTION)('$name: loss and every parameter gradient equal the composition', (c) =>
    expectSameOnAndOff(backend, c, c.n ?? 13),
  );
});

describe.each(testBackends())('models with the residual add fused into the norm on %s', (backend) => {
  it.each(NORM)('$name: loss and every parameter gradient equal the composition', (c) =>
    expectSameOnAndOff(backend, c, 9),
  );
});
