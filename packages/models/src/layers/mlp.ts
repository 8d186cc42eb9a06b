/**
 * The position-wise MLP of a block and the diffusion-time conditioning (sinusoidal embedding and its MLP).
 */
import * as tf from '@tensorflow/tfjs-core';
import { biasGelu } from '@altar/backend';
import { gelu, Linear, silu } from './basic.js';
import { matmulLast } from './matmul.js';
import type { ParamStore } from './params.js';

/**
 * The MLP of a block: 'gelu' (GPT-2) or 'swiglu' (LLaMA, a gated linear unit).
 *
 * @example
 * ```ts
 * new Mlp(store, 'mlp', 64, 256, 'swiglu' as MlpKind);
 * ```
 */
export type MlpKind = 'gelu' | 'swiglu';

/**
 * Position-wise MLP: GELU (Vaswani 2017 / GPT-2) or SwiGLU (Shazeer 2020): W2(silu(W1 x) ⊙ W3 x).
 *
 * @example
 * ```ts
 * const mlp = new Mlp(store, 'block0.mlp', 64, 256, 'gelu');
 * const y = mlp.apply(x); // (…, 64) → (…, 64)
 * ```
 */
export class Mlp {
  readonly w1: Linear;
  readonly w2: Linear;
  readonly w3: Linear | null;
  constructor(
    store: ParamStore,
    name: string,
    dim: number,
    hidden: number,
    readonly kind: MlpKind,
    outStd?: number,
  ) {
    this.w1 = new Linear(store, `${name}.w1`, dim, hidden);
    this.w3 = kind === 'swiglu' ? new Linear(store, `${name}.w3`, dim, hidden) : null;
    this.w2 = new Linear(store, `${name}.w2`, hidden, dim, outStd === undefined ? {} : { std: outStd });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const w1 = this.w1;
      // GELU with its bias in one kernel (forward and backward) where the backend has it.
      const act = () => (w1.b ? biasGelu(matmulLast(x, w1.w), w1.b) : gelu(w1.apply(x)));
      const h = this.w3 ? tf.mul(silu(w1.apply(x)), this.w3.apply(x)) : act();
      return this.w2.apply(h);
    });
  }
}

/**
 * Sinusoidal embedding of a continuous time t ∈ [0,1] (Vaswani 2017 §3.5, as used for diffusion time
 * by Ho et al. 2020): [cos(s·t·ω_i), sin(s·t·ω_i)], ω_i = 10000^(-i/(dim/2)), s = 1000. t (B,) → (B, dim).
 *
 * @example
 * ```ts
 * timestepEmbedding(tf.tensor1d([0, 0.5]), 64); // (2, 64)
 * ```
 */
export function timestepEmbedding(t: tf.Tensor, dim: number, scale = 1000): tf.Tensor {
  return tf.tidy(() => {
    const half = Math.floor(dim / 2);
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
    const args = tf.mul(tf.reshape(tf.mul(tf.cast(t, 'float32'), scale), [-1, 1]), tf.tensor2d(freqs, [1, half])); // (B, half)
    let emb = tf.concat([tf.cos(args), tf.sin(args)], -1); // (B, 2·half)
    if (dim % 2 === 1)
      emb = tf.pad(emb, [
        [0, 0],
        [0, 1],
      ]);
    return emb;
  });
}

/**
 * Time conditioning: sinusoidal features → Linear → SiLU → Linear (DiT's TimestepEmbedder).
 *
 * @example
 * ```ts
 * const temb = new TimeEmbedder(store, 't_emb', 256, 128);
 * const c = temb.apply(t, B); // t (B,) in [0, 1] → (B, 128)
 * ```
 */
export class TimeEmbedder {
  readonly l1: Linear;
  readonly l2: Linear;
  constructor(
    store: ParamStore,
    name: string,
    readonly freqDim: number,
    readonly dim: number,
  ) {
    this.l1 = new Linear(store, `${name}.l1`, freqDim, dim);
    this.l2 = new Linear(store, `${name}.l2`, dim, dim);
  }
  /** t (B,) in [0,1] → (B, dim). A plain number is broadcast to `batch`. */
  apply(t: tf.Tensor | number, batch: number): tf.Tensor {
    return tf.tidy(() => {
      const tt = typeof t === 'number' ? tf.fill([batch], t) : t;
      return this.l2.apply(silu(this.l1.apply(timestepEmbedding(tt, this.freqDim))));
    });
  }
}
