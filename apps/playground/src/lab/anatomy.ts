/**
 * ELBO anatomy for masked diffusion: the T per-step terms of the discrete-time bound and the
 * one-term estimator, composed from @altar/noise (MaskedProcess.sample, α_t) and @altar/elbo
 * (tokenCrossEntropy).
 *
 * With steps t_k = k/T and s = t_{k−1}, the negative ELBO is Σ_k L_k with
 *   L_k = E_{q(z_t | x)} KL(q(z_s | z_t, x) ‖ p_θ(z_s | z_t)) = E[ Σ_{i masked in z_t} (α_s − α_t)/(1 − α_t) · (−log p_θ(x_i | z_t)) ]
 * (Austin et al. 2021 eq. 1 with the absorbing posterior; Sahoo et al. 2024 eq. 8). With α_1 = 0 the
 * prior term is 0, and with α_0 = 1 so is the reconstruction term. As T → ∞ the sum becomes the
 * continuous-time NELBO the model was trained on (MDLM eq. 10). The one-term estimator draws
 * k ~ U{1..T} and returns T · L_k: unbiased for the sum (Ho et al. 2020 §3.4).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import { tokenCrossEntropy } from '@altar/elbo';
import type { MaskedProcess } from '@altar/noise';
import type { DiffusionTransformer } from '@altar/models';

/** Σ_{masked i} −log p(x_i | z_t) per row (nats), z_t ~ q(z_t | x) at per-row times t. */
async function maskedCe(
  proc: MaskedProcess,
  den: DiffusionTransformer,
  x: tf.Tensor2D,
  t: number[],
  rng: Rng,
): Promise<Float32Array> {
  const ce = tf.tidy(() => {
    const zt = proc.sample(x, t, rng); // (B, N) int32
    const logits = den.predictX0Logits(zt, tf.tensor1d(t, 'float32')); // (B, N, V)
    const masked = tf.cast(tf.equal(zt, proc.maskId), 'float32'); // (B, N)
    return tf.sum(tf.mul(tokenCrossEntropy(logits, x), masked), -1); // (B,)
  });
  const v = (await ce.data()) as Float32Array;
  ce.dispose();
  return v;
}

function stepWeight(proc: MaskedProcess, k: number, T: number): number {
  const at = proc.alpha(k / T);
  const as = proc.alpha((k - 1) / T);
  return at < 1 ? (as - at) / (1 - at) : 0;
}

/** Each L_k in bits per token, averaged over the rows of x (B, N). */
export async function elboTerms(
  proc: MaskedProcess,
  den: DiffusionTransformer,
  x: tf.Tensor2D,
  T: number,
  rng: Rng,
): Promise<number[]> {
  const [B, N] = x.shape;
  const out: number[] = [];
  for (let k = 1; k <= T; k++) {
    const v = await maskedCe(proc, den, x, new Array<number>(B).fill(k / T), rng);
    let s = 0;
    for (const c of v) s += c;
    out.push((stepWeight(proc, k, T) * s) / B / N / Math.LN2);
  }
  return out;
}

/** One one-term estimate T · L_k (bits per token) per row of x, each with its own k ~ U{1..T}. */
export async function oneTermSamples(
  proc: MaskedProcess,
  den: DiffusionTransformer,
  x: tf.Tensor2D,
  T: number,
  rng: Rng,
): Promise<number[]> {
  const [B, N] = x.shape;
  const ks = Array.from({ length: B }, () => rng.nextInt(1, T + 1));
  const v = await maskedCe(
    proc,
    den,
    x,
    ks.map((k) => k / T),
    rng,
  );
  return ks.map((k, b) => (T * stepWeight(proc, k, T) * v[b]!) / N / Math.LN2);
}
