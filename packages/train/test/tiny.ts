/** A tiny bigram language model (embedding → linear → softmax) and a data stream, for tests. */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import type { ParamMap } from '../src/index.js';

export interface TinyBatch {
  x: tf.Tensor1D; // (B,) int32 current tokens
  y: tf.Tensor1D; // (B,) int32 next tokens
}

export const V = 5;
export const D = 4;

export function tinyParams(seed = 1): ParamMap {
  const r = new Rng(seed);
  const mk = (t: tf.Tensor): tf.Variable => {
    const v = tf.variable(t, true);
    t.dispose();
    return v;
  };
  return {
    'emb.weight': mk(r.normal([V, D], 0, 0.5)),
    'head.weight': mk(r.normal([D, V], 0, 0.5)),
    'head.bias': mk(tf.zeros([V])),
  };
}

/** Data: y = (x + 1) mod V with prob 0.8, else uniform. */
export function nextBatch(rng: Rng, B = 8): TinyBatch {
  const x = new Int32Array(B);
  const y = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    x[i] = rng.nextInt(0, V);
    y[i] = rng.nextDouble() < 0.8 ? (x[i]! + 1) % V : rng.nextInt(0, V);
  }
  return { x: tf.tensor1d(x, 'int32'), y: tf.tensor1d(y, 'int32') };
}

export function disposeBatch(b: TinyBatch): void {
  b.x.dispose();
  b.y.dispose();
}

/** Mean cross-entropy in nats, via oneHot · logSoftmax (works on every backend). A little rng noise on the logits exercises the loss stream. */
export function tinyLoss(p: ParamMap, noise = 0.01) {
  return (b: TinyBatch, rng: Rng): tf.Scalar =>
    tf.tidy(() => {
      const h = tf.gather(p['emb.weight']!, b.x); // (B, D)
      let logits = tf.add(tf.matMul(h, p['head.weight']!), p['head.bias']!); // (B, V)
      if (noise > 0) logits = tf.add(logits, rng.normal(logits.shape, 0, noise));
      const ce = tf.neg(tf.sum(tf.mul(tf.oneHot(b.y, V), tf.logSoftmax(logits)), -1)); // (B,)
      return tf.mean(ce) as tf.Scalar;
    });
}

export async function snapshotValues(p: ParamMap): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(p)) out[k] = (await v.data()) as Float32Array;
  return out;
}

export function disposeParams(p: ParamMap): void {
  for (const v of Object.values(p)) v.dispose();
}
