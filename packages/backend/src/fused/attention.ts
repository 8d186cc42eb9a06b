/**
 * Fused softmax attention, forward and backward (FlashAttention-2, Dao 2023): o = softmax(s·Q Kᵀ + mask) V
 * for q, k, v (B, H, N, dh), causal or bidirectional, optionally a sliding window W (Beltagy et al. 2020):
 * query i sees keys max(0, i−W+1)..i. The forward kernel returns o and the row log-sum-exp L (B, H, N); the
 * backward kernel recomputes the probabilities from L, so no (N, N) tensor is kept between the two (except on
 * wasm, whose forward also returns P: there recomputing Q Kᵀ cost more than keeping it, as the composition does).
 *
 *   cpu     host kernels, online softmax in float64 (attention-host.ts)
 *   wasm    SIMD batched products that skip causal attention's zero and masked triangles, XNNPACK's softmax,
 *           one JS pass each way (attention-wasm.ts); attentionFused uses it for dense causal attention with N
 *           and dh multiples of 8, and the composition elsewhere, where it was no faster (see canFuseAttention)
 *   webgpu  WGSL flash attention, dh ≤ 128 (webgpu-attention.ts)
 *   other   the composition (attention-composition.ts), as with ALTAR_FUSED=0
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { attentionGradSpec, attentionSpec, type AttentionKernelAttrs } from './attention-host.js';
import { attentionGradWasm, attentionWasm } from './attention-wasm.js';
import { attentionComposition } from './attention-composition.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';

export { attentionComposition } from './attention-composition.js';

/**
 * The WGSL kernels keep a head vector per thread: head widths above this run the composition on webgpu.
 *
 * @example
 * ```ts
 * const fusedOnWebgpu = dh <= WEBGPU_ATTENTION_MAX_DH;
 * ```
 */
export const WEBGPU_ATTENTION_MAX_DH = 128;

/**
 * Options of {@link attentionFused}: causal or not, sliding window W (causal only) and the score scale
 * (default 1/√dh).
 *
 * @example
 * ```ts
 * const opts: AttentionFusedOptions = { causal: true, window: 32 };
 * ```
 */
export interface AttentionFusedOptions {
  /** Query i sees keys j ≤ i only (autoregressive); false: every key (bidirectional, denoisers). */
  causal: boolean;
  /** Query i sees keys i−W+1..i. Omitted or Infinity: no window. */
  window?: number;
  /** Multiplies the scores before the softmax; default 1/√dh. */
  scale?: number;
}

/**
 * The kernel attributes of a call, checked: window an integer ≥ 1 (or none, 0), only with causal; scale finite.
 *
 * @example
 * ```ts
 * attentionAttrs({ causal: true, window: 4 }, 16); // { causal: true, window: 4, scale: 0.25 }
 * ```
 */
export function attentionAttrs(opts: AttentionFusedOptions, dh: number): AttentionKernelAttrs {
  const w = opts.window ?? Infinity;
  if (w !== Infinity && !(Number.isInteger(w) && w >= 1)) {
    throw new AltarError('BAD_ARG', `attentionFused: window must be an integer ≥ 1 (or omitted), got ${w}`);
  }
  if (w !== Infinity && !opts.causal) {
    throw new AltarError('BAD_ARG', `attentionFused: a window (${w}) needs causal: true`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(dh);
  if (!Number.isFinite(scale)) throw new AltarError('BAD_ARG', `attentionFused: scale must be finite, got ${scale}`);
  return { causal: opts.causal, window: w === Infinity ? 0 : w, scale };
}

/**
 * What decides the wasm kernel: the sequence length and the mask (see {@link canFuseAttention}).
 *
 * @example
 * ```ts
 * const g: AttentionGeometry = { n: 256, causal: true }; // window: none
 * ```
 */
export interface AttentionGeometry {
  /** Sequence length N. */
  n: number;
  causal: boolean;
  /** Sliding window W (causal only); 0 or absent: none. */
  window?: number;
}

/**
 * Whether attention with head width `dh` runs the fused kernel on the current backend. cpu: always; webgpu:
 * dh ≤ 128; wasm: dense causal attention (no window, or N ≤ 2W) with N and dh multiples of 8, where the kernel's
 * triangular SIMD products beat the composition (1.18× forward + backward at B 16 H 4 N 256 dh 64,
 * bench/attention.bench.ts), given `geometry`; elsewhere on wasm (equal or slower there), other backends and
 * ALTAR_FUSED=0: never.
 *
 * @example
 * ```ts
 * canFuseAttention(64); // true on cpu and webgpu
 * canFuseAttention(64, { n: 256, causal: true }); // also true on wasm
 * ```
 */
export function canFuseAttention(dh: number, geometry?: AttentionGeometry): boolean {
  if (!useFused(FUSED_KERNELS.attention)) return false;
  if (tf.getBackend() === 'wasm') {
    if (!geometry?.causal) return false;
    const { n } = geometry;
    const w = geometry.window ?? 0;
    return n % 8 === 0 && dh % 8 === 0 && (w === 0 || n <= 2 * w);
  }
  return tf.getBackend() !== 'webgpu' || dh <= WEBGPU_ATTENTION_MAX_DH;
}

/**
 * Softmax attention softmax(s·Q Kᵀ + mask) V: q, k, v (B, H, N, dh) → (B, H, N, dh); causal, bidirectional
 * or a causal sliding window. One kernel forward and one backward where available (see the file comment),
 * the composition elsewhere; the two agree to float32 rounding.
 *
 * @example
 * ```ts
 * const o = attentionFused(q, k, v, { causal: true, window: 64 }); // (B, H, N, dh)
 * ```
 */
export function attentionFused(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  opts: AttentionFusedOptions,
): tf.Tensor4D {
  if (
    q.rank !== 4 ||
    !tf.util.arraysEqual(q.shape, k.shape) ||
    !tf.util.arraysEqual(q.shape, v.shape) ||
    q.shape.some((d) => d < 1)
  ) {
    throw new AltarError(
      'BAD_SHAPE',
      `attentionFused: need q, k, v of one shape (B, H, N, dh), got [${q.shape}], [${k.shape}], [${v.shape}]`,
    );
  }
  const dh = q.shape[3];
  const a = attentionAttrs(opts, dh);
  if (!canFuseAttention(dh, { n: q.shape[2], causal: a.causal, window: a.window })) {
    return attentionComposition(q, k, v, a.causal, a.window, a.scale);
  }
  return tf.tidy(() => {
    const [o] = tf
      .engine()
      .runKernel(FUSED_KERNELS.attention, { q, k, v }, a as unknown as NamedAttrMap) as unknown as tf.Tensor4D[];
    return o!;
  });
}

/**
 * The host specs of the forward and backward kernels (cpu; wasm through its own kernel functions), for the
 * fused-op registration list.
 *
 * @example
 * ```ts
 * for (const spec of ATTENTION_SPECS) registerHostKernel(spec);
 * ```
 */
export const ATTENTION_SPECS: HostKernelSpec[] = [
  { ...attentionSpec, wasm: attentionWasm },
  { ...attentionGradSpec, wasm: attentionGradWasm },
];

/**
 * Register the gradient of the fused attention: the backward kernel, from the saved q, k, v, o and L (and on
 * wasm the forward's probabilities; an empty tensor elsewhere).
 *
 * @example
 * ```ts
 * registerAttentionGradient(); // once, with the other fused gradients
 * ```
 */
export function registerAttentionGradient(): void {
  registerGradient({
    kernelName: FUSED_KERNELS.attention,
    inputsToSave: ['q', 'k', 'v'],
    outputsToSave: [true, true, true],
    gradFunc: (dy, saved, attrs) => {
      const [q, k, v, o, lse, probs] = saved as tf.Tensor[] as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
      // Only o reaches callers, so L's gradient is always absent (null).
      const dO = (Array.isArray(dy) ? dy[0] : dy) ?? tf.zerosLike(o);
      const [dq, dk, dv] = tf
        .engine()
        .runKernel(FUSED_KERNELS.attentionGrad, { dy: dO, q, k, v, o, lse, probs }, attrs) as unknown as tf.Tensor[];
      return { q: () => dq!, k: () => dk!, v: () => dv! };
    },
  });
}
