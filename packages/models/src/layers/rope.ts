/**
 * Rotary position embedding (Su et al. 2021, RoFormer, eq. 34), "rotate-half" layout: the pair
 * (x_i, x_{i+dh/2}) is rotated by angle p·θ_i, θ_i = base^(-2i/dh). Relative positions then enter
 * q·k only through p_q − p_k, so a KV cache can store already-rotated keys.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * cos/sin tables for positions pos0..pos0+n-1: two (n, dh/2) tensors.
 *
 * @example
 * ```ts
 * const [cos, sin] = ropeTables(0, 16, 32); // (16, 16) each
 * ```
 */
export function ropeTables(pos0: number, n: number, dh: number, base = 10000): [tf.Tensor2D, tf.Tensor2D] {
  const half = dh / 2;
  const c = new Float32Array(n * half);
  const s = new Float32Array(n * half);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const ang = (pos0 + p) * Math.pow(base, (-2 * i) / dh);
      c[p * half + i] = Math.cos(ang);
      s[p * half + i] = Math.sin(ang);
    }
  }
  return [tf.tensor2d(c, [n, half]), tf.tensor2d(s, [n, half])];
}

/**
 * x (..., n, dh) with positions pos0.. along axis -2 → rotated, same shape.
 *
 * @example
 * ```ts
 * const qRot = applyRope(q, pos0); // q (B, H, N, dh), positions pos0..pos0+N−1
 * ```
 */
export function applyRope(x: tf.Tensor, pos0: number, base = 10000): tf.Tensor {
  return tf.tidy(() => {
    const dh = x.shape[x.rank - 1] as number;
    const n = x.shape[x.rank - 2] as number;
    const [cos, sin] = ropeTables(pos0, n, dh, base);
    const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor]; // (..., n, dh/2) each
    return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x1, sin), tf.mul(x2, cos))], -1);
  });
}
