/**
 * The plain composition of the selective scan (Gu & Dao 2023, "Mamba", Alg. 2), in tfjs ops, for backends
 * without the fused kernel (webgpu, webgl) and as the baseline the kernel is checked against:
 *   log Ā_t = max(Δ_t A, logDecayMin), A = −exp(A_log);  h_t = Ā_t ⊙ h_{t−1} + Δ_t B_t x_t;  y_t = C_t · h_t.
 *
 * Chunked, parallel inside chunks: cut the sequence into chunks of C steps. Inside a chunk, with
 * S_t = Σ_{r≤t} log Ā_r (a cumsum), the recurrence has the closed form
 *   h_t = e^{S_t} · (h_0 + Σ_{s≤t} e^{−S_s} B̄_s x_s)        (two cumsums, all chunks at once),
 * and the chunk-entry states h_0 are chained by a short loop over L/C chunks on (B, E·N) tensors.
 * e^{−S_s} ≤ e^{−logDecayMin·C} must stay finite in float32, so C · |logDecayMin| ≤ 80.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * log Ā = max(Δ ⊗ A, logDecayMin) with A = −exp(A_log): Δ (..., E), A_log (E, N) → (..., E, N).
 *
 * @example
 * ```ts
 * scanLogDecay(tf.ones([1, 2]), tf.zeros([2, 3]), -10); // all −1
 * ```
 */
export function scanLogDecay(dt: tf.Tensor, aLog: tf.Tensor, logDecayMin: number): tf.Tensor {
  return tf.tidy(() => {
    const a = tf.neg(tf.exp(aLog)); // A (E, N)
    return tf.maximum(tf.mul(tf.expandDims(dt, -1), a), logDecayMin);
  });
}

/** The chunked scan (file comment), materialising (B, L, E, N) tensors; callers recompute it backward. */
function scanChunked(
  dt: tf.Tensor,
  x: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  aLog: tf.Tensor,
  chunk: number,
  logDecayMin: number,
): tf.Tensor {
  const [b, l, e] = x.shape as [number, number, number];
  const n = aLog.shape[1] as number;
  const logA = scanLogDecay(dt, aLog, logDecayMin); // log Ā_t (B, L, E, N), ≤ 0
  const dBx = tf.mul(tf.expandDims(tf.mul(dt, x), 3), tf.expandDims(bm, 2)); // B̄_t x_t (B, L, E, N)
  const c = Math.min(chunk, l);
  const nc = Math.ceil(l / c);
  const lp = nc * c;
  const en = e * n;
  // Work in rank ≤ 4 (wasm's Slice kernel falls back to a slow generic path at rank 5).
  const chunked = (t: tf.Tensor) =>
    tf.reshape(
      lp === l
        ? t
        : tf.pad(t, [
            [0, 0],
            [0, lp - l],
            [0, 0],
            [0, 0],
          ]),
      [b, nc, c, en],
    );
  const sCum = tf.cumsum(chunked(logA), 2); // S_t within each chunk (B, nc, C, E·N)
  const eS = tf.exp(sCum);
  const hLocal = tf.mul(eS, tf.cumsum(tf.mul(chunked(dBx), tf.exp(tf.neg(sCum))), 2)); // zero state at chunk start
  let h: tf.Tensor = hLocal;
  if (nc > 1) {
    // Chunk-entry states: H_c = e^{S_C}(chunk c−1) · H_{c−1} + hLocal_end(chunk c−1).
    const last = (t: tf.Tensor) =>
      tf.reshape(tf.slice(tf.reshape(t, [b * nc, c, en]), [0, c - 1, 0], [b * nc, 1, en]), [b, nc, en]);
    const decay = last(eS); // (B, nc, E·N)
    const ends = last(hLocal);
    const carry: tf.Tensor[] = [tf.zeros([b, en])];
    for (let ci = 1; ci < nc; ci++) {
      const dc = tf.reshape(tf.slice(decay, [0, ci - 1, 0], [b, 1, en]), [b, en]);
      const ec = tf.reshape(tf.slice(ends, [0, ci - 1, 0], [b, 1, en]), [b, en]);
      carry.push(tf.add(tf.mul(dc, carry[ci - 1] as tf.Tensor), ec));
    }
    h = tf.add(hLocal, tf.mul(eS, tf.reshape(tf.stack(carry, 1), [b, nc, 1, en]))); // (B, nc, C, E·N)
  }
  const cc = tf.reshape(
    lp === l
      ? cm
      : tf.pad(cm, [
          [0, 0],
          [0, lp - l],
          [0, 0],
        ]),
    [b * lp, 1, n],
  ); // (B·Lp, 1, N)
  let y = tf.reshape(tf.sum(tf.mul(tf.reshape(h, [b * lp, e, n]), cc), -1), [b, lp, e]); // y_t = C_t · h_t (B, Lp, E)
  if (lp !== l) y = tf.slice(y, [0, 0, 0], [b, l, e]);
  return y;
}

/**
 * The selective scan as a tfjs-op composition: dt, x (B, L, E), bm, cm (B, L, N), aLog (E, N) → y (B, L, E).
 * Memory-lean: the forward pass keeps only its inputs, the backward pass recomputes the chunked scan under
 * tf.grads (Mamba §3.3.2's recomputation, in tensor-op form). `chunk` · |logDecayMin| must be ≤ 80.
 *
 * @example
 * ```ts
 * const y = selectiveScanComposition(dt, x, bm, cm, aLog, { chunk: 8, logDecayMin: -10 }); // (B, L, E)
 * ```
 */
export function selectiveScanComposition(
  dt: tf.Tensor,
  x: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  aLog: tf.Tensor,
  opts: { chunk: number; logDecayMin: number },
): tf.Tensor {
  const { chunk, logDecayMin } = opts;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const ins = args.slice(0, 5) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    (args[5] as tf.GradSaveFunc)(ins);
    return {
      value: tf.tidy(() => scanChunked(...ins, chunk, logDecayMin)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // tfjs-core 4.22's engine.gradients() drops the active tape when it finishes at depth 0, which would
        // break the outer backward pass that is calling us; keep the outer tape and put it back afterwards.
        const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
        const outerTape = state.activeTape;
        try {
          return tf.grads((a: tf.Tensor, bb: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
            scanChunked(a, bb, c, d, e, chunk, logDecayMin),
          )(saved, dy);
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  }) as unknown as (...t: tf.Tensor[]) => tf.Tensor;
  return f(dt, x, bm, cm, aLog);
}
