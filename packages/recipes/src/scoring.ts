/**
 * Scoring shared by every family: the held-out evaluation loop (bits per unit with a standard error)
 * and the true NLL of samples under a known-likelihood source.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import type { GaussianMixtureSource, HmmSource } from '@altar/data';
import { estimateStats } from '@altar/elbo';
import type { CostRecord } from '@altar/samplers';

/**
 * A held-out estimate in bits per unit: the mean, its standard error and the number of examples.
 *
 * @example
 * ```ts
 * const { mean, stdErr, examples }: PerExampleBits = await perExampleBits(rng, { batches: 2, batchSize: 16 }, next, nats, 32);
 * ```
 */
export interface PerExampleBits {
  mean: number;
  stdErr: number;
  /** Number of held-out examples measured. */
  examples: number;
}

/**
 * Draw `batches` held-out batches, estimate nats per example (averaged over `reps` independent draws of
 * a stochastic bound), convert to bits per unit and return the mean with its standard error.
 *
 * @example
 * ```ts
 * const r = await perExampleBits(new Rng(0), { batches: 4, batchSize: 32 }, (rng, b) => src.sampleTensor(b, rng), (x) => causalLmNll(lm, x), 31);
 * ```
 */
export async function perExampleBits<X extends tf.Tensor>(
  rng: Rng,
  opts: { batches: number; batchSize: number },
  nextBatch: (rng: Rng, batchSize: number) => X,
  /** Nats per example, (B,), for one batch; called `reps` times per batch and averaged. */
  natsPerExample: (x: X) => tf.Tensor,
  /** Tokens (or dimensions) per example: bits are reported per unit. */
  unitsPerExample: number,
  reps = 1,
): Promise<PerExampleBits> {
  const per: number[] = [];
  for (let i = 0; i < opts.batches; i++) {
    const x = nextBatch(rng, opts.batchSize);
    const acc = new Float64Array(opts.batchSize);
    try {
      for (let r = 0; r < reps; r++) {
        const ne = tf.tidy(() => natsPerExample(x));
        const v = await ne.data();
        ne.dispose();
        v.forEach((n, b) => (acc[b]! += n / reps));
      }
    } finally {
      x.dispose();
    }
    for (const n of acc) per.push(n / unitsPerExample / Math.LN2);
  }
  const s = estimateStats(per);
  return { mean: s.mean, stdErr: s.stdErr, examples: s.n };
}

/**
 * Mean −log2 p(x) / N over `batch` token rows under the HMM (exact, forward algorithm).
 *
 * @example
 * ```ts
 * hmmSampleBits(src, out.tokens as Int32Array, out.batch); // bits per token of the samples under the true HMM
 * ```
 */
export function hmmSampleBits(source: HmmSource, tokens: Int32Array, batch: number): number {
  const N = source.seqLen;
  const lp = source.logProbBatch(tokens, N);
  let s = 0;
  for (let b = 0; b < batch; b++) s += -lp[b]! / Math.LN2 / N;
  return s / batch;
}

/**
 * Mean −log2 p(x) / d over `batch` vectors under the mixture's exact density (differential: may be negative).
 *
 * @example
 * ```ts
 * mixtureSampleBits(gmm, out.tokens as Float32Array, out.batch); // bits per dimension (differential)
 * ```
 */
export function mixtureSampleBits(gmm: GaussianMixtureSource, values: Float32Array, batch: number): number {
  const lp = gmm.logDensityBatch(values);
  let s = 0;
  for (const v of lp) s -= v;
  return s / batch / gmm.dim / Math.LN2;
}

/**
 * One cost record for sampler runs made one after another (groups of rows): counts and bytes add, the peak is
 * the largest, the throughput is recomputed from the sums.
 *
 * @example
 * ```ts
 * const cost = mergeCosts([a.cost, b.cost]); // cost.nfe === a.cost.nfe + b.cost.nfe
 * ```
 */
export function mergeCosts(costs: readonly CostRecord[]): CostRecord {
  if (costs.length === 1) return costs[0]!;
  const sum = (k: 'nfe' | 'weightBytesLoaded' | 'flops' | 'wallMs' | 'tokens') => costs.reduce((s, c) => s + c[k], 0);
  const wallMs = sum('wallMs');
  const tokens = sum('tokens');
  return {
    nfe: sum('nfe'),
    weightBytesLoaded: sum('weightBytesLoaded'),
    paramBytes: Math.max(0, ...costs.map((c) => c.paramBytes)),
    flops: sum('flops'),
    flopsKnown: costs.every((c) => c.flopsKnown),
    wallMs,
    tokens,
    tokensPerSec: wallMs > 0 ? (tokens / wallMs) * 1000 : 0,
    peakTensorBytes: Math.max(0, ...costs.map((c) => c.peakTensorBytes)),
  };
}
