/**
 * Fused softmax attention as host kernels over typed arrays (the cpu backend; wasm registers its own kernel,
 * attention-wasm.ts). FlashAttention-2 (Dao 2023) without the tiling a GPU needs: for each query row the
 * keys of its band are streamed once with an online softmax (running max m and sum ℓ, Milakov & Gimelshein
 * 2018), accumulating in float64. The forward returns O and the row log-sum-exp L = m + log ℓ of the scaled
 * scores (and an empty third output, the slot where wasm saves P); the backward recomputes
 * P_ij = exp(s·S_ij − L_i) from L (nothing (N, N) is kept in between):
 *
 *   D_i = Σ_d dO_id O_id,  dV_j += P_ij dO_i,  dS_ij = P_ij (dO_i · V_j − D_i),
 *   dQ_i += s·dS_ij K_j,   dK_j += s·dS_ij Q_i.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import type { HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';

/**
 * Kernel attributes of the fused attention: causal or not, window W (0: none; requires causal) and the
 * score scale s (usually 1/√dh).
 *
 * @example
 * ```ts
 * const attrs: AttentionKernelAttrs = { causal: true, window: 0, scale: 0.125 };
 * ```
 */
export interface AttentionKernelAttrs {
  causal: boolean;
  window: number;
  scale: number;
}

/**
 * The keys query i sees: [lo, hi] inclusive (causal: j ≤ i; window W: j > i − W).
 *
 * @example
 * ```ts
 * keyBand(5, 8, { causal: true, window: 3, scale: 1 }); // [3, 5]
 * ```
 */
export function keyBand(i: number, n: number, a: AttentionKernelAttrs): [number, number] {
  if (!a.causal) return [0, n - 1];
  return [a.window > 0 ? Math.max(0, i - a.window + 1) : 0, i];
}

/**
 * The queries that see key j: [lo, hi] inclusive (the transpose of keyBand).
 *
 * @example
 * ```ts
 * queryBand(3, 8, { causal: true, window: 3, scale: 1 }); // [3, 5]
 * ```
 */
export function queryBand(j: number, n: number, a: AttentionKernelAttrs): [number, number] {
  if (!a.causal) return [0, n - 1];
  return [j, a.window > 0 ? Math.min(n - 1, j + a.window - 1) : n - 1];
}

const attrsOf = (attrs: NamedAttrMap): AttentionKernelAttrs => attrs as unknown as AttentionKernelAttrs;

export const attentionSpec: HostKernelSpec = {
  name: FUSED_KERNELS.attention,
  inputs: ['q', 'k', 'v'],
  outputs: ([qs]) => [
    { shape: qs!, dtype: 'float32' },
    { shape: qs!.slice(0, 3), dtype: 'float32' },
    { shape: [0], dtype: 'float32' }, // saved probabilities: wasm only (see attention-wasm.ts)
  ],
  compute([q, k, v], [o, lse], [qs], attrs) {
    const [b, h, n, dh] = qs as [number, number, number, number];
    const a = attrsOf(attrs);
    const acc = new Float64Array(dh);
    const qi = new Float64Array(dh);
    for (let bh = 0; bh < b * h; bh++) {
      const base = bh * n * dh;
      for (let i = 0; i < n; i++) {
        const [lo, hi] = keyBand(i, n, a);
        const qo = base + i * dh;
        for (let d = 0; d < dh; d++) qi[d] = q![qo + d]! * a.scale;
        acc.fill(0);
        let m = -Infinity;
        let l = 0;
        for (let j = lo; j <= hi; j++) {
          const ko = base + j * dh;
          let s = 0;
          for (let d = 0; d < dh; d++) s += qi[d]! * k![ko + d]!;
          // Online softmax: rescale the running sum and accumulator when the max grows.
          if (s > m) {
            const c = Math.exp(m - s);
            l *= c;
            for (let d = 0; d < dh; d++) acc[d]! *= c;
            m = s;
          }
          const p = Math.exp(s - m);
          l += p;
          for (let d = 0; d < dh; d++) acc[d]! += p * v![ko + d]!;
        }
        for (let d = 0; d < dh; d++) o![qo + d] = acc[d]! / l;
        lse![bh * n + i] = m + Math.log(l);
      }
    }
  },
};

export const attentionGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.attentionGrad,
  inputs: ['dy', 'q', 'k', 'v', 'o', 'lse', 'probs'],
  outputs: ([, qs]) => [0, 1, 2].map(() => ({ shape: qs!, dtype: 'float32' as const })),
  compute([dy, q, k, v, o, lse], [dq, dk, dv], [, qs], attrs) {
    const [b, h, n, dh] = qs as [number, number, number, number];
    const a = attrsOf(attrs);
    const gq = new Float64Array(dh);
    const gk = new Float64Array(n * dh);
    const gv = new Float64Array(n * dh);
    for (let bh = 0; bh < b * h; bh++) {
      const base = bh * n * dh;
      gk.fill(0);
      gv.fill(0);
      for (let i = 0; i < n; i++) {
        const [lo, hi] = keyBand(i, n, a);
        const qo = base + i * dh;
        let dI = 0;
        for (let d = 0; d < dh; d++) dI += dy![qo + d]! * o![qo + d]!;
        const li = lse![bh * n + i]!;
        gq.fill(0);
        for (let j = lo; j <= hi; j++) {
          const ko = base + j * dh;
          let s = 0;
          let dp = 0;
          for (let d = 0; d < dh; d++) {
            s += q![qo + d]! * k![ko + d]!;
            dp += dy![qo + d]! * v![ko + d]!;
          }
          const p = Math.exp(s * a.scale - li);
          const ds = p * (dp - dI) * a.scale;
          const kr = j * dh;
          for (let d = 0; d < dh; d++) {
            gv[kr + d]! += p * dy![qo + d]!;
            gq[d]! += ds * k![ko + d]!;
            gk[kr + d]! += ds * q![qo + d]!;
          }
        }
        for (let d = 0; d < dh; d++) dq![qo + d] = gq[d]!;
      }
      for (let t = 0; t < n * dh; t++) {
        dk![base + t] = gk[t]!;
        dv![base + t] = gv[t]!;
      }
    }
  },
};
