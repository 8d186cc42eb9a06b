/**
 * Categorical sampling over logits: temperature, top-k (Fan et al. 2018), nucleus / top-p (Holtzman et
 * al. 2020), then Gumbel-max: argmax(logits + G) is an exact categorical draw with no normalisation and
 * no float32 CDF round-off (Gumbel 1954; Maddison et al. 2014).
 *
 * The Gumbel noise G = −log(−log u) is computed here in float64 from 53-bit uniforms u ∈ (0, 1), then
 * uploaded as float32. A 24-bit uniform (what a float32 `rand` gives, and `Rng.gumbelArray`'s
 * resolution) truncates G to [−2.85, 17.3] and quantises its upper tail in steps of 2^−24 of probability:
 * a token at probability 1e−7 next to a dominant one is then drawn 1.5 % too rarely, one at 1e−8 70 %
 * too rarely, one below ≈ 2e−9 never — the truncation that lowers the entropy of masked-diffusion
 * samples (Zheng et al. 2024, "Masked diffusion models are secretly time-agnostic masked models and
 * exploit inaccurate categorical sampling", §4). With 53 bits G reaches [−3.6, 36.7]: logit gaps up to
 * 40 nats stay reachable and the quantisation sits at 2^−53.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';

/**
 * Temperature, top-k and top-p (nucleus) for drawing tokens from logits.
 *
 * @example
 * ```ts
 * const o: SamplingOptions = { temperature: 0.8, topK: 40, topP: 0.95 };
 * const next = sampleLogits(logits, new Rng(0), o);
 * ```
 */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax, no randomness consumed). Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

const NEG = -1e30;

/** Standard Gumbel noise −log(−log u) with 53-bit uniforms u ∈ (0, 1), computed in float64. */
function gumbel53(rng: Rng, size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let u = rng.nextDouble(); // [0, 1), 53 random bits
    while (u === 0) u = rng.nextDouble();
    out[i] = -Math.log(-Math.log(u));
  }
  return out;
}

/** argmax(logits + G) along the last axis, G ~ Gumbel(0, 1) from {@link gumbel53}. */
function gumbelMax(logits: tf.Tensor, rng: Rng): tf.Tensor {
  const g = gumbel53(rng, logits.size);
  return tf.tidy(() => tf.argMax(tf.add(logits, tf.tensor(g, logits.shape, 'float32')), -1));
}

/**
 * Throw (AltarError `BAD_ARG`, naming the option and value) unless temperature ≥ 0, topK is an integer ≥ 0 and topP ∈ (0, 1].
 *
 * @example
 * ```ts
 * validateSamplingOptions({ temperature: 0.7, topP: 0.9 }); // fine
 * validateSamplingOptions({ topP: 0 });                      // throws: topP must be in (0, 1]
 * ```
 */
export function validateSamplingOptions(o: SamplingOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t))
    throw new AltarError('BAD_ARG', `sampling: temperature must be a finite number ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0))
    throw new AltarError('BAD_ARG', `sampling: topK must be an integer ≥ 0, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1))
    throw new AltarError('BAD_ARG', `sampling: topP must be in (0, 1], got ${o.topP}`);
}

/**
 * logits / temperature (temperature > 0).
 *
 * @example
 * ```ts
 * const sharper = applyTemperature(tf.tensor1d([1, 2, 3]), 0.5); // [2, 4, 6]
 * ```
 */
export function applyTemperature(logits: tf.Tensor, temperature: number): tf.Tensor {
  if (!(temperature > 0))
    throw new AltarError('BAD_ARG', `applyTemperature: temperature must be > 0, got ${temperature}`);
  return tf.tidy(() => (temperature === 1 ? logits.clone() : tf.div(logits, temperature)));
}

/**
 * Mask all but the k largest logits along the last axis to −1e30 (ties with the k-th are kept).
 *
 * @example
 * ```ts
 * topKFilter(tf.tensor1d([1, 3, 2, 0]), 2); // [-1e30, 3, 2, -1e30]
 * ```
 */
export function topKFilter(logits: tf.Tensor, k: number): tf.Tensor {
  const v = logits.shape[logits.shape.length - 1]!;
  if (!Number.isInteger(k) || k < 1)
    throw new AltarError('BAD_ARG', `topKFilter: k must be a positive integer, got ${k}`);
  if (k >= v) return logits.clone();
  return tf.tidy(() => {
    const { values } = tf.topk(logits, k); // (..., k), descending
    const kth = tf.slice(values, [...values.shape.slice(0, -1).map(() => 0), k - 1], [...values.shape.slice(0, -1), 1]); // (..., 1)
    return tf.where(tf.less(logits, kth), tf.fill(logits.shape, NEG), logits);
  });
}

/**
 * Nucleus filter: keep the most likely tokens until their cumulative probability reaches p (the token
 * that crosses p is kept); the rest get −1e30. Ties with the smallest kept probability are kept too.
 *
 * @example
 * ```ts
 * // probabilities ≈ [0.64, 0.24, 0.09, 0.03]: p = 0.8 keeps the first two
 * topPFilter(tf.log(tf.tensor1d([0.64, 0.24, 0.09, 0.03])), 0.8);
 * ```
 */
export function topPFilter(logits: tf.Tensor, p: number): tf.Tensor {
  if (!(p > 0 && p <= 1)) throw new AltarError('BAD_ARG', `topPFilter: p must be in (0, 1], got ${p}`);
  if (p === 1) return logits.clone();
  return tf.tidy(() => {
    const last = logits.rank - 1;
    const v = logits.shape[last]!;
    const probs = tf.softmax(logits); // (..., V)
    const { values: sorted } = tf.topk(probs, v); // (..., V) descending
    const before = tf.sub(tf.cumsum(sorted, last), sorted); // mass strictly before each sorted entry
    const keep = tf.less(before, p); // first entry always kept
    const thresh = tf.min(tf.where(keep, sorted, tf.onesLike(sorted).mul(2)), last, true); // (..., 1)
    return tf.where(tf.less(probs, thresh), tf.fill(logits.shape, NEG), logits);
  });
}

/**
 * Apply temperature, top-k and top-p to logits (temperature 0 leaves them as they are, for argmax).
 *
 * @example
 * ```ts
 * const filtered = filterLogits(logits, { temperature: 0.8, topK: 50 }); // then Gumbel-max, or argmax at 0
 * ```
 */
export function filterLogits(logits: tf.Tensor, o: SamplingOptions): tf.Tensor {
  validateSamplingOptions(o);
  return tf.tidy(() => {
    const t = o.temperature ?? 1;
    let x = t > 0 ? applyTemperature(logits, t) : logits.clone();
    if (o.topK) x = topKFilter(x, o.topK);
    if (o.topP !== undefined && o.topP < 1) x = topPFilter(x, o.topP);
    return x;
  });
}

/**
 * Draw one token per row from logits (..., V) -> int32 (...). Greedy when temperature is 0 (consumes no
 * randomness); otherwise Gumbel-max on the filtered logits with float64 Gumbel noise from 53-bit uniforms.
 *
 * @example
 * ```ts
 * const logits = tf.tensor2d([[0, 5, 0], [9, 0, 0]]);
 * sampleLogits(logits, new Rng(0), { temperature: 0 }); // int32 [1, 0] (greedy)
 * sampleLogits(logits, new Rng(0));                      // one draw per row at temperature 1
 * ```
 */
export function sampleLogits(logits: tf.Tensor, rng: Rng, o: SamplingOptions = {}): tf.Tensor {
  validateSamplingOptions(o);
  if ((o.temperature ?? 1) === 0) return tf.tidy(() => tf.argMax(logits, -1));
  const f = filterLogits(logits, o);
  try {
    return gumbelMax(f, rng);
  } finally {
    f.dispose();
  }
}

/**
 * Sample from unnormalised probabilities (..., K) -> int32 (...): Gumbel-max on log p (zero-probability
 * entries get −1e30 and are never chosen).
 *
 * @example
 * ```ts
 * sampleProbs(tf.tensor2d([[0, 1, 0], [0.5, 0, 0.5]]), new Rng(0)); // int32 [1, 0 or 2]
 * ```
 */
export function sampleProbs(probs: tf.Tensor, rng: Rng): tf.Tensor {
  const logp = tf.tidy(() =>
    tf.where(tf.greater(probs, 0), tf.log(tf.maximum(probs, 1e-30)), tf.fill(probs.shape, NEG)),
  );
  try {
    return gumbelMax(logp, rng);
  } finally {
    logp.dispose();
  }
}
