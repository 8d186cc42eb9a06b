/**
 * Small shared layers. Each is a class that registers its tf.Variables in the model's ParamStore and
 * exposes tidy-wrapped tensor functions.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import { matmulLast } from './matmul.js';
import type { ParamStore } from './params.js';

/**
 * Options accepted by every forward-type method. Dropout is active only when `training` is true.
 *
 * @example
 * ```ts
 * model.forward(tokens, { training: true, rng: new Rng(step) }); // dropout on, masks from rng
 * ```
 */
export interface ForwardOptions {
  training?: boolean;
  /** Source of dropout masks; required when training with dropout > 0. */
  rng?: Rng;
}

/**
 * y = x W + b over the last axis; W (in, out) initialised N(0, 1/in) unless given, b zero.
 *
 * @example
 * ```ts
 * const store = new ParamStore(new Rng(0));
 * const proj = new Linear(store, 'proj', 64, 128);
 * const y = proj.apply(tf.ones([2, 10, 64])); // (2, 10, 128)
 * ```
 */
export class Linear {
  readonly w: tf.Variable;
  readonly b: tf.Variable | null;
  constructor(
    store: ParamStore,
    name: string,
    readonly inDim: number,
    readonly outDim: number,
    opts: { bias?: boolean; std?: number; zero?: boolean } = {},
  ) {
    const std = opts.std ?? 1 / Math.sqrt(inDim);
    this.w = store.add(`${name}.w`, [inDim, outDim], opts.zero ? { kind: 'zeros' } : { kind: 'normal', std });
    this.b = opts.bias === false ? null : store.add(`${name}.b`, [outDim], { kind: 'zeros' });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = matmulLast(x, this.w);
      return this.b ? tf.add(y, this.b) : y;
    });
  }
}

/**
 * GELU, tanh approximation (Hendrycks & Gimpel 2016): 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
 *
 * @example
 * ```ts
 * gelu(tf.tensor1d([0, 1])); // ≈ [0, 0.8412]
 * ```
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.square(x)))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  });
}

/**
 * SiLU / swish: x·σ(x).
 *
 * @example
 * ```ts
 * silu(tf.tensor1d([0, 1])); // [0, 0.7311]
 * ```
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/**
 * Inverted dropout with masks drawn from `rng` (never tf.dropout, which is unseeded).
 *
 * @example
 * ```ts
 * const h = dropout(x, 0.1, { training: true, rng }); // identity when not training
 * ```
 */
export function dropout(x: tf.Tensor, rate: number, opts: ForwardOptions | undefined): tf.Tensor {
  if (!opts?.training || rate <= 0) return x;
  const rng = opts.rng;
  if (!rng) throw new Error('dropout: training with dropout > 0 needs opts.rng (an @altar/backend Rng)');
  return tf.tidy(() => {
    const keep = tf.cast(tf.greaterEqual(rng.uniform(x.shape), rate), 'float32');
    return tf.mul(x, tf.div(keep, 1 - rate));
  });
}

/**
 * adaLN modulation (Peebles & Xie 2023, DiT): x·(1 + scale) + shift; shift/scale (B, D) broadcast over N.
 *
 * @example
 * ```ts
 * const y = modulate(norm.apply(x), shift, scale); // x (B, N, D), shift/scale (B, D)
 * ```
 */
export function modulate(x: tf.Tensor, shift: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const b = shift.shape[0] as number;
    const d = shift.shape[1] as number;
    const expand = (t: tf.Tensor) => (x.rank === 3 ? tf.reshape(t, [b, 1, d]) : t);
    return tf.add(tf.mul(x, tf.add(1, expand(scale))), expand(shift));
  });
}
