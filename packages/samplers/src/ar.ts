/**
 * Autoregressive decoding: p(x_1..x_n) = Π_k p(x_k | x_<k), one network call per token.
 * The cached path runs the model's `step` (KV cache, rolling window, linear-attention or SSM state); the
 * uncached path re-runs `forward` over the whole prefix each token (for equivalence tests and as the
 * "no cache" baseline). Both consume the RNG identically, so with the same seed they give the same tokens
 * (up to float round-off between step and forward).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { sampleLogits, validateSamplingOptions, type SamplingOptions } from './categorical.js';
import { CostTracker, modelParamBytes } from './cost.js';
import type { CausalLM, SampleResult } from './types.js';

export interface ArSampleOptions extends SamplingOptions {
  /** Prompt tokens (B rows × P ≥ 1), e.g. one BOS per row: [[bos], [bos], ...]. Sets the batch. */
  prompt: number[][] | Int32Array[];
  /** Tokens to generate per row. */
  length: number;
  rng: Rng;
  /** A row stops after emitting one of these; later positions hold `padToken`. */
  stopTokens?: number[];
  /** Fills positions after a row stopped (default: the stop token it emitted). */
  padToken?: number;
  /** true (default): decode through `step`; false: re-run `forward` over the prefix per token. */
  cached?: boolean;
  /** Parameter bytes for the cost record (default paramCount() × bytesPerWeight, or 0). */
  paramBytes?: number;
}

export interface ArSampleResult extends SampleResult<Int32Array> {
  /** Generated tokens, row-major (B × length). */
  samples: Int32Array;
  batch: number;
  length: number;
  /** Tokens generated per row up to and including its stop token. */
  lengths: Int32Array;
}

/** Prompt tokens may lie outside the model's output vocabulary (e.g. a BOS id = V). */
function checkPrompt(prompt: ArrayLike<ArrayLike<number>>): { B: number; P: number } {
  const B = prompt.length;
  if (B < 1) throw new AltarError('BAD_ARG', 'sampleAr: prompt must have at least one row');
  const P = prompt[0]!.length;
  if (P < 1) throw new AltarError('BAD_ARG', 'sampleAr: every prompt row needs at least one token (e.g. a BOS id)');
  for (let b = 0; b < B; b++) {
    const row = prompt[b]!;
    if (row.length !== P)
      throw new AltarError(
        'BAD_ARG',
        `sampleAr: prompt rows must have equal length, row ${b} has ${row.length} ≠ ${P}`,
      );
    for (let i = 0; i < P; i++) {
      const v = row[i]!;
      if (!Number.isInteger(v) || v < 0)
        throw new AltarError('BAD_ARG', `sampleAr: prompt token [${b}][${i}] = ${v} is not a non-negative integer`);
    }
  }
  return { B, P };
}

/**
 * Decode `length` tokens per prompt row from a causal LM.
 *
 * @example
 * ```ts
 * const src = new HmmSource({ seqLen: 16 });
 * const lm = hmmOracleCausalLM(src); // or any @altar/models causal model
 * const { samples, cost } = await sampleAr(lm, { prompt: [[lm.bosToken], [lm.bosToken]], length: 16, rng: new Rng(0), temperature: 1 });
 * // samples: Int32Array (2 × 16); cost.nfe = 16 with the KV cache / recurrent state
 * ```
 */
export async function sampleAr<S>(model: CausalLM<S>, o: ArSampleOptions): Promise<ArSampleResult> {
  validateSamplingOptions(o);
  if (!Number.isInteger(o.length) || o.length < 1)
    throw new AltarError('BAD_ARG', `sampleAr: length must be a positive integer, got ${o.length}`);
  const { B, P } = checkPrompt(o.prompt);
  const cached = o.cached ?? true;
  const stops = new Set(o.stopTokens ?? []);
  const tracker = new CostTracker(model, modelParamBytes(model, o.paramBytes));
  const out = new Int32Array(B * o.length);
  const lengths = new Int32Array(B).fill(o.length);
  const done = new Uint8Array(B);
  let nDone = 0;
  let generated = 0;

  /** Record the sampled column k; returns the next input column. */
  const accept = (k: number, toks: Int32Array): Int32Array => {
    const next = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      let t = toks[b]!;
      if (done[b]) t = out[b * o.length + k - 1]!; // keep padding
      if (done[b] && o.padToken !== undefined) t = o.padToken;
      out[b * o.length + k] = t;
      next[b] = t;
      if (!done[b] && stops.has(t)) {
        done[b] = 1;
        nDone++;
        lengths[b] = k + 1;
      }
    }
    generated = k + 1;
    return next;
  };

  if (cached) {
    let state = model.initState(B);
    try {
      let logits: tf.Tensor2D | null = null;
      for (let i = 0; i < P; i++) {
        const col = tf.tensor1d(
          Array.from({ length: B }, (_, b) => o.prompt[b]![i]!),
          'int32',
        );
        const r = model.step(col, state);
        col.dispose();
        model.disposeState(state);
        state = r.state;
        logits?.dispose();
        logits = r.logits;
        tracker.call(B, 1, i + 1);
      }
      if (stops.size === 0) {
        // No stop tokens: nothing on the host depends on a sampled token, so each one is fed straight back
        // to the model on the device and all are read back once at the end (one device→host read per
        // call instead of one per token: on a GPU every read is a pipeline flush).
        const cols: tf.Tensor[] = [];
        try {
          for (let k = 0; k < o.length; k++) {
            const tok = sampleLogits(logits!, o.rng, o); // int32 (B,), stays on the device
            logits!.dispose();
            logits = null;
            cols.push(tok);
            if (k === o.length - 1) break;
            const r = model.step(tok as tf.Tensor1D, state);
            model.disposeState(state);
            state = r.state;
            logits = r.logits;
            tracker.call(B, 1, P + k + 1);
          }
          const all = tf.stack(cols, 1); // (B, length)
          out.set((await all.data()) as Int32Array);
          all.dispose();
        } finally {
          tf.dispose(cols);
        }
        generated = o.length;
      }
      for (let k = 0; k < o.length && generated < o.length; k++) {
        const tok = sampleLogits(logits!, o.rng, o);
        const toks = (await tok.data()) as Int32Array;
        tok.dispose();
        logits!.dispose();
        logits = null;
        const next = accept(k, toks);
        if (nDone === B || k === o.length - 1) break;
        const col = tf.tensor1d(next, 'int32');
        const r = model.step(col, state);
        col.dispose();
        model.disposeState(state);
        state = r.state;
        logits = r.logits;
        tracker.call(B, 1, P + k + 1);
      }
      logits?.dispose();
    } finally {
      model.disposeState(state);
    }
  } else {
    const seq = new Int32Array(B * (P + o.length));
    const L = P + o.length;
    for (let b = 0; b < B; b++) for (let i = 0; i < P; i++) seq[b * L + i] = o.prompt[b]![i]!;
    for (let k = 0; k < o.length; k++) {
      const len = P + k;
      const rows = new Int32Array(B * len);
      for (let b = 0; b < B; b++) rows.set(seq.subarray(b * L, b * L + len), b * len);
      const last = tf.tidy(() => {
        const x = tf.tensor2d(rows, [B, len], 'int32'); // (B, P + k)
        const logits = model.forward(x); // (B, P + k, V)
        return tf.reshape(tf.slice(logits, [0, len - 1, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D; // (B, V)
      });
      tracker.call(B, len, len);
      const tok = sampleLogits(last, o.rng, o);
      last.dispose();
      const toks = (await tok.data()) as Int32Array;
      tok.dispose();
      const next = accept(k, toks);
      for (let b = 0; b < B; b++) seq[b * L + len] = next[b]!;
      if (nDone === B) break;
    }
  }
  // rows that stopped early: fill the tail not yet written
  for (let b = 0; b < B; b++) {
    for (let k = generated; k < o.length; k++) out[b * o.length + k] = o.padToken ?? out[b * o.length + generated - 1]!;
  }
  let tokens = 0;
  for (let b = 0; b < B; b++) tokens += lengths[b]!;
  return { samples: out, batch: B, length: o.length, lengths, cost: tracker.finish(tokens) };
}
