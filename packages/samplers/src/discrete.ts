/**
 * Discrete diffusion samplers over int32 tokens (B, N).
 *
 * - D3PM ancestral (Austin et al. 2021, eq. 4 and §3.3): p_θ(z_s | z_t) = Σ_x0 q(z_s | z_t, x0) p_θ(x0 | z_t),
 *   computed by the process's `posterior` with the model's x0 distribution, for any process
 *   (uniform, absorbing, any matrix). Step skipping: with `steps` S < T the sampler visits
 *   t_i = round(i·T/S) and uses the non-adjacent posterior q(z_{t_{i−1}} | z_{t_i}, x0) (the process
 *   composes Q_{s+1}···Q_t), so a model trained at T samples with S steps.
 * - Masked diffusion in continuous time (MDLM, Sahoo et al. 2024, eq. 7; MD4, Shi et al. 2024): with
 *   α_t = P(token unmasked at t), a masked position at t stays masked at s < t with probability
 *   (1 − α_s)/(1 − α_t) and otherwise becomes x ~ p_θ(x0 | z_t); unmasked tokens are carried over.
 *   Any number of steps on t_i = i/steps.
 * - Cached masked sampling (MDLM, Sahoo et al. 2024, the caching of its efficient sampler: when no token changed between two steps the network
 *   input is unchanged, so the previous p_θ(x0 | z_t) is reused and the call skipped). Exact when the
 *   denoiser does not depend on t given z_t — true for the masked-diffusion posterior (the mask pattern
 *   already says everything t says) and for time-unconditioned MDLM models; then it gives the uncached
 *   sampler's samples for the same seed with NFE ≤ min(steps, tokens changed + 1).
 * - Semi-autoregressive block sampling (SSD-LM, Han et al. 2023; BD3-LM, Arriola et al. 2025): the
 *   sequence is generated in blocks of `blockSize`, each by masked diffusion with the earlier blocks
 *   clean and the later ones masked in the network input.
 *
 * - Infilling (conditioning on given tokens): every sampler takes `init` (B × N; a token in [0, V) is
 *   given, −1 = FREE_POSITION or the mask id marks a position to generate) and returns the given tokens
 *   unchanged. Masked samplers and absorbing D3PM start from init with the free positions masked; the
 *   absorbing posterior never moves an unmasked token, so this is exact conditioning (the model sees the
 *   given tokens as revealed). Uniform D3PM has no mask state: free positions start from the prior and
 *   the given tokens are re-imposed after every step (the "replacement" method) — an approximation of
 *   p(x_free | x_given), since the model reads the given tokens as noisy at level t.
 *
 * Categorical draws are inverse-CDF in float64 on the host (Rng.nextCategorical, renormalising the
 * float32 probabilities; 53-bit uniforms), one per position that can change; the unmask decision of
 * masked sampling is a separate float64 Bernoulli, so no draw ever mixes the tiny per-step token
 * probabilities with the mask's (the float32 Gumbel trap of Zheng et al. 2024 does not arise).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { CostTracker, modelParamBytes } from './cost.js';
import { resolveInit } from './infill.js';
import type { DiscreteDenoiser, SampleResult } from './types.js';

/**
 * A discrete-time process as @altar/noise's D3PMProcess offers it.
 *
 * @example
 * ```ts
 * const proc: D3pmProcessLike = new D3PMProcess({ kind: 'absorbing', vocabSize: 32, T: 64 });
 * ```
 */
export interface D3pmProcessLike {
  readonly vocabSize: number;
  readonly numStates: number;
  /** [MASK] id (V) for absorbing processes, −1 otherwise. */
  readonly maskId: number;
  readonly T: number;
  /** Σ_x0 q(z_s | z_t, x0) p(x0): zt int32 (B, N), x0Probs (B, N, V) -> (B, N, K). */
  posterior(zt: tf.Tensor, x0Probs: tf.Tensor, s: number, t: number): tf.Tensor3D;
  /** z_T ~ p(z_T): (B, N) int32. */
  samplePrior(batch: number, seqLen: number, rng: Rng): tf.Tensor2D;
}

/**
 * A continuous-time masked process as @altar/noise's MaskedProcess offers it.
 *
 * @example
 * ```ts
 * const proc: MaskedProcessLike = new MaskedProcess({ vocabSize: 32, schedule: 'log-linear' });
 * ```
 */
export interface MaskedProcessLike {
  readonly maskId: number;
  /** Probability a token is still unmasked at t ∈ [0, 1]; α(0) = 1. */
  alpha(t: number): number;
}

/**
 * The result of a discrete sampler: row-major host tokens (B × N) and the cost record.
 *
 * @example
 * ```ts
 * const { samples, seqLen }: DiscreteSampleResult = await sampleD3pm(model, proc, { batch: 4, seqLen: 16, rng });
 * const firstRow = samples.subarray(0, seqLen);
 * ```
 */
export interface DiscreteSampleResult extends SampleResult<Int32Array> {
  /** Row-major (B × N) tokens. */
  samples: Int32Array;
  batch: number;
  seqLen: number;
}

/**
 * Options of {@link sampleD3pm}: batch, sequence length, reverse steps (≤ T; fewer skips steps), the random
 * stream, and `init` to condition on given tokens (infilling).
 *
 * @example
 * ```ts
 * const o: D3pmSampleOptions = { batch: 8, seqLen: 32, steps: 16, rng: new Rng(0) };
 * const infill: D3pmSampleOptions = { batch: 1, seqLen: 4, rng: new Rng(0), init: Int32Array.from([3, -1, -1, 5]) };
 * ```
 */
export interface D3pmSampleOptions {
  batch: number;
  seqLen: number;
  /** Reverse steps S ≤ T (default T). */
  steps?: number;
  rng: Rng;
  /**
   * Given tokens (B × N, not modified): a token in [0, V) is kept exactly; −1 (FREE_POSITION) or the
   * process's mask id marks a position to generate. Absorbing: free positions start masked (exact
   * conditioning). Uniform: free positions start from the prior and the given tokens are re-imposed after
   * every step (replacement; approximate conditioning).
   */
  init?: Int32Array;
  paramBytes?: number;
}

function checkPositive(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new AltarError('BAD_ARG', `${op}: ${name} must be a positive integer, got ${v}`);
}

/**
 * Draw one state per row of host probabilities `p` (rows × K), in float64 inverse CDF; rows where `free`
 * is 0 are given tokens and left as they are (no randomness consumed).
 */
function drawRows(
  p: ArrayLike<number>,
  rows: number,
  K: number,
  rng: Rng,
  out: Int32Array,
  free: Uint8Array | null,
): void {
  const w = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    if (free && !free[r]) continue;
    for (let k = 0; k < K; k++) w[k] = Math.max(p[r * K + k]!, 0);
    out[r] = rng.nextCategorical(w);
  }
}

/** Model call -> x0 probabilities on the host (B*N*V), counting the NFE. */
async function x0Probs(
  model: DiscreteDenoiser,
  z: Int32Array,
  B: number,
  N: number,
  t01: number,
  tracker: CostTracker,
): Promise<Float32Array> {
  const probs = tf.tidy(() => {
    const zt = tf.tensor2d(z, [B, N], 'int32'); // (B, N)
    const tt = tf.fill([B], t01, 'float32') as tf.Tensor1D;
    return tf.softmax(model.predictX0Logits(zt, tt)); // (B, N, V)
  });
  tracker.call(B, N);
  const d = (await probs.data()) as Float32Array;
  probs.dispose();
  return d;
}

/**
 * D3PM ancestral sampling with optional step skipping.
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: src.vocabSize, T: 32 });
 * const oracle = hmmOracleDenoiser(src, (u) => proc.noiseMatrix(u));
 * const { samples, cost } = await sampleD3pm(oracle, proc, { batch: 8, seqLen: 16, rng: new Rng(1) }); // cost.nfe = 32
 * ```
 */
export async function sampleD3pm(
  model: DiscreteDenoiser,
  proc: D3pmProcessLike,
  o: D3pmSampleOptions,
): Promise<DiscreteSampleResult> {
  const op = 'sampleD3pm';
  checkPositive(op, 'batch', o.batch);
  checkPositive(op, 'seqLen', o.seqLen);
  const T = proc.T;
  const S = o.steps ?? T;
  checkPositive(op, 'steps', S);
  if (S > T) throw new AltarError('BAD_ARG', `${op}: steps ${S} exceed the process's T = ${T}`);
  if (model.vocabSize !== proc.vocabSize)
    throw new AltarError('BAD_ARG', `${op}: model vocabSize ${model.vocabSize} ≠ process vocabSize ${proc.vocabSize}`);
  const { batch: B, seqLen: N } = o;
  const K = proc.numStates;
  const tracker = new CostTracker(model, modelParamBytes(model, o.paramBytes));
  const times = Array.from({ length: S + 1 }, (_, i) => Math.round((i * T) / S));
  // Absorbing: free positions start masked. Uniform: from the prior (drawn for every position, then the
  // given tokens are put back, so an unconditioned call consumes the same randomness as before).
  const { z: given, free } = resolveInit(op, o, proc.vocabSize, proc.maskId, proc.maskId);
  const prior = proc.samplePrior(B, N, o.rng);
  const z = Int32Array.from((await prior.data()) as Int32Array); // (B × N)
  prior.dispose();
  if (free) for (let j = 0; j < B * N; j++) if (!free[j]) z[j] = given[j]!;
  for (let i = S; i >= 1; i--) {
    const t = times[i]!;
    const s = times[i - 1]!;
    const probs = await x0Probs(model, z, B, N, t / T, tracker);
    const post = tf.tidy(() => {
      const zt = tf.tensor2d(z, [B, N], 'int32');
      const p0 = tf.tensor3d(probs, [B, N, proc.vocabSize]);
      return proc.posterior(zt, p0, s, t); // (B, N, K)
    });
    tracker.observe();
    const pd = await post.data();
    post.dispose();
    // Given tokens are not redrawn: for absorbing the posterior row of an unmasked token is one-hot on it
    // (tested), so this is exactly the sampler's own step; for uniform it is the replacement.
    drawRows(pd, B * N, K, o.rng, z, free);
  }
  return { samples: z, batch: B, seqLen: N, cost: tracker.finish(B * N) };
}

/**
 * Options of {@link sampleMasked}: batch, sequence length, steps and the random stream; `cached` skips calls when
 * nothing was unmasked, `init` fixes some tokens (infilling: they are returned exactly, the rest generated).
 *
 * @example
 * ```ts
 * const o: MaskedSampleOptions = { batch: 8, seqLen: 16, steps: 64, rng: new Rng(0), cached: true };
 * ```
 */
export interface MaskedSampleOptions {
  batch: number;
  seqLen: number;
  steps: number;
  rng: Rng;
  /** Reuse p_θ(x0 | z_t) when no token changed since the last call (MDLM caching). Default false. */
  cached?: boolean;
  /**
   * Given tokens (B × N, not modified): a token in [0, V) is kept exactly; the mask id or −1
   * (FREE_POSITION) marks a position to generate. Default: generate everything.
   */
  init?: Int32Array;
  paramBytes?: number;
}

interface LoopState {
  z: Int32Array;
  B: number;
  N: number;
  V: number;
  mask: number;
  cache: Float32Array | null;
}

/**
 * Reverse masked diffusion over positions [lo, hi) of every row, t from 1 to 0 in `steps` steps.
 * Positions outside the range are fed to the network as they are and never changed.
 */
async function maskedLoop(
  model: DiscreteDenoiser,
  proc: MaskedProcessLike,
  st: LoopState,
  lo: number,
  hi: number,
  steps: number,
  rng: Rng,
  cached: boolean,
  tracker: CostTracker,
): Promise<void> {
  const { z, B, N, V, mask } = st;
  let dirty = true; // z changed since the cached probabilities were computed
  if (!cached) st.cache = null;
  const w = new Float64Array(V);
  for (let i = steps; i >= 1; i--) {
    const t = i / steps;
    const s = (i - 1) / steps;
    const at = proc.alpha(t);
    const as = proc.alpha(s);
    if (!(as >= at))
      throw new AltarError('BAD_SCHEDULE', `sampleMasked: α must decrease in t, got α(${s}) = ${as} < α(${t}) = ${at}`);
    // P(unmask at this step | masked at t) = (α_s − α_t) / (1 − α_t)   (MDLM eq. 7)
    const pUnmask = at < 1 ? Math.min(1, (as - at) / (1 - at)) : 1;
    let anyMasked = false;
    for (let b = 0; b < B && !anyMasked; b++)
      for (let j = lo; j < hi; j++)
        if (z[b * N + j] === mask) {
          anyMasked = true;
          break;
        }
    // Uncached: one network call every step (the MDLM baseline). Cached: only when the input changed
    // since the last call and something is left to generate.
    if (!cached || (anyMasked && (dirty || !st.cache))) {
      st.cache = await x0Probs(model, z, B, N, t, tracker);
      dirty = false;
    }
    if (!anyMasked) continue;
    const probs = st.cache!;
    for (let b = 0; b < B; b++) {
      for (let j = lo; j < hi; j++) {
        const idx = b * N + j;
        if (z[idx] !== mask) continue;
        if (rng.nextDouble() >= pUnmask) continue;
        for (let x = 0; x < V; x++) w[x] = Math.max(probs[idx * V + x]!, 0);
        z[idx] = rng.nextCategorical(w);
        dirty = true;
      }
    }
  }
}

function initTokens(
  op: string,
  o: { batch: number; seqLen: number; init?: Int32Array },
  vocabSize: number,
  mask: number,
): Int32Array {
  checkPositive(op, 'batch', o.batch);
  checkPositive(op, 'seqLen', o.seqLen);
  return resolveInit(op, o, vocabSize, mask, mask).z; // free positions masked; only masks are ever changed
}

/**
 * Masked-diffusion ancestral sampling in continuous time (uncached or cached).
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const proc = new MaskedProcess({ vocabSize: src.vocabSize, schedule: 'log-linear' });
 * const oracle = hmmOracleDenoiser(src, (t) => proc.marginalMatrix(t)); // exact p(x0 | z_t)
 * const { samples, cost } = await sampleMasked(oracle, proc, { batch: 8, seqLen: 16, steps: 256, rng: new Rng(1), cached: true });
 * ```
 */
export async function sampleMasked(
  model: DiscreteDenoiser,
  proc: MaskedProcessLike,
  o: MaskedSampleOptions,
): Promise<DiscreteSampleResult> {
  const op = 'sampleMasked';
  checkPositive(op, 'steps', o.steps);
  if (proc.maskId !== model.vocabSize)
    throw new AltarError(
      'BAD_ARG',
      `${op}: process mask id ${proc.maskId} ≠ model vocabSize ${model.vocabSize} (the mask is the id after the data tokens)`,
    );
  const z = initTokens(op, o, model.vocabSize, proc.maskId);
  const tracker = new CostTracker(model, modelParamBytes(model, o.paramBytes));
  const st: LoopState = { z, B: o.batch, N: o.seqLen, V: model.vocabSize, mask: proc.maskId, cache: null };
  await maskedLoop(model, proc, st, 0, o.seqLen, o.steps, o.rng, o.cached ?? false, tracker);
  return { samples: z, batch: o.batch, seqLen: o.seqLen, cost: tracker.finish(o.batch * o.seqLen) };
}

/**
 * Options of {@link sampleBlocks}: those of {@link sampleMasked} plus the block size.
 *
 * @example
 * ```ts
 * const o: BlockSampleOptions = { batch: 4, seqLen: 64, blockSize: 16, steps: 32, rng: new Rng(0) };
 * ```
 */
export interface BlockSampleOptions extends MaskedSampleOptions {
  /** Positions per block; seqLen need not be a multiple (the last block is shorter). */
  blockSize: number;
}

/**
 * Semi-autoregressive block sampling: blocks left to right, each by (cached or uncached) masked diffusion.
 *
 * @example
 * ```ts
 * const { samples, blocks } = await sampleBlocks(model, proc, { batch: 4, seqLen: 64, blockSize: 16, steps: 32, rng: new Rng(0), cached: true });
 * blocks; // 4
 * ```
 */
export async function sampleBlocks(
  model: DiscreteDenoiser,
  proc: MaskedProcessLike,
  o: BlockSampleOptions,
): Promise<DiscreteSampleResult & { blocks: number }> {
  const op = 'sampleBlocks';
  checkPositive(op, 'steps', o.steps);
  checkPositive(op, 'blockSize', o.blockSize);
  if (proc.maskId !== model.vocabSize)
    throw new AltarError('BAD_ARG', `${op}: process mask id ${proc.maskId} ≠ model vocabSize ${model.vocabSize}`);
  const z = initTokens(op, o, model.vocabSize, proc.maskId);
  const tracker = new CostTracker(model, modelParamBytes(model, o.paramBytes));
  const st: LoopState = { z, B: o.batch, N: o.seqLen, V: model.vocabSize, mask: proc.maskId, cache: null };
  let blocks = 0;
  for (let lo = 0; lo < o.seqLen; lo += o.blockSize) {
    st.cache = null; // a new block: the previous block's tokens changed the input
    await maskedLoop(
      model,
      proc,
      st,
      lo,
      Math.min(o.seqLen, lo + o.blockSize),
      o.steps,
      o.rng,
      o.cached ?? false,
      tracker,
    );
    blocks++;
  }
  return { samples: z, batch: o.batch, seqLen: o.seqLen, blocks, cost: tracker.finish(o.batch * o.seqLen) };
}
