/**
 * Timestep samplers for one-term ELBO estimators. Each returns, per batch row, a step t ∈ 1..T and an
 * importance weight w so that T·w·L_t is an unbiased estimate of Σ_t L_t:
 * - 'uniform': t ~ U{1..T}, w = 1 (Ho et al. 2020; D3PM).
 * - 'stratified': low-discrepancy t_b = ⌊T·((π_b + u) / B)⌋ + 1 with one u ~ U[0,1) and a random
 *   permutation π (VDM App. I.1): every t_b is marginally uniform over the batch, so the batch mean is unbiased.
 * - 'antithetic': pairs (t, T + 1 − t) on rows (2k, 2k + 1); each t marginally uniform.
 * - 'importance': t ~ proposal p(t), w = 1/(T p(t)) (Nichol & Dhariwal 2021 §3.3 with p ∝ √E[L_t²]).
 */
import { AltarError, type Rng } from '@altar/backend';

/**
 * How a one-term ELBO estimator draws its timesteps (see the list above); every kind keeps the estimate unbiased.
 *
 * @example
 * ```ts
 * const sampling: TimestepSampling = 'stratified';
 * d3pmNelbo(proc, model, x0, rng, { sampling });
 * ```
 */
export type TimestepSampling = 'uniform' | 'stratified' | 'antithetic' | 'importance';
/**
 * Every {@link TimestepSampling}, for validating a config value.
 *
 * @example
 * ```ts
 * TIMESTEP_SAMPLINGS.includes('antithetic'); // true
 * ```
 */
export const TIMESTEP_SAMPLINGS: readonly TimestepSampling[] = ['uniform', 'stratified', 'antithetic', 'importance'];

/**
 * Timesteps drawn by {@link sampleTimesteps}, one per batch row, with their importance weights.
 *
 * @example
 * ```ts
 * const { t, weight }: SampledSteps = sampleTimesteps('importance', 8, 64, rng, proposal);
 * ```
 */
export interface SampledSteps {
  t: Int32Array;
  /** Importance weights (1 except for 'importance'). */
  weight: Float64Array;
}

/**
 * Draw one discrete timestep t ∈ 1..T per batch row, with the weight that keeps T · w · L_t unbiased.
 *
 * @example
 * ```ts
 * const { t, weight } = sampleTimesteps('stratified', 4, 100, new Rng(0)); // t spread over 1..100, weights 1
 * ```
 */
export function sampleTimesteps(
  kind: TimestepSampling,
  batch: number,
  T: number,
  rng: Rng,
  proposal?: ArrayLike<number>,
): SampledSteps {
  const t = new Int32Array(batch);
  const weight = new Float64Array(batch).fill(1);
  switch (kind) {
    case 'uniform':
      for (let b = 0; b < batch; b++) t[b] = rng.nextInt(1, T + 1);
      break;
    case 'stratified': {
      const u = rng.nextDouble();
      const perm = rng.permutation(batch);
      for (let b = 0; b < batch; b++) t[b] = Math.min(T, Math.floor((T * (perm[b]! + u)) / batch) + 1);
      break;
    }
    case 'antithetic':
      for (let b = 0; b < batch; b += 2) {
        const a = rng.nextInt(1, T + 1);
        t[b] = a;
        if (b + 1 < batch) t[b + 1] = T + 1 - a;
      }
      break;
    case 'importance': {
      if (!proposal || proposal.length !== T) {
        throw new AltarError(
          'BAD_ARG',
          `sampleTimesteps: 'importance' needs a proposal of length T = ${T}, got ${proposal?.length ?? 'none'}`,
        );
      }
      let total = 0;
      for (let i = 0; i < T; i++) {
        if (!(proposal[i]! > 0))
          throw new AltarError(
            'BAD_ARG',
            `sampleTimesteps: proposal[${i}] = ${proposal[i]} must be > 0 (unbiasedness needs full support)`,
          );
        total += proposal[i]!;
      }
      for (let b = 0; b < batch; b++) {
        const k = rng.nextCategorical(proposal);
        t[b] = k + 1;
        weight[b] = total / (T * proposal[k]!);
      }
      break;
    }
    default:
      throw new AltarError(
        'BAD_ARG',
        `sampleTimesteps: unknown sampling '${String(kind)}', expected ${TIMESTEP_SAMPLINGS.join(', ')}`,
      );
  }
  return { t, weight };
}

/**
 * Loss-aware proposal (Nichol & Dhariwal 2021 §3.3): keeps the last `history` values of L_t per step and
 * proposes p(t) ∝ √E[L_t²], mixed with `uniformMix` of the uniform distribution so every t keeps support.
 * Uniform until every step has a full history.
 *
 * @example
 * ```ts
 * const importance = new ImportanceTimesteps(T);
 * const { t, weight } = sampleTimesteps('importance', B, T, rng, importance.proposal());
 * // ... compute the per-example terms L_t (B,) ...
 * importance.update(t, termLosses);
 * ```
 */
export class ImportanceTimesteps {
  private readonly hist: Float64Array[];
  private readonly count: Int32Array;
  constructor(
    readonly T: number,
    readonly history = 10,
    readonly uniformMix = 0.001,
  ) {
    this.hist = Array.from({ length: T }, () => new Float64Array(history));
    this.count = new Int32Array(T);
  }
  update(t: ArrayLike<number>, losses: ArrayLike<number>): void {
    for (let b = 0; b < t.length; b++) {
      const i = t[b]! - 1;
      this.hist[i]![this.count[i]! % this.history] = losses[b]!;
      this.count[i] = this.count[i]! + 1;
    }
  }
  warm(): boolean {
    return this.count.every((c) => c >= this.history);
  }
  proposal(): Float64Array {
    const p = new Float64Array(this.T).fill(1 / this.T);
    if (!this.warm()) return p;
    let total = 0;
    for (let i = 0; i < this.T; i++) {
      let ss = 0;
      for (const v of this.hist[i]!) ss += v * v;
      p[i] = Math.sqrt(ss / this.history);
      total += p[i]!;
    }
    for (let i = 0; i < this.T; i++) p[i] = (1 - this.uniformMix) * (p[i]! / total) + this.uniformMix / this.T;
    return p;
  }
}

/**
 * Continuous t ∈ (0, 1): 'uniform' i.i.d., 'stratified' the VDM low-discrepancy sampler (u + b/B mod 1).
 *
 * @example
 * ```ts
 * sampleUnitTimes('stratified', 4, new Rng(0)); // u, u + ¼, u + ½, u + ¾ (mod 1), one random u
 * ```
 */
export function sampleUnitTimes(
  kind: 'uniform' | 'stratified',
  batch: number,
  rng: Rng,
  tMin = 0,
  tMax = 1,
): Float64Array {
  const out = new Float64Array(batch);
  const u0 = rng.nextDouble();
  const perm = kind === 'stratified' ? rng.permutation(batch) : undefined;
  for (let b = 0; b < batch; b++) {
    const u = perm ? (u0 + perm[b]! / batch) % 1 : b === 0 ? u0 : rng.nextDouble();
    out[b] = tMin + (tMax - tMin) * Math.max(u, 1e-12);
  }
  return out;
}
