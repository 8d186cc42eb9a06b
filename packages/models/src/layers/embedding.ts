/**
 * Token embedding with its tied output head.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mm } from './matmul.js';
import type { ParamStore } from './params.js';

/**
 * Vocabularies up to this size embed through oneHot @ E (a fast matmul and matmul gradient everywhere).
 *
 * @example
 * ```ts
 * const viaOneHot = vocabSize <= ONE_HOT_EMBED_MAX_VOCAB;
 * ```
 */
export const ONE_HOT_EMBED_MAX_VOCAB = 4096;

/** Largest row count for which the tied head computes (E hᵀ)ᵀ on wasm (see Embedding.logits). */
const FLIP_HEAD_MAX_ROWS = 256;

/**
 * Token embedding E (V, D); `logits(h) = h Eᵀ` is the tied output head (Press & Wolf 2017).
 *
 * @example
 * ```ts
 * const emb = new Embedding(store, 'tok_emb', 256, 64);
 * const h = emb.lookup(tokens); // (B, N) → (B, N, 64)
 * const logits = emb.logits(h); // tied head: (B, N, 256)
 * ```
 */
export class Embedding {
  readonly table: tf.Variable;
  constructor(
    store: ParamStore,
    name: string,
    readonly vocab: number,
    readonly dim: number,
    std = 0.02,
  ) {
    this.table = store.add(`${name}.weight`, [vocab, dim], { kind: 'normal', std });
  }
  /**
   * tokens int32 (...) → (..., D). Small vocabularies use oneHot(tokens) @ E, whose gradient is a matmul;
   * large ones tf.gather (its gradient, UnsortedSegmentSum, is filled in on wasm by @altar/backend).
   */
  lookup(tokens: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const ids = tf.cast(tokens, 'int32');
      if (this.vocab > ONE_HOT_EMBED_MAX_VOCAB) return tf.gather(this.table, ids);
      const oh = tf.oneHot(tf.reshape(ids, [-1]), this.vocab) as tf.Tensor2D; // (M, V)
      return tf.reshape(mm(tf.cast(oh, 'float32') as tf.Tensor2D, this.table as tf.Tensor2D), [
        ...tokens.shape,
        this.dim,
      ]);
    });
  }
  /** Tied head over the first `rows` vocabulary entries: h (..., D) → (..., rows). */
  logits(h: tf.Tensor, rows = this.vocab): tf.Tensor {
    return tf.tidy(() => {
      const e = rows === this.vocab ? this.table : tf.slice(this.table, [0, 0], [rows, this.dim]);
      const d = h.shape[h.rank - 1] as number;
      const lead = h.shape.slice(0, -1);
      const h2 = tf.reshape(h, [-1, d]) as tf.Tensor2D; // (M, D)
      // wasm's matmul (XNNPACK) repacks its right operand whenever it is a new tensor: a fresh Eᵀ costs
      // ~300 µs per call, several times the product itself when M is small (decoding). There, compute
      // (E hᵀ)ᵀ instead, whose right operand hᵀ is tiny (decode 400 → 95 µs per token).
      const flip = h2.shape[0] <= FLIP_HEAD_MAX_ROWS && tf.getBackend() === 'wasm';
      const y = flip
        ? tf.transpose(mm(e as tf.Tensor2D, tf.transpose(h2))) // (rows, M)ᵀ
        : mm(h2, tf.transpose(e) as tf.Tensor2D); // (M, rows)
      return tf.reshape(y, [...lead, rows]);
    });
  }
}
