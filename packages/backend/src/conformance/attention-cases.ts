/**
 * Conformance cases of the fused attention (fused/attention.ts): each backend's kernel (host kernel on cpu,
 * XNNPACK products on wasm, WGSL flash attention on webgpu, the composition elsewhere) must agree with the cpu
 * backend's, forward and gradient with respect to q, k and v.
 */
import { attentionFused, type AttentionFusedOptions } from '../fused/attention.js';
import type { InputSpec, OpCase } from './ops.js';

const N = (shape: number[]): InputSpec => ({ shape });

const attention = (name: string, shape: number[], opts: AttentionFusedOptions): OpCase => ({
  name: `fused attention(${name})`,
  inputs: [N(shape), N(shape), N(shape)],
  fn: (q, k, v) => attentionFused(q as never, k as never, v as never, opts),
  grad: true,
});

/**
 * The fused-attention cases of the conformance catalogue: causal, bidirectional, sliding (N > 2W and not a
 * multiple of W; W < N ≤ 2W), odd N, dh 8 and 16, B·H > 1. N = 70 spans two 64-row WGSL workgroups.
 *
 * @example
 * ```ts
 * const cases = [...OP_CASES_BEFORE, ...ATTENTION_CASES];
 * ```
 */
export const ATTENTION_CASES: OpCase[] = [
  attention('causal, odd N, dh 8', [2, 2, 7, 8], { causal: true }),
  attention('bidirectional, dh 16', [1, 3, 5, 16], { causal: false }),
  attention('sliding W 3, N 11', [2, 1, 11, 8], { causal: true, window: 3 }),
  attention('sliding W 4, N 7', [1, 2, 7, 16], { causal: true, window: 4 }),
  attention('sliding W 16, N 70', [1, 2, 70, 8], { causal: true, window: 16 }),
  attention('bidirectional, N 70', [1, 1, 70, 8], { causal: false }),
  attention('causal, N 70', [1, 2, 70, 8], { causal: true }),
];
