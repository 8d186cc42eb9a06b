/**
 * Fused selective scan (Gu & Dao 2023, "Mamba", Alg. 2) with A = −exp(A_log) real diagonal:
 *   log Ā_t = max(Δ_t A, logDecayMin);  h_t = Ā_t ⊙ h_{t−1} + Δ_t B_t x_t;  y_t = C_t · h_t,
 * dt, x (B, L, E), bm = B, cm = C (B, L, N), aLog (E, N) → y (B, L, E).
 *
 * On cpu and wasm one host kernel runs the sequential recurrence over typed arrays (float64 state),
 * and one backward kernel recomputes the states of one batch row at a time and runs the reverse-time
 * adjoint recurrence (λ_t = ∂L/∂h_t):
 *   λ_t = C_t g_t + Ā_{t+1} λ_{t+1};   ∂C_t += Σ_e g_t h_t;   ∂(B̄x)_t = λ_t;
 *   ∂ log Ā_t = λ_t ⊙ h_{t−1} ⊙ Ā_t (0 where clamped, as tf.maximum's gradient);
 *   ∂Δ_t += Σ_n ∂ log Ā_t A + λ_t B_t x_t;   ∂A_log += ∂ log Ā_t Δ_t A.
 * No (B, L, E, N) tensor exists: the backward's scratch holds one batch row's states (L · E · N).
 * Elsewhere (webgpu) the chunked tfjs-op composition (scan-composition.ts) runs instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { selectiveScanComposition } from './scan-composition.js';

export { scanLogDecay, selectiveScanComposition } from './scan-composition.js';

interface Dims {
  b: number;
  l: number;
  e: number;
  n: number;
}

/** Dims from the shapes of (…, x, bm, cm, aLog) with x at index `xi`. */
function dimsOf(shapes: number[][], xi: number): Dims {
  const [b, l, e] = shapes[xi] as [number, number, number];
  return { b, l, e, n: (shapes[xi + 3] as number[])[1] as number };
}

let scratch = new Float64Array(0);
/** A reusable float64 scratch of at least `size` entries (the kernels run one at a time). */
function scratchOf(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

/** A = −exp(A_log), in float64. */
function decayRates(aLog: ArrayLike<number>, en: number): Float64Array {
  const a = new Float64Array(en);
  for (let i = 0; i < en; i++) a[i] = -Math.exp(aLog[i]!);
  return a;
}

const scanSpec: HostKernelSpec = {
  name: FUSED_KERNELS.selectiveScan,
  inputs: ['dt', 'x', 'bm', 'cm', 'aLog'],
  outputs: ([, xs]) => [{ shape: xs!, dtype: 'float32' }],
  compute([dt, x, bm, cm, aLog], [y], shapes, attrs) {
    const { b, l, e, n } = dimsOf(shapes, 1);
    const lmin = attrs['logDecayMin'] as number;
    const a = decayRates(aLog!, e * n);
    const h = new Float64Array(e * n);
    for (let bi = 0; bi < b; bi++) {
      h.fill(0);
      for (let t = 0; t < l; t++) {
        const row = bi * l + t;
        const bo = row * n;
        for (let ei = 0; ei < e; ei++) {
          const d = dt![row * e + ei]!;
          const u = d * x![row * e + ei]!;
          const eo = ei * n;
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            let la = d * a[eo + ni]!;
            if (la < lmin) la = lmin;
            const hv = Math.exp(la) * h[eo + ni]! + u * bm![bo + ni]!;
            h[eo + ni] = hv;
            acc += cm![bo + ni]! * hv;
          }
          y![row * e + ei] = acc;
        }
      }
    }
  },
};

const scanGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.selectiveScanGrad,
  inputs: ['dy', 'dt', 'x', 'bm', 'cm', 'aLog'],
  outputs: ([, dts, xs, bs, cs, as]) => [dts!, xs!, bs!, cs!, as!].map((shape) => ({ shape, dtype: 'float32' })),
  compute([dy, dt, x, bm, cm, aLog], [ddt, dx, dbm, dcm, daLog], shapes, attrs) {
    const { b, l, e, n } = dimsOf(shapes, 2);
    const lmin = attrs['logDecayMin'] as number;
    const en = e * n;
    const a = decayRates(aLog!, en);
    const work = scratchOf(2 * l * en);
    const hs = work.subarray(0, l * en); // h_t of one batch row (L, E, N)
    const decays = work.subarray(l * en, 2 * l * en); // Ā_t (L, E, N)
    const lam = new Float64Array(en);
    const dA = new Float64Array(en); // ∂A_log, summed over batch and time
    const dB = new Float64Array(n);
    const dC = new Float64Array(n);
    for (let bi = 0; bi < b; bi++) {
      // Recompute the states of this row (the forward kernel keeps none).
      for (let t = 0; t < l; t++) {
        const row = bi * l + t;
        for (let ei = 0; ei < e; ei++) {
          const d = dt![row * e + ei]!;
          const u = d * x![row * e + ei]!;
          const o = t * en + ei * n;
          for (let ni = 0; ni < n; ni++) {
            let la = d * a[ei * n + ni]!;
            if (la < lmin) la = lmin;
            const dec = Math.exp(la);
            decays[o + ni] = dec;
            hs[o + ni] = dec * (t > 0 ? hs[o - en + ni]! : 0) + u * bm![row * n + ni]!;
          }
        }
      }
      lam.fill(0); // holds Ā_{t+1} λ_{t+1} on entry to step t
      for (let t = l - 1; t >= 0; t--) {
        const row = bi * l + t;
        const bo = row * n;
        dB.fill(0);
        dC.fill(0);
        for (let ei = 0; ei < e; ei++) {
          const g = dy![row * e + ei]!;
          const d = dt![row * e + ei]!;
          const xv = x![row * e + ei]!;
          const u = d * xv;
          const eo = ei * n;
          const o = t * en + eo;
          let dDecay = 0;
          let dU = 0;
          for (let ni = 0; ni < n; ni++) {
            dC[ni]! += g * hs[o + ni]!;
            const lv = lam[eo + ni]! + g * cm![bo + ni]!; // λ_t
            const an = a[eo + ni]!;
            const dec = decays[o + ni]!;
            if (d * an >= lmin && t > 0) {
              const dla = lv * hs[o - en + ni]! * dec; // ∂ log Ā_t
              dDecay += dla * an;
              dA[eo + ni]! += dla * d * an;
            }
            const bv = bm![bo + ni]!;
            dU += lv * bv;
            dB[ni]! += lv * u;
            lam[eo + ni] = dec * lv;
          }
          ddt![row * e + ei] = dDecay + dU * xv;
          dx![row * e + ei] = dU * d;
        }
        for (let ni = 0; ni < n; ni++) {
          dbm![bo + ni] = dB[ni]!;
          dcm![bo + ni] = dC[ni]!;
        }
      }
    }
    daLog!.set(dA);
  },
};

/**
 * The host kernels of the fused scan (forward and backward), for registerFusedKernels.
 *
 * @example
 * ```ts
 * SCAN_SPECS.forEach((s) => registerHostKernel(s));
 * ```
 */
export const SCAN_SPECS: readonly HostKernelSpec[] = [scanSpec, scanGradSpec];

/**
 * Register the gradient of the fused scan kernel (its backward kernel). Called once by registerFusedKernels.
 *
 * @example
 * ```ts
 * registerScanGradient();
 * ```
 */
export function registerScanGradient(): void {
  registerGradient({
    kernelName: FUSED_KERNELS.selectiveScan,
    inputsToSave: ['dt', 'x', 'bm', 'cm', 'aLog'],
    gradFunc: (dy, saved, attrs) => {
      const [dt, x, bm, cm, aLog] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
      const [gDt, gX, gB, gC, gA] = tf
        .engine()
        .runKernel(FUSED_KERNELS.selectiveScanGrad, { dy: dy as tf.Tensor, dt, x, bm, cm, aLog }, attrs) as tf.Tensor[];
      return { dt: () => gDt!, x: () => gX!, bm: () => gB!, cm: () => gC!, aLog: () => gA! };
    },
  });
}

/**
 * Options of {@link selectiveScanFused}: the log-decay floor (≤ 0) and the composition's chunk length
 * (default the largest ≤ 8 with chunk · |logDecayMin| ≤ 80, so e^{−S} stays finite in float32).
 *
 * @example
 * ```ts
 * const opts: SelectiveScanOptions = { logDecayMin: -10, chunk: 8 };
 * ```
 */
export interface SelectiveScanOptions {
  logDecayMin: number;
  chunk?: number;
}

/**
 * The selective scan y_t = C_t · h_t, h_t = Ā_t ⊙ h_{t−1} + Δ_t B_t x_t with log Ā_t = max(Δ_t A, logDecayMin),
 * A = −exp(aLog): dt, x (B, L, E), bm, cm (B, L, N), aLog (E, N) → (B, L, E). One kernel forward and one
 * backward on cpu and wasm; the chunked composition elsewhere or with fused kernels off.
 *
 * @example
 * ```ts
 * const y = selectiveScanFused(dt, x, bm, cm, aLog, { logDecayMin: -10 }); // (B, L, E)
 * ```
 */
export function selectiveScanFused(
  dt: tf.Tensor,
  x: tf.Tensor,
  bm: tf.Tensor,
  cm: tf.Tensor,
  aLog: tf.Tensor,
  opts: SelectiveScanOptions,
): tf.Tensor {
  const [b, l, e] = x.shape;
  const n = aLog.shape[1];
  const ok =
    x.rank === 3 &&
    tf.util.arraysEqual(dt.shape, x.shape) &&
    aLog.rank === 2 &&
    aLog.shape[0] === e &&
    tf.util.arraysEqual(bm.shape, [b!, l!, n!]) &&
    tf.util.arraysEqual(cm.shape, [b!, l!, n!]);
  if (!ok) {
    throw new AltarError(
      'BAD_SHAPE',
      `selectiveScanFused: need dt, x (B, L, E), bm, cm (B, L, N), aLog (E, N), got dt [${dt.shape}], ` +
        `x [${x.shape}], bm [${bm.shape}], cm [${cm.shape}], aLog [${aLog.shape}]`,
    );
  }
  const { logDecayMin } = opts;
  if (!(logDecayMin <= 0) || !Number.isFinite(logDecayMin)) {
    throw new AltarError('BAD_ARG', `selectiveScanFused: logDecayMin must be finite and ≤ 0, got ${logDecayMin}`);
  }
  const chunk = opts.chunk ?? Math.max(1, Math.min(8, Math.floor(80 / Math.max(1e-9, -logDecayMin))));
  if (!Number.isInteger(chunk) || chunk < 1 || chunk * -logDecayMin > 80) {
    throw new AltarError(
      'BAD_ARG',
      `selectiveScanFused: chunk must be an integer ≥ 1 with chunk · |logDecayMin| ≤ 80, got ${chunk}`,
    );
  }
  if (!useFused(FUSED_KERNELS.selectiveScan))
    return selectiveScanComposition(dt, x, bm, cm, aLog, { chunk, logDecayMin });
  return tf.engine().runKernel(FUSED_KERNELS.selectiveScan, { dt, x, bm, cm, aLog }, {
    logDecayMin,
  } as unknown as NamedAttrMap) as tf.Tensor;
}
