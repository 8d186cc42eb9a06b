/** The token-source contract the trainer consumes, and the host -> tensor helper for batches. */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';

/**
 * Anything that yields fixed-length token sequences. `sampleBatch` returns a flat row-major Int32Array of
 * batchSize * seqLen tokens in [0, vocabSize). Sources with a known likelihood also offer `logProb`
 * (nats, exact) and `entropyBitsPerToken` (the source's true entropy rate, an estimate with a standard error).
 *
 * @example
 * ```ts
 * const source: TokenSource = new HmmSource({ seqLen: 16 });
 * const flat = source.sampleBatch(4, new Rng(0)); // Int32Array (4 · 16)
 * source.logProb?.(flat.subarray(0, 16));        // exact nats, for sources that know it
 * ```
 */
export interface TokenSource {
  readonly name: string;
  readonly vocabSize: number;
  readonly seqLen: number;
  sampleBatch(batchSize: number, rng: Rng): Int32Array;
  logProb?(seq: ArrayLike<number>): number;
  readonly entropyBitsPerToken?: number;
}

/**
 * Upload a flat (B*N) token array as an int32 Tensor2D (B, N).
 *
 * @example
 * ```ts
 * const x = tokensToTensor(source.sampleBatch(4, rng), 4, 16); // int32 (4, 16)
 * ```
 */
export function tokensToTensor(flat: Int32Array | ArrayLike<number>, batch: number, seqLen: number): tf.Tensor2D {
  if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seqLen) || seqLen < 1) {
    throw new AltarError(
      'BAD_ARG',
      `tokensToTensor: batch and seqLen must be positive integers, got ${batch}, ${seqLen}`,
    );
  }
  if (flat.length !== batch * seqLen) {
    throw new AltarError(
      'BAD_ARG',
      `tokensToTensor: expected ${batch}*${seqLen} = ${batch * seqLen} tokens, got ${flat.length}`,
    );
  }
  const data = flat instanceof Int32Array ? flat : Int32Array.from(flat);
  return tf.tensor2d(data, [batch, seqLen], 'int32'); // (B, N)
}

/** Check a batch size argument. */
export function checkBatchSize(op: string, batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new AltarError('BAD_ARG', `${op}: batchSize must be a positive integer, got ${batchSize}`);
  }
}
