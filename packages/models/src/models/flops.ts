/**
 * Analytic forward FLOPs (2 × multiply-adds; Kaplan et al. 2020, §2.1) shared by the models' `flops()`.
 * Only matmuls, convolutions, attention scores/mixing and SSM recurrences are counted; norms, activations,
 * softmax, embedding lookups and bias adds (O(width) per token) are not.
 */
import { AltarError } from '@altar/backend';
import type { MlpKind } from '../layers/mlp.js';

/** FLOPs per token of y = x W for W (rows × cols): 2·rows·cols. */
export function linearFlops(rows: number, cols: number): number {
  return 2 * rows * cols;
}

/** MLP per token: GELU 2·(d·h + h·d) = 4dh; SwiGLU adds the gate matrix, 6dh. */
export function mlpFlops(kind: MlpKind, d: number, hidden: number): number {
  return (kind === 'swiglu' ? 3 : 2) * linearFlops(d, hidden);
}

/** Σ_{p=a}^{c} min(p, w) for integers 1 ≤ a ≤ c (w = Infinity gives Σ p). */
export function sumMinContext(a: number, c: number, w: number): number {
  if (c < a) return 0;
  const tri = (lo: number, hi: number) => (hi < lo ? 0 : ((lo + hi) * (hi - lo + 1)) / 2);
  // positions a..min(c, w) attend p keys; positions max(a, w+1)..c attend w keys
  const far = Number.isFinite(w) ? Math.max(0, c - Math.max(a, w + 1) + 1) * w : 0;
  return tri(a, Math.min(c, w)) + far;
}

export function checkFlopsArgs(op: string, batch: number, seqLen: number, contextLen: number): void {
  for (const [k, v] of [
    ['batch', batch],
    ['seqLen', seqLen],
    ['contextLen', contextLen],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) throw new AltarError('BAD_ARG', `${op}: ${k} must be an integer ≥ 0, got ${v}`);
  }
  if (contextLen < seqLen) throw new AltarError('BAD_ARG', `${op}: contextLen ${contextLen} < seqLen ${seqLen}`);
}
