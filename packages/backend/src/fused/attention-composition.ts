/**
 * Softmax attention as plain tfjs ops (Vaswani et al. 2017, eq. 1): what `attentionFused` runs with fused
 * kernels off (ALTAR_FUSED=0) or on a backend without the kernel. Causal attention adds a −1e9 mask; a
 * sliding window (Beltagy et al. 2020) with N > W runs in query blocks of W against 2W keys, O(N·W).
 */
import * as tf from '@tensorflow/tfjs-core';

const NEG = -1e9;

/** Additive (n, n) mask: 0 where query i may see key j (j ≤ i, j > i − W), −1e9 elsewhere. */
function bandMask(n: number, window: number): tf.Tensor2D {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) m[i * n + j] = j <= i && j > i - window ? 0 : NEG;
  }
  return tf.tensor2d(m, [n, n]);
}

const padRows = (t: tf.Tensor4D, before: number, after: number): tf.Tensor4D =>
  before === 0 && after === 0
    ? t
    : tf.pad(t, [
        [0, 0],
        [0, 0],
        [before, after],
        [0, 0],
      ]);

/**
 * Sliding window in O(N·W): queries in blocks of W; block c attends to the keys of blocks c−1 and c (2W keys)
 * under the mask i < j ≤ i + W (j indexes the 2W keys, i the W queries).
 */
function slidingBlocked(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, w: number, scale: number): tf.Tensor4D {
  const [b, h, n, dh] = q.shape;
  const nb = Math.ceil(n / w);
  const np = nb * w;
  const blocks = (t: tf.Tensor) => tf.reshape(t, [b, h, nb, w, dh]); // (B, H, nb, W, dh)
  const qb = blocks(padRows(q, 0, np - n));
  const kp = padRows(k, 0, np - n);
  const vp = padRows(v, 0, np - n);
  const prev = (t: tf.Tensor4D) => blocks(tf.slice(padRows(t, w, 0), [0, 0, 0, 0], [b, h, np, dh]));
  const k2 = tf.concat([prev(kp), blocks(kp)], 3); // (B, H, nb, 2W, dh)
  const v2 = tf.concat([prev(vp), blocks(vp)], 3);
  const mask = new Float32Array(nb * w * 2 * w);
  for (let c = 0; c < nb; c++) {
    for (let i = 0; i < w; i++) {
      for (let j = 0; j < 2 * w; j++) {
        const ok = i < j && j <= i + w && (c > 0 || j >= w);
        mask[(c * w + i) * 2 * w + j] = ok ? 0 : NEG;
      }
    }
  }
  const scores = tf.add(tf.mul(tf.matMul(qb, k2, false, true), scale), tf.tensor3d(mask, [nb, w, 2 * w])); // (B, H, nb, W, 2W)
  const y = tf.reshape(tf.matMul(tf.softmax(scores), v2), [b, h, np, dh]); // (B, H, Np, dh)
  return (np === n ? y : tf.slice(y, [0, 0, 0, 0], [b, h, n, dh])) as tf.Tensor4D;
}

/**
 * softmax(scale·Q Kᵀ + mask) V with plain tfjs ops: q, k, v (B, H, N, dh) → (B, H, N, dh). `window` > 0
 * (causal only) limits query i to keys i−W+1..i; 0 means no window. Arguments are checked by `attentionFused`.
 *
 * @example
 * ```ts
 * const o = attentionComposition(q, k, v, true, 0, 1 / Math.sqrt(64)); // causal
 * ```
 */
export function attentionComposition(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  causal: boolean,
  window: number,
  scale: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const n = q.shape[2];
    if (causal && window > 0 && n > window) return slidingBlocked(q, k, v, window, scale);
    let scores = tf.mul(tf.matMul(q, k, false, true), scale); // (B, H, N, N)
    if (causal) scores = tf.add(scores, bandMask(n, window > 0 ? window : Infinity));
    return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D; // (B, H, N, dh)
  });
}
