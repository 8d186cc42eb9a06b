/**
 * Optimizer-side fused kernels: one AdamW step per parameter (Loshchilov & Hutter 2019, Alg. 2) and the
 * squared norms of many tensors at once (the global gradient norm). No gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';

/**
 * The scalars of one AdamW step (see `adamwUpdate`).
 *
 * @example
 * ```ts
 * const s: AdamwStep = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 1e-4, bc1: 0.1, bc2: 0.01, gradScale: 1 };
 * ```
 */
export interface AdamwStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay factor applied to p first: p ← p·(1 − decay); 0 for no decay. */
  decay: number;
  /** Bias corrections 1 − β1^t and 1 − β2^t. */
  bc1: number;
  bc2: number;
  /** Multiplies g first (clipping, averaging over micro-batches). */
  gradScale: number;
}

export const adamwSpec: HostKernelSpec = {
  name: FUSED_KERNELS.adamw,
  inputs: ['p', 'm', 'v', 'g'],
  outputs: ([ps]) => [0, 1, 2].map(() => ({ shape: ps!, dtype: 'float32' as const })),
  compute([p, m, v, g], [pOut, mOut, vOut], _s, a) {
    const { lr, beta1, beta2, eps, decay, bc1, bc2, gradScale } = a as unknown as AdamwStep;
    const keep = 1 - decay;
    // Float32 intermediates as in the composition: Math.fround after each rounding point of the tensor ops.
    for (let i = 0; i < p!.length; i++) {
      const gi = Math.fround(g![i]! * gradScale);
      const mi = Math.fround(Math.fround(m![i]! * beta1) + Math.fround(gi * (1 - beta1)));
      const vi = Math.fround(Math.fround(v![i]! * beta2) + Math.fround(Math.fround(gi * gi) * (1 - beta2)));
      mOut![i] = mi;
      vOut![i] = vi;
      const upd = Math.fround(Math.fround(mi / bc1) / Math.fround(Math.fround(Math.sqrt(Math.fround(vi / bc2))) + eps));
      const base = decay > 0 ? Math.fround(p![i]! * keep) : p![i]!;
      pOut![i] = base - Math.fround(upd * lr);
    }
  },
};

/**
 * The composition adamwUpdate replaces (the per-parameter ops of AdamW), returning [p, m, v].
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = adamwComposition(p, m, v, g, step);
 * ```
 */
export function adamwComposition(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  s: AdamwStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const gs = s.gradScale === 1 ? g : tf.mul(g, s.gradScale);
    const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(gs, 1 - s.beta1));
    const vNew = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gs), 1 - s.beta2));
    const update = tf.div(tf.div(mNew, s.bc1), tf.add(tf.sqrt(tf.div(vNew, s.bc2)), s.eps));
    const base = s.decay > 0 ? tf.mul(p, 1 - s.decay) : p;
    return [tf.sub(base, tf.mul(update, s.lr)), mNew, vNew];
  });
}

/**
 * One AdamW step for one parameter: returns new [p, m, v] (the caller assigns them). One kernel on
 * cpu/wasm, three WGSL dispatches on webgpu, the composition elsewhere.
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = adamwUpdate(p, m, v, g, step);
 * p.assign(p1); m.assign(m1); v.assign(v1);
 * ```
 */
export function adamwUpdate(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  s: AdamwStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!useFused(FUSED_KERNELS.adamw)) return adamwComposition(p, m, v, g, s);
  return tf.engine().runKernel(FUSED_KERNELS.adamw, { p, m, v, g }, s as unknown as NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

export const squaredNormsSpec: HostKernelSpec = {
  name: FUSED_KERNELS.squaredNorms,
  inputs: (attrs) => Array.from({ length: attrs['count'] as number }, (_, i) => `t${i}`),
  outputs: (shapes) => [{ shape: [shapes.length], dtype: 'float32' }],
  compute(ins, [out]) {
    ins.forEach((t, i) => {
      let s = 0;
      for (let k = 0; k < t.length; k++) s += t[k]! * t[k]!;
      out![i] = s;
    });
  },
};

/**
 * ‖t_i‖² of every tensor, as one (n) vector: one kernel where available (a global gradient norm per
 * step), else one Square + Sum per tensor stacked. No gradient.
 *
 * @example
 * ```ts
 * squaredNorms([tf.tensor1d([3, 4]), tf.scalar(2)]); // [25, 4]
 * ```
 */
export function squaredNorms(tensors: tf.Tensor[]): tf.Tensor1D {
  if (tensors.length === 0) throw new AltarError('BAD_ARG', 'squaredNorms: need at least one tensor');
  if (!useFused(FUSED_KERNELS.squaredNorms))
    return tf.tidy(() => tf.stack(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Tensor1D);
  const inputs: Record<string, tf.Tensor> = {};
  tensors.forEach((t, i) => (inputs[`t${i}`] = t));
  return tf.engine().runKernel(FUSED_KERNELS.squaredNorms, inputs, { count: tensors.length }) as tf.Tensor1D;
}
