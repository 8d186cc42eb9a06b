/**
 * Selective state-space layer (Gu & Dao 2023, "Mamba", Algorithm 2 and §3.5 block):
 *   (x, z) = in_proj(u);  x ← SiLU(causal depthwise conv_K(x));
 *   Δ = softplus(dt_proj(x W_Δ)), B = x W_B, C = x W_C            (input-dependent, "selective")
 *   Ā_t = exp(Δ_t A), B̄_t x_t = Δ_t B_t x_t                       (ZOH for A, Euler for B, as Mamba)
 *   h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t,  y_t = C_t · h_t + D x_t,  out = out_proj(y ⊙ SiLU(z)),
 * with A = −exp(A_log) real diagonal (S4D-Real init A_n = −(n+1)).
 *
 * Training scan: `selectiveScanFused` from @altar/backend — on cpu and wasm one host kernel runs the
 * sequential recurrence forward and one runs its reverse-time adjoint backward; elsewhere (webgpu) or with
 * ALTAR_FUSED=0, the chunked composition (chunks of C ≤ 8 steps, parallel inside a chunk through cumsums,
 * recomputed in the backward pass). `step` is the plain recurrence.
 */
import * as tf from '@tensorflow/tfjs-core';
import { scanLogDecay, selectiveScanFused } from '@altar/backend';
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
  return scanLogDecay(dt, aLog, LOG_DECAY_MIN);
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
      // One host kernel each way on cpu/wasm; the chunked composition (scanChunk) elsewhere or with ALTAR_FUSED=0.
      let y = selectiveScanFused(dt, x, bm, cm, this.aLog, { logDecayMin: LOG_DECAY_MIN, chunk: this.chunk }); // (B, L, E)
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
