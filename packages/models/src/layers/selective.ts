/**
 * Selective state-space layer (Gu & Dao 2023, "Mamba", Algorithm 2 and §3.5 block):
 *   (x, z) = in_proj(u);  x ← SiLU(causal depthwise conv_K(x));
 *   Δ = softplus(dt_proj(x W_Δ)), B = x W_B, C = x W_C            (input-dependent, "selective")
 *   Ā_t = exp(Δ_t A), B̄_t x_t = Δ_t B_t x_t                       (ZOH for A, Euler for B, as Mamba)
 *   h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,  y_t = C_t · h_t + D x_t,  out = out_proj(y ⊙ SiLU(z)),
 * with A = −exp(A_log) real diagonal (S4D-Real init A_n = −(n+1)).
 *
 * Training scan (chunked, parallel inside chunks): cut the sequence into chunks of C ≤ 8 steps. Inside a
 * chunk, with S_t = Σ_{r≤t} log Ā_r (a cumsum), the recurrence has the closed form
 *   h_t = e^{S_t} · (h_0 + Σ_{s≤t} e^{−S_s} B̄_s x_s)        (two cumsums, all chunks at once),
 * and the chunk-entry states h_0 are chained by a short loop over L/C chunks on (B, E, N) tensors.
 * Everything is vectorised over batch × channels × state; `step` is the plain recurrence.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Linear, silu } from './basic.js';
import { tidyObj, type ParamStore } from './params.js';

/**
 * Per-step log-decay floor: Ā_t ≥ e^{−10} ≈ 4.5e−5 (a state decaying faster is already forgotten).
 * It bounds e^{−S_t} ≤ e^{10·C} inside a scan chunk, so chunks of ≤ 8 steps stay finite in float32.
 * Forward and step apply the same floor, so both modes compute the same function.
 *
 * @example
 * ```ts
 * Math.exp(LOG_DECAY_MIN * MAX_SCAN_CHUNK); // the smallest decay product inside a chunk, ≈ 1.8e-35
 * ```
 */
export const LOG_DECAY_MIN = -10;
/**
 * Largest scan chunk allowed by LOG_DECAY_MIN in float32 (e^{80} ≈ 5.5e34 < 3.4e38).
 *
 * @example
 * ```ts
 * new SelectiveSsm(store, 'mix', { dModel: 64, dState: 16, expand: 2, convKernel: 4, scanChunk: MAX_SCAN_CHUNK });
 * ```
 */
export const MAX_SCAN_CHUNK = 8;

function logDecay(dt: tf.Tensor, aLog: tf.Tensor): tf.Tensor {
  const a = tf.neg(tf.exp(aLog)); // A (E, N)
  return tf.maximum(tf.mul(tf.expandDims(dt, -1), a), LOG_DECAY_MIN);
}

/**
 * y_t = C_t · h_t for the whole sequence (see the file comment): dt, x (B, L, E), bm, cm (B, L, N),
 * aLog (E, N) → (B, L, E). Materialises (B, L, E, N) tensors, so `selectiveScan` wraps it in a
 * custom gradient that recomputes it in the backward pass instead of keeping them (Mamba §3.3.2's
 * recomputation, in tensor-op form).
 */
function scanReference(
  dt: tf.Tensor,
  x: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  aLog: tf.Tensor,
  chunk: number,
): tf.Tensor {
  const [b, l, e] = x.shape as [number, number, number];
  const n = aLog.shape[1] as number;
  const logA = logDecay(dt, aLog); // log Ā_t (B, L, E, N), ≤ 0
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

/** Memory-lean scan: forward keeps only its inputs; the backward pass recomputes the scan under tf.grads. */
function selectiveScan(
  dt: tf.Tensor,
  x: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  aLog: tf.Tensor,
  chunk: number,
): tf.Tensor {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const ins = args.slice(0, 5) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    (args[5] as tf.GradSaveFunc)(ins);
    return {
      value: tf.tidy(() => scanReference(...ins, chunk)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        // tfjs-core 4.22's engine.gradients() drops the active tape when it finishes at depth 0, which would
        // break the outer backward pass that is calling us; keep the outer tape and put it back afterwards.
        const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
        const outerTape = state.activeTape;
        try {
          return tf.grads((a: tf.Tensor, bb: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
            scanReference(a, bb, c, d, e, chunk),
          )(saved, dy);
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  }) as unknown as (...t: tf.Tensor[]) => tf.Tensor;
  return f(dt, x, bm, cm, aLog);
}

/**
 * Options of {@link SelectiveSsm}: width, state size, expansion, causal conv kernel, scan chunk, Δ rank.
 *
 * @example
 * ```ts
 * const opts: SelectiveOptions = { dModel: 64, dState: 16, expand: 2, convKernel: 4 };
 * ```
 */
export interface SelectiveOptions {
  dModel: number;
  dState: number;
  expand: number;
  convKernel: number;
  /** Scan chunk C (1..8; 1 = a plain sequential scan). */
  scanChunk?: number;
  dtRank?: number;
  outStd?: number;
}

/**
 * The recurrent state of {@link SelectiveSsm}: the causal convolution's last inputs and the SSM state h.
 *
 * @example
 * ```ts
 * let state: SelectiveState = mixer.initState(1);
 * ```
 */
export interface SelectiveState {
  conv: tf.Tensor3D; // last K−1 pre-conv inputs (B, K−1, E)
  h: tf.Tensor3D; // (B, E, N)
}

/**
 * The selective SSM mixer (Mamba, Gu & Dao 2023): input-dependent Δ, B, C; `forward` as a chunked parallel scan,
 * `step` as the recurrence, with explicit conv and SSM state.
 *
 * @example
 * ```ts
 * const mixer = new SelectiveSsm(store, 'mix', { dModel: 32, dState: 16, expand: 2, convKernel: 4 });
 * const y = mixer.forward(x); // (B, N, 32)
 * let st = mixer.initState(1);
 * const r = mixer.step(x1, st); // one position: y (1, 32) and the next state
 * ```
 */
export class SelectiveSsm {
  readonly e: number;
  readonly n: number;
  readonly k: number;
  readonly r: number;
  readonly chunk: number;
  readonly inProj: Linear;
  readonly convW: tf.Variable;
  readonly convB: tf.Variable;
  readonly xProj: Linear;
  readonly dtProj: Linear;
  readonly aLog: tf.Variable;
  readonly dSkip: tf.Variable;
  readonly outProj: Linear;

  constructor(store: ParamStore, name: string, opts: SelectiveOptions) {
    const d = opts.dModel;
    const e = (this.e = opts.expand * d);
    const n = (this.n = opts.dState);
    const k = (this.k = opts.convKernel);
    const r = (this.r = opts.dtRank ?? Math.max(1, Math.ceil(d / 16)));
    this.chunk = Math.max(1, Math.min(opts.scanChunk ?? MAX_SCAN_CHUNK, MAX_SCAN_CHUNK));
    this.inProj = new Linear(store, `${name}.in_proj`, d, 2 * e, { bias: false });
    this.convW = store.add(`${name}.conv.w`, [k, e], { kind: 'uniform', lo: -1 / Math.sqrt(k), hi: 1 / Math.sqrt(k) });
    this.convB = store.add(`${name}.conv.b`, [e], { kind: 'zeros' });
    this.xProj = new Linear(store, `${name}.x_proj`, e, r + 2 * n, { bias: false });
    this.dtProj = new Linear(store, `${name}.dt_proj`, r, e, { std: 1 / Math.sqrt(r) });
    // dt_proj bias = softplus⁻¹(dt), dt log-uniform in [1e-3, 1e-1] (Mamba's init).
    const bias = store.rng.uniformArray(e, Math.log(1e-3), Math.log(1e-1)).map((ld) => {
      const dt = Math.exp(ld);
      return dt + Math.log(-Math.expm1(-dt));
    });
    tf.tidy(() => (this.dtProj.b as tf.Variable).assign(tf.tensor1d(bias)));
    const al = new Float32Array(e * n);
    for (let i = 0; i < e; i++) for (let j = 0; j < n; j++) al[i * n + j] = Math.log(j + 1);
    this.aLog = store.add(`${name}.A_log`, [e, n], { kind: 'values', values: al });
    this.dSkip = store.add(`${name}.D`, [e], { kind: 'ones' });
    this.outProj = new Linear(store, `${name}.out_proj`, e, d, {
      bias: false,
      ...(opts.outStd === undefined ? {} : { std: opts.outStd }),
    });
  }

  /** log Ā = max(Δ ⊗ A, LOG_DECAY_MIN): Δ (..., E) → (..., E, N). */
  private logDecay(dt: tf.Tensor): tf.Tensor {
    return logDecay(dt, this.aLog);
  }

  /** x (..., E) → Δ (..., E), B (..., N), C (..., N). */
  private selective(x: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
    const dbc = this.xProj.apply(x);
    const [dtr, bm, cm] = tf.split(dbc, [this.r, this.n, this.n], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    return [tf.softplus(this.dtProj.apply(dtr)), bm, cm];
  }

  /** u (B, L, D) → (B, L, D). */
  forward(u: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, l] = u.shape;
      const { e, k } = this;
      const [xi, z] = tf.split(this.inProj.apply(u), 2, -1) as [tf.Tensor, tf.Tensor]; // (B, L, E) each
      // Causal depthwise conv: xc_t = Σ_j w_j x_{t−K+1+j} + b (K shifted slices; no conv-filter gradient needed).
      const xp = tf.pad(xi, [
        [0, 0],
        [k - 1, 0],
        [0, 0],
      ]); // (B, L+K−1, E)
      let xc: tf.Tensor = this.convB;
      for (let j = 0; j < k; j++) {
        const wj = tf.reshape(tf.slice(this.convW, [j, 0], [1, e]), [e]);
        xc = tf.add(xc, tf.mul(tf.slice(xp, [0, j, 0], [b, l, e]), wj));
      }
      const x = silu(xc); // (B, L, E)
      const [dt, bm, cm] = this.selective(x);
      let y = selectiveScan(dt, x, bm, cm, this.aLog, this.chunk); // (B, L, E)
      y = tf.add(y, tf.mul(x, this.dSkip));
      return this.outProj.apply(tf.mul(y, silu(z))) as tf.Tensor3D;
    });
  }

  initState(batch: number): SelectiveState {
    return { conv: tf.zeros([batch, this.k - 1, this.e]), h: tf.zeros([batch, this.e, this.n]) };
  }

  /** Recurrent mode: u (B, D) → y (B, D) and the next state (conv window, h). */
  step(u: tf.Tensor2D, s: SelectiveState): { y: tf.Tensor2D; state: SelectiveState } {
    return tidyObj(() => {
      const b = u.shape[0];
      const { e, k } = this;
      const [xi, z] = tf.split(this.inProj.apply(u), 2, -1) as [tf.Tensor, tf.Tensor]; // (B, E)
      const win = tf.concat([s.conv, tf.expandDims(xi, 1)], 1); // (B, K, E)
      const x = silu(tf.add(tf.sum(tf.mul(win, this.convW), 1), this.convB)); // (B, E)
      const conv = tf.slice(win, [0, 1, 0], [b, k - 1, e]) as tf.Tensor3D;
      const [dt, bm, cm] = this.selective(x);
      const dA = tf.exp(this.logDecay(dt)); // (B, E, N)
      const h = tf.add(tf.mul(dA, s.h), tf.mul(tf.expandDims(tf.mul(dt, x), 2), tf.expandDims(bm, 1))) as tf.Tensor3D;
      let y = tf.add(tf.sum(tf.mul(h, tf.expandDims(cm, 1)), -1), tf.mul(x, this.dSkip)); // (B, E)
      y = tf.mul(y, silu(z));
      return { y: this.outProj.apply(y) as tf.Tensor2D, state: { conv, h } };
    });
  }

  disposeState(s: SelectiveState): void {
    s.conv.dispose();
    s.h.dispose();
  }
}
