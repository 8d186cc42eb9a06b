/**
 * The evaluation loop every family shares: draw held-out batches, estimate nats per example (averaged
 * over `reps` independent estimates of a stochastic bound), convert to bits per token / dimension, and
 * return the mean with its standard error over examples.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import { estimateStats } from '@altar/elbo';

export interface PerExampleBits {
  mean: number;
  stdErr: number;
  /** Number of held-out examples measured. */
  examples: number;
}

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
