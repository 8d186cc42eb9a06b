/**
 * A tiny transformer written with raw ops — embedding (gather), one causal attention head, layer
 * norm, GELU MLP, tied output head, cross-entropy on integer targets (oneHot · logSoftmax) and Adam —
 * trained for a few steps. The conformance suite runs it on every backend from the same initial
 * weights and compares the loss trajectory with the cpu backend's.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng.js';

export interface TinyTrainResult {
  /** Loss before each step (nats/token), then after the last one. */
  losses: number[];
}

export async function tinyTransformerTrain(steps = 6, seed = 1234): Promise<TinyTrainResult> {
  const V = 11;
  const d = 16;
  const n = 8;
  const B = 4;
  const rng = new Rng(seed);
  // tidy frees the initial-value tensors; variables survive tidy and are disposed at the end.
  const v = (shape: number[], scale: number, name: string) =>
    tf.tidy(() =>
      tf.variable(
        tf.tensor(
          rng.normalArray(
            shape.reduce((a, b) => a * b, 1),
            0,
            scale,
          ),
          shape,
        ),
        true,
        name,
      ),
    );
  const params = {
    emb: v([V, d], 0.3, 'emb'),
    pos: v([n, d], 0.1, 'pos'),
    wq: v([d, d], 0.25, 'wq'),
    wk: v([d, d], 0.25, 'wk'),
    wv: v([d, d], 0.25, 'wv'),
    wo: v([d, d], 0.25, 'wo'),
    gamma: tf.tidy(() => tf.variable(tf.ones([d]), true, 'gamma')),
    beta: tf.tidy(() => tf.variable(tf.zeros([d]), true, 'beta')),
    w1: v([d, 4 * d], 0.25, 'w1'),
    w2: v([4 * d, d], 0.12, 'w2'),
  };
  // A learnable pattern: x_{k+1} = (x_k + 3) mod V, random starts.
  const tokens = new Int32Array(B * (n + 1));
  for (let b = 0; b < B; b++) {
    let x = rng.nextInt(0, V);
    for (let k = 0; k <= n; k++) {
      tokens[b * (n + 1) + k] = x;
      x = (x + 3) % V;
    }
  }
  const all = tf.tensor2d(tokens, [B, n + 1], 'int32');
  const inputs = tf.slice(all, [0, 0], [B, n]);
  const targets = tf.slice(all, [0, 1], [B, n]);
  const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([n, n]), -1, 0));

  const lossFn = (): tf.Scalar =>
    tf.tidy(() => {
      const x0 = tf.add(tf.gather(params.emb, inputs), params.pos); // (B, n, d)
      const q = tf.matMul(tf.reshape(x0, [B * n, d]), params.wq).reshape([B, n, d]);
      const k = tf.matMul(tf.reshape(x0, [B * n, d]), params.wk).reshape([B, n, d]);
      const val = tf.matMul(tf.reshape(x0, [B * n, d]), params.wv).reshape([B, n, d]);
      const scores = tf.div(tf.matMul(q, k, false, true), Math.sqrt(d)); // (B, n, n)
      const masked = tf.add(scores, tf.mul(tf.sub(1, mask), -1e9));
      const att = tf.matMul(tf.softmax(masked), val); // (B, n, d)
      const x1 = tf.add(x0, tf.matMul(tf.reshape(att, [B * n, d]), params.wo).reshape([B, n, d]));
      const { mean, variance } = tf.moments(x1, -1, true);
      const ln = tf.add(tf.mul(tf.mul(tf.sub(x1, mean), tf.rsqrt(tf.add(variance, 1e-5))), params.gamma), params.beta);
      const h = tf.matMul(tf.reshape(ln, [B * n, d]), params.w1);
      const gelu = tf.mul(
        tf.mul(h, 0.5),
        tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(h, tf.mul(0.044715, tf.pow(h, 3)))))),
      );
      const x2 = tf.add(x1, tf.matMul(gelu, params.w2).reshape([B, n, d]));
      const logits = tf.matMul(tf.reshape(x2, [B * n, d]), params.emb, false, true); // (B·n, V), tied head
      const logp = tf.logSoftmax(logits);
      const nll = tf.neg(tf.sum(tf.mul(tf.oneHot(tf.reshape(targets, [B * n]), V), logp), -1));
      return tf.mean(nll) as tf.Scalar;
    });

  const opt = tf.train.adam(3e-2);
  const losses: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const l = opt.minimize(lossFn, true) as tf.Scalar;
      losses.push((await l.data())[0]!);
      l.dispose();
    }
    const last = lossFn();
    losses.push((await last.data())[0]!);
    last.dispose();
  } finally {
    opt.dispose();
    tf.dispose([all, inputs, targets, mask, ...Object.values(params)]);
  }
  return { losses };
}
