/**
 * S4D: diagonal linear time-invariant state-space layer (Gu, Gupta, Goel & Ré 2022, "On the
 * Parameterization and Initialization of Diagonal State Space Models"), one independent SSM per channel:
 *   h_t = Ā h_{t-1} + B̄ u_t,  y_t = 2·Re(C h_t) + D u_t,
 * with complex diagonal A = −exp(A_re_log) + i·A_im (S4D-Lin init: A = −½ + iπn), B = 1, and the
 * zero-order hold Ā = exp(ΔA), B̄ = (exp(ΔA) − 1)/A · B (S4D eq. 3 / §3.2). Conjugate pairs are
 * implicit: the factor 2·Re(·) sums a mode with its conjugate. Complex numbers are carried as
 * (real, imag) tensor pairs so every op has a gradient on every backend.
 *
 * Convolution mode (training): y = K ∗ u with K_l = 2·Re(C Ā^l B̄) (S4D eq. 5), computed chunk-wise:
 * inside a chunk of C steps a Toeplitz matmul with K_0..K_{C−1}; across chunks the state carried by a
 * short recurrence over chunks (L/C steps) — exact, O(L·C·D + L·D·N).
 * Recurrent mode (generation): `step` advances (Re h, Im h) one token.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mm2d } from './matmul.js';
import { tidyObj, type ParamStore } from './params.js';

/**
 * Options of {@link S4d}: width, complex modes per channel, convolution chunk, the Δ range.
 *
 * @example
 * ```ts
 * const opts: S4dOptions = { dModel: 64, dState: 32, chunk: 64 };
 * ```
 */
export interface S4dOptions {
  dModel: number;
  /** Complex modes per channel. */
  dState: number;
  /** Chunk length of the convolution mode. */
  chunk?: number;
  dtMin?: number;
  dtMax?: number;
}

/**
 * The recurrent state of {@link S4d}: real and imaginary parts of the complex state (B, D, N).
 *
 * @example
 * ```ts
 * let state: S4dState = s4d.initState(1);
 * ```
 */
export interface S4dState {
  hr: tf.Tensor3D; // (B, D, N)
  hi: tf.Tensor3D;
}

interface Discrete {
  ar: tf.Tensor; // Re Ā (D, N)
  ai: tf.Tensor;
  br: tf.Tensor; // Re B̄ (D, N)
  bi: tf.Tensor;
  logMag: tf.Tensor; // Re(ΔA) (D, N): |Ā| = exp(logMag)
  phase: tf.Tensor; // Im(ΔA) (D, N)
}

/**
 * S4D (Gu et al. 2022): a diagonal linear time-invariant SSM per channel, `forward` as a convolution for training and
 * `step` as a recurrence for generation; a test proves they agree.
 *
 * @example
 * ```ts
 * const s4d = new S4d(store, 's4d', { dModel: 32, dState: 16 });
 * const y = s4d.forward(u); // u (B, N, 32) → (B, N, 32)
 * let st = s4d.initState(1);
 * const r = s4d.step(u1, st); // one position
 * ```
 */
export class S4d {
  readonly logDt: tf.Variable;
  readonly aReLog: tf.Variable;
  readonly aIm: tf.Variable;
  readonly cRe: tf.Variable;
  readonly cIm: tf.Variable;
  readonly dSkip: tf.Variable;
  readonly d: number;
  readonly n: number;
  readonly chunk: number;

  constructor(store: ParamStore, name: string, opts: S4dOptions) {
    const d = (this.d = opts.dModel);
    const n = (this.n = opts.dState);
    this.chunk = opts.chunk ?? 64;
    const lo = Math.log(opts.dtMin ?? 1e-3);
    const hi = Math.log(opts.dtMax ?? 1e-1);
    this.logDt = store.add(`${name}.log_dt`, [d, 1], { kind: 'uniform', lo, hi });
    this.aReLog = store.add(`${name}.A_re_log`, [d, n], {
      kind: 'values',
      values: new Float32Array(d * n).fill(Math.log(0.5)),
    });
    const im = new Float32Array(d * n);
    for (let i = 0; i < d; i++) for (let j = 0; j < n; j++) im[i * n + j] = Math.PI * j;
    this.aIm = store.add(`${name}.A_im`, [d, n], { kind: 'values', values: im });
    this.cRe = store.add(`${name}.C_re`, [d, n], { kind: 'normal', std: Math.sqrt(0.5) / Math.sqrt(n) });
    this.cIm = store.add(`${name}.C_im`, [d, n], { kind: 'normal', std: Math.sqrt(0.5) / Math.sqrt(n) });
    this.dSkip = store.add(`${name}.D`, [d], { kind: 'ones' });
  }

  /** Zero-order-hold discretisation (S4D §3.2). */
  private discretize(): Discrete {
    const dt = tf.exp(this.logDt); // (D, 1)
    const aRe = tf.neg(tf.exp(this.aReLog)); // (D, N)
    const logMag = tf.mul(dt, aRe);
    const phase = tf.mul(dt, this.aIm);
    const mag = tf.exp(logMag);
    const ar = tf.mul(mag, tf.cos(phase));
    const ai = tf.mul(mag, tf.sin(phase));
    // B̄ = (Ā − 1)/A with B = 1: (x + iy)/(a + ib) = ((xa + yb) + i(ya − xb)) / (a² + b²)
    const x = tf.sub(ar, 1);
    const den = tf.add(tf.square(aRe), tf.square(this.aIm));
    const br = tf.div(tf.add(tf.mul(x, aRe), tf.mul(ai, this.aIm)), den);
    const bi = tf.div(tf.sub(tf.mul(ai, aRe), tf.mul(x, this.aIm)), den);
    return { ar, ai, br, bi, logMag, phase };
  }

  /** Ā^p for the given exponents (default p0..p0+m−1) as (D, N, m) real/imag pairs. */
  private powers(z: Discrete, p0: number, m: number, descending = false): [tf.Tensor, tf.Tensor] {
    const ex = Float32Array.from({ length: m }, (_, i) => (descending ? p0 + m - 1 - i : p0 + i));
    const ps = tf.tensor3d(ex, [1, 1, m]);
    const mag = tf.exp(tf.mul(tf.expandDims(z.logMag, 2), ps)); // (D, N, m)
    const ang = tf.mul(tf.expandDims(z.phase, 2), ps);
    return [tf.mul(mag, tf.cos(ang)), tf.mul(mag, tf.sin(ang))];
  }

  /** The SSM convolution kernel K_l = 2·Re(C Ā^l B̄), l < len: (D, len). */
  kernel(len: number): tf.Tensor2D {
    return tf.tidy(() => this.kernelOf(this.discretize(), len));
  }

  private kernelOf(z: Discrete, len: number): tf.Tensor2D {
    const cbr = tf.sub(tf.mul(this.cRe, z.br), tf.mul(this.cIm, z.bi)); // C·B̄ (D, N)
    const cbi = tf.add(tf.mul(this.cRe, z.bi), tf.mul(this.cIm, z.br));
    const [pr, pi] = this.powers(z, 0, len); // (D, N, len)
    const re = tf.sub(tf.mul(tf.expandDims(cbr, 2), pr), tf.mul(tf.expandDims(cbi, 2), pi));
    return tf.mul(2, tf.sum(re, 1)) as tf.Tensor2D; // (D, len)
  }

  /** u (B, L, D) → y (B, L, D), convolution mode. */
  forward(u: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, l, d] = u.shape;
      const z = this.discretize();
      const c = Math.min(this.chunk, l);
      const nc = Math.ceil(l / c);
      const lp = nc * c;
      const k = this.kernelOf(z, c); // (D, C)
      // Toeplitz T[d, i, j] = K[d, i − j] (i ≥ j), as K @ P with a constant 0/1 placement P (C, C·C):
      // a plain matmul with a matmul gradient (a gather's gradient is slow on wasm).
      const place = new Float32Array(c * c * c);
      for (let i = 0; i < c; i++) for (let j = 0; j <= i; j++) place[(i - j) * c * c + i * c + j] = 1;
      const toep = tf.reshape(mm2d(k, tf.tensor2d(place, [c, c * c])), [d, c, c]); // (D, C, C)
      const up =
        lp === l
          ? u
          : tf.pad(u, [
              [0, 0],
              [0, lp - l],
              [0, 0],
            ]);
      const ut = tf.reshape(tf.transpose(tf.reshape(up, [b, nc, c, d]), [3, 2, 0, 1]), [d, c, b * nc]); // (D, C, B·nc)
      let y = tf.matMul(toep, ut); // (D, C, B·nc) intra-chunk part
      if (nc > 1) {
        // Chunk-end state from the chunk's own inputs: s = Σ_i Ā^{C−1−i} B̄ u_i.
        const [rr, ri] = this.powers(z, 0, c, true); // Ā^{C−1−i} (D, N, C)
        const br3 = tf.expandDims(z.br, 2);
        const bi3 = tf.expandDims(z.bi, 2);
        const wr = tf.transpose(tf.sub(tf.mul(rr, br3), tf.mul(ri, bi3)), [0, 2, 1]); // (D, C, N)
        const wi = tf.transpose(tf.add(tf.mul(rr, bi3), tf.mul(ri, br3)), [0, 2, 1]);
        const sr = tf.reshape(tf.matMul(ut, wr, true, false), [d, b, nc, z.ar.shape[1] as number]); // (D, B, nc, N)
        const si = tf.reshape(tf.matMul(ut, wi, true, false), [d, b, nc, this.n]);
        // Ā^C for the hop between chunks.
        const magC = tf.exp(tf.mul(z.logMag, c));
        const acr = tf.expandDims(tf.mul(magC, tf.cos(tf.mul(z.phase, c))), 1); // (D, 1, N)
        const aci = tf.expandDims(tf.mul(magC, tf.sin(tf.mul(z.phase, c))), 1);
        let hr: tf.Tensor = tf.zeros([d, b, this.n]);
        let hi: tf.Tensor = tf.zeros([d, b, this.n]);
        const hrs: tf.Tensor[] = [];
        const his: tf.Tensor[] = [];
        for (let ci = 0; ci < nc; ci++) {
          hrs.push(hr);
          his.push(hi);
          if (ci === nc - 1) break;
          const s_r = tf.reshape(tf.slice(sr, [0, 0, ci, 0], [d, b, 1, this.n]), [d, b, this.n]);
          const s_i = tf.reshape(tf.slice(si, [0, 0, ci, 0], [d, b, 1, this.n]), [d, b, this.n]);
          const nr = tf.add(tf.sub(tf.mul(acr, hr), tf.mul(aci, hi)), s_r);
          const ni = tf.add(tf.add(tf.mul(acr, hi), tf.mul(aci, hr)), s_i);
          hr = nr;
          hi = ni;
        }
        const hR = tf.reshape(tf.stack(hrs, 2), [d, b * nc, this.n]); // state entering each chunk (D, B·nc, N)
        const hI = tf.reshape(tf.stack(his, 2), [d, b * nc, this.n]);
        // Output from the carried state: y_i += 2·Re(C Ā^{i+1} h).
        const [qr, qi] = this.powers(z, 1, c); // (D, N, C)
        const cr3 = tf.expandDims(this.cRe, 2);
        const ci3 = tf.expandDims(this.cIm, 2);
        const pr = tf.sub(tf.mul(cr3, qr), tf.mul(ci3, qi)); // (D, N, C)
        const pi = tf.add(tf.mul(cr3, qi), tf.mul(ci3, qr));
        const ys = tf.mul(2, tf.sub(tf.matMul(hR, pr), tf.matMul(hI, pi))); // (D, B·nc, C)
        y = tf.add(y, tf.transpose(ys, [0, 2, 1]));
      }
      let out = tf.reshape(tf.transpose(tf.reshape(y, [d, c, b, nc]), [2, 3, 1, 0]), [b, lp, d]); // (B, Lp, D)
      if (lp !== l) out = tf.slice(out, [0, 0, 0], [b, l, d]);
      return tf.add(out, tf.mul(u, this.dSkip)) as tf.Tensor3D;
    });
  }

  initState(batch: number): S4dState {
    return { hr: tf.zeros([batch, this.d, this.n]), hi: tf.zeros([batch, this.d, this.n]) };
  }

  /** Recurrent mode: u (B, D) → y (B, D). */
  step(u: tf.Tensor2D, s: S4dState): { y: tf.Tensor2D; state: S4dState } {
    return tidyObj(() => {
      const z = this.discretize();
      const u3 = tf.expandDims(u, 2); // (B, D, 1)
      const hr = tf.add(tf.sub(tf.mul(z.ar, s.hr), tf.mul(z.ai, s.hi)), tf.mul(z.br, u3)) as tf.Tensor3D;
      const hi = tf.add(tf.add(tf.mul(z.ar, s.hi), tf.mul(z.ai, s.hr)), tf.mul(z.bi, u3)) as tf.Tensor3D;
      const y = tf.add(
        tf.mul(2, tf.sum(tf.sub(tf.mul(this.cRe, hr), tf.mul(this.cIm, hi)), -1)),
        tf.mul(u, this.dSkip),
      ) as tf.Tensor2D;
      return { y, state: { hr, hi } };
    });
  }

  disposeState(s: S4dState): void {
    s.hr.dispose();
    s.hi.dispose();
  }
}
