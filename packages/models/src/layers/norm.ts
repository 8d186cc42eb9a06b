/**
 * Normalisation layers over the last axis: LayerNorm, RMSNorm, and the factory a block config uses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { addLayerNorm, addRmsNorm, FUSED_KERNELS, layerNormFused, rmsNormFused, useFused } from '@altar/backend';
import type { ParamStore } from './params.js';

/**
 * LayerNorm (Ba et al. 2016) over the last axis; `affine: false` for adaLN (DiT).
 *
 * @example
 * ```ts
 * const norm = new LayerNorm(store, 'ln', 64);
 * const y = norm.apply(x); // zero mean, unit variance over the last axis, then gain and bias
 * ```
 */
export class LayerNorm {
  readonly g: tf.Variable | null;
  readonly b: tf.Variable | null;
  constructor(
    store: ParamStore | null,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    this.g = affine && store ? store.add(`${name}.g`, [dim], { kind: 'ones' }) : null;
    this.b = affine && store ? store.add(`${name}.b`, [dim], { kind: 'zeros' }) : null;
  }
  apply(x: tf.Tensor): tf.Tensor {
    if (this.g && this.b) return layerNormFused(x, this.g, this.b, this.eps); // one kernel each way on cpu/wasm
    if (!this.g && !this.b && useFused(FUSED_KERNELS.layerNorm)) {
      return tf.tidy(() => layerNormFused(x, tf.ones([this.dim]), tf.zeros([this.dim]), this.eps));
    }
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const xc = tf.sub(x, mean);
      const variance = tf.mean(tf.square(xc), -1, true);
      let y = tf.mul(xc, tf.rsqrt(tf.add(variance, this.eps)));
      if (this.g) y = tf.mul(y, this.g);
      if (this.b) y = tf.add(y, this.b);
      return y;
    });
  }
  /** [s, norm(s)] with s = x + r: the residual add and this norm in one kernel where available. */
  addApply(x: tf.Tensor, r: tf.Tensor): [tf.Tensor, tf.Tensor] {
    if (this.g && this.b) return addLayerNorm(x, r, this.g, this.b, this.eps);
    if (!this.g && !this.b && useFused(FUSED_KERNELS.addLayerNorm)) {
      return tf.tidy(() => addLayerNorm(x, r, tf.ones([this.dim]), tf.zeros([this.dim]), this.eps));
    }
    return tf.tidy(() => {
      const s = tf.add(x, r);
      return [s, this.apply(s)];
    });
  }
}

/**
 * RMSNorm (Zhang & Sennrich 2019): x / sqrt(mean(x²) + eps) · g.
 *
 * @example
 * ```ts
 * const norm = new RMSNorm(store, 'rms', 64);
 * const y = norm.apply(x);
 * ```
 */
export class RMSNorm {
  readonly g: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    this.g = store.add(`${name}.g`, [dim], { kind: 'ones' });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return rmsNormFused(x, this.g, this.eps); // the composition where the backend has no kernel
  }
  /** [s, norm(s)] with s = x + r: the residual add and this norm in one kernel where available. */
  addApply(x: tf.Tensor, r: tf.Tensor): [tf.Tensor, tf.Tensor] {
    return addRmsNorm(x, r, this.g, this.eps);
  }
}

/**
 * The pre-norm residual step: s = h + r and norm(s), fused where the backend has the kernel; with no pending
 * residual (r null, the first norm of a stack) s is h itself.
 *
 * @example
 * ```ts
 * let [h, y] = addNorm(block.norm1, h0, null); // y = norm1(h0)
 * [h, y] = addNorm(block.norm2, h, attnOut); // h = h + attnOut, y = norm2(h)
 * ```
 */
export function addNorm(norm: LayerNorm | RMSNorm, h: tf.Tensor, r: tf.Tensor | null): [tf.Tensor, tf.Tensor] {
  return r ? norm.addApply(h, r) : [h, norm.apply(h)];
}

/**
 * Which normalisation a block uses: 'layernorm' (GPT-2) or 'rmsnorm' (LLaMA).
 *
 * @example
 * ```ts
 * const norm = makeNorm('rmsnorm' as NormKind, store, 'ln_f', 64);
 * ```
 */
export type NormKind = 'layernorm' | 'rmsnorm';
/**
 * A {@link LayerNorm} or an {@link RMSNorm}: both `apply(x)` over the last axis.
 *
 * @example
 * ```ts
 * const norm: Norm = makeNorm(config.norm, store, 'ln1', config.dModel);
 * ```
 */
export type Norm = LayerNorm | RMSNorm;
/**
 * Build the {@link Norm} a config names.
 *
 * @example
 * ```ts
 * const norm = makeNorm('layernorm', store, 'block0.ln1', 64);
 * ```
 */
export function makeNorm(kind: NormKind, store: ParamStore, name: string, dim: number): Norm {
  return kind === 'rmsnorm' ? new RMSNorm(store, name, dim) : new LayerNorm(store, name, dim);
}
