/**
 * Random Fourier features of low-dimensional inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import { matmulLast } from './matmul.js';

/**
 * Random Fourier features of low-dimensional inputs (Tancik et al. 2020, "Fourier Features Let Networks
 * Learn High Frequency Functions in Low Dimensional Domains", eq. 5 with Gaussian B):
 *   γ(x) = [x, sin(2π x B), cos(2π x B)],  B ∈ R^{d×m}, B_ij ~ N(0, scale²), fixed (not trained).
 * An MLP on raw 2-D coordinates is biased toward smooth functions (spectral bias) and blurs tight
 * clusters; γ lets it represent a sharp piecewise map such as the denoiser's x̂0 near t = 0.
 * B is drawn from `rng` at construction; the owner must `dispose()` it. x (…, d) → (…, d + 2m).
 *
 * @example
 * ```ts
 * const ff = new FourierFeatures(new Rng(0), 2, 16, 1);
 * const gx = ff.apply(x); // (B, 2) → (B, 2 + 32)
 * ff.dispose();
 * ```
 */
export class FourierFeatures {
  /** The frequency matrix B (d, m), already multiplied by 2π. */
  readonly freqs: tf.Tensor2D;
  readonly outDim: number;
  constructor(
    rng: Rng,
    readonly inDim: number,
    readonly count: number,
    readonly scale: number,
  ) {
    if (!Number.isInteger(inDim) || inDim < 1)
      throw new Error(`FourierFeatures: inDim must be an integer ≥ 1, got ${inDim}`);
    if (!Number.isInteger(count) || count < 1)
      throw new Error(`FourierFeatures: count must be an integer ≥ 1, got ${count}`);
    if (!(scale > 0) || !Number.isFinite(scale))
      throw new Error(`FourierFeatures: scale must be a finite number > 0, got ${scale}`);
    const b = rng.normalArray(inDim * count, 0, scale); // (d, m) row-major
    for (let i = 0; i < b.length; i++) b[i] = 2 * Math.PI * b[i]!;
    this.freqs = tf.tensor2d(b, [inDim, count]);
    this.outDim = inDim + 2 * count;
  }
  /** The frequency matrix 2πB as a host array (d·m, row-major), for tests and inspection. */
  async frequencies(): Promise<Float32Array> {
    return (await this.freqs.data()) as Float32Array;
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const proj = matmulLast(x, this.freqs); // (…, m)
      return tf.concat([x, tf.sin(proj), tf.cos(proj)], -1); // (…, d + 2m)
    });
  }
  dispose(): void {
    this.freqs.dispose();
  }
}
