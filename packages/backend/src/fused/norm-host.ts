/**
 * Host kernels (cpu and wasm) of the fused norms in norm.ts: RMSNorm, and LayerNorm / RMSNorm fused with
 * the residual add. One pass over a row each way (plus the write-back), float64 row statistics.
 *
 * Forward (x, [r], g, [b]) → ([s], y, stats): s = x + r rounded to float32 (what the composition's Add
 * gives), then per row of s
 *   LayerNorm (Ba et al. 2016):        μ = mean(s),  ρ = 1/√(mean((s − μ)²) + ε),  y = (s − μ)·ρ·g + b
 *   RMSNorm (Zhang & Sennrich 2019):   μ = 0,        ρ = 1/√(mean(s²) + ε),        y = s·ρ·g
 * The variance is accumulated about the row's first element (the shifted-data formula, exact in float64 for
 * any mean), in the same pass that writes s. stats (rows, 2) = (μ, ρ) is a hidden output saved for the
 * backward, which so never recomputes them.
 *
 * Backward (ds?, dy, s, g, stats) → (dx, dg, [db]), with x̂ = (s − μ)·ρ, ĝ = dy·g:
 *   dx = ds + ρ·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))      (RMSNorm: without the mean(ĝ) term)
 *   dg = Σ_rows dy·x̂,  db = Σ_rows dy;  dr = dx (the residual add passes the gradient through).
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import type { HostArray, HostKernelSpec } from './host-kernel.js';

/** Which norm, and whether the residual add is fused in front of it. */
export interface NormVariant {
  /** LayerNorm (centred, with bias) or RMSNorm. */
  centered: boolean;
  /** Inputs start with (x, r) and the outputs with s = x + r. */
  residual: boolean;
}

const lastDim = (shape: number[]): number => shape[shape.length - 1] ?? 1;
const statsShape = (xs: number[]): number[] => [...xs.slice(0, -1), 2];

/** Forward over all rows; `s` is the input itself when there is no residual. */
function normForward(
  x: HostArray,
  r: HostArray | null,
  g: HostArray,
  b: HostArray | null,
  s: HostArray,
  y: HostArray,
  st: HostArray,
  d: number,
  eps: number,
  centered: boolean,
): void {
  const rows = x.length / d;
  for (let row = 0, off = 0; row < rows; row++, off += d) {
    const end = off + d;
    const k0 = centered ? (r ? Math.fround(x[off]! + r[off]!) : x[off]!) : 0;
    // Two accumulator pairs (even and odd elements): half the length of the float add dependency chains.
    let sum0 = 0;
    let sum1 = 0;
    let sq0 = 0;
    let sq1 = 0;
    let i = off;
    if (r) {
      for (; i + 1 < end; i += 2) {
        const v0 = Math.fround(x[i]! + r[i]!);
        const v1 = Math.fround(x[i + 1]! + r[i + 1]!);
        s[i] = v0;
        s[i + 1] = v1;
        const c0 = v0 - k0;
        const c1 = v1 - k0;
        sum0 += c0;
        sum1 += c1;
        sq0 += c0 * c0;
        sq1 += c1 * c1;
      }
      if (i < end) {
        const v = Math.fround(x[i]! + r[i]!);
        s[i] = v;
        sum0 += v - k0;
        sq0 += (v - k0) * (v - k0);
      }
    } else {
      for (; i + 1 < end; i += 2) {
        const c0 = x[i]! - k0;
        const c1 = x[i + 1]! - k0;
        sum0 += c0;
        sum1 += c1;
        sq0 += c0 * c0;
        sq1 += c1 * c1;
      }
      if (i < end) {
        sum0 += x[i]! - k0;
        sq0 += (x[i]! - k0) * (x[i]! - k0);
      }
    }
    const m = (sum0 + sum1) / d;
    const sq = (sq0 + sq1) / d;
    const variance = centered ? Math.max(0, sq - m * m) : sq;
    const mean = centered ? k0 + m : 0;
    const rstd = 1 / Math.sqrt(variance + eps);
    st[2 * row] = mean;
    st[2 * row + 1] = rstd;
    if (b) {
      for (let i = off, k = 0; i < end; i++, k++) y[i] = (s[i]! - mean) * (rstd * g[k]!) + b[k]!;
    } else {
      for (let i = off, k = 0; i < end; i++, k++) y[i] = (s[i]! - mean) * (rstd * g[k]!);
    }
  }
}

/** Backward over all rows into dx, and the float64 column sums dg, db. */
function normBackward(
  ds: HostArray | null,
  dy: HostArray,
  s: HostArray,
  g: HostArray,
  st: HostArray,
  dx: HostArray,
  accG: Float64Array,
  accB: Float64Array,
  d: number,
  centered: boolean,
): void {
  const rows = s.length / d;
  for (let row = 0, off = 0; row < rows; row++, off += d) {
    const end = off + d;
    const mean = st[2 * row]!;
    const rstd = st[2 * row + 1]!;
    let sg0 = 0;
    let sg1 = 0;
    let sgx0 = 0;
    let sgx1 = 0;
    let i = off;
    let k = 0;
    for (; i + 1 < end; i += 2, k += 2) {
      const xh0 = (s[i]! - mean) * rstd;
      const xh1 = (s[i + 1]! - mean) * rstd;
      const dy0 = dy[i]!;
      const dy1 = dy[i + 1]!;
      const gh0 = dy0 * g[k]!;
      const gh1 = dy1 * g[k + 1]!;
      sg0 += gh0;
      sg1 += gh1;
      sgx0 += gh0 * xh0;
      sgx1 += gh1 * xh1;
      accG[k]! += dy0 * xh0;
      accG[k + 1]! += dy1 * xh1;
      accB[k]! += dy0;
      accB[k + 1]! += dy1;
    }
    if (i < end) {
      const xh = (s[i]! - mean) * rstd;
      const gh = dy[i]! * g[k]!;
      sg0 += gh;
      sgx0 += gh * xh;
      accG[k]! += dy[i]! * xh;
      accB[k]! += dy[i]!;
    }
    // dx = ds + ρ·(ĝ − a − (s − μ)·ρ·c) = ds + ρ·g·dy − s·ρ²c + (μρ²c − ρa)
    const a = centered ? (sg0 + sg1) / d : 0;
    const k1 = (rstd * rstd * (sgx0 + sgx1)) / d;
    const k0 = mean * k1 - rstd * a;
    if (ds) {
      for (let i = off, k = 0; i < end; i++, k++) dx[i] = ds[i]! + rstd * g[k]! * dy[i]! - s[i]! * k1 + k0;
    } else {
      for (let i = off, k = 0; i < end; i++, k++) dx[i] = rstd * g[k]! * dy[i]! - s[i]! * k1 + k0;
    }
  }
}

/**
 * The forward host kernel of one norm variant: inputs (x, [r], g, [b]), outputs ([s], y, stats).
 *
 * @example
 * ```ts
 * registerHostKernel(normForwardSpec('AltarAddRmsNorm', { centered: false, residual: true }));
 * ```
 */
export function normForwardSpec(name: string, v: NormVariant): HostKernelSpec {
  const inputs = [...(v.residual ? ['x', 'r'] : ['x']), ...(v.centered ? ['g', 'b'] : ['g'])];
  return {
    name,
    inputs,
    outputs: ([xs]) => [
      ...(v.residual ? [{ shape: xs!, dtype: 'float32' as const }] : []),
      { shape: xs!, dtype: 'float32' },
      { shape: statsShape(xs!), dtype: 'float32' },
    ],
    compute(ins, outs, [xs], attrs: NamedAttrMap) {
      const x = ins[0]!;
      const r = v.residual ? ins[1]! : null;
      const gi = v.residual ? 2 : 1;
      const s = v.residual ? outs[0]! : x;
      const o = v.residual ? 1 : 0;
      const eps = attrs['eps'] as number;
      normForward(
        x,
        r,
        ins[gi]!,
        v.centered ? ins[gi + 1]! : null,
        s,
        outs[o]!,
        outs[o + 1]!,
        lastDim(xs!),
        eps,
        v.centered,
      );
    },
  };
}

/**
 * The backward host kernel of one norm variant: inputs ([ds], dy, s, g, stats), outputs (dx, dg, [db]).
 *
 * @example
 * ```ts
 * registerHostKernel(normBackwardSpec('AltarAddRmsNormGrad', { centered: false, residual: true }));
 * ```
 */
export function normBackwardSpec(name: string, v: NormVariant): HostKernelSpec {
  const inputs = [...(v.residual ? ['ds'] : []), 'dy', 's', 'g', 'stats'];
  return {
    name,
    inputs,
    outputs: (shapes) => {
      const o = v.residual ? 1 : 0;
      const xs = shapes[o + 1]!;
      const gs = shapes[o + 2]!;
      return [
        { shape: xs, dtype: 'float32' },
        { shape: gs, dtype: 'float32' },
        ...(v.centered ? [{ shape: gs, dtype: 'float32' as const }] : []),
      ];
    },
    compute(ins, outs, shapes) {
      const o = v.residual ? 1 : 0;
      const d = lastDim(shapes[o + 1]!);
      const accG = new Float64Array(d);
      const accB = new Float64Array(d);
      const ds = v.residual ? ins[0]! : null;
      normBackward(ds, ins[o]!, ins[o + 1]!, ins[o + 2]!, ins[o + 3]!, outs[0]!, accG, accB, d, v.centered);
      outs[1]!.set(accG);
      if (v.centered) outs[2]!.set(accB);
    },
  };
}
