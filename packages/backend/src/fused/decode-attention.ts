/**
 * One step of cached causal attention for decoding, in one kernel (cpu and wasm host kernels):
 *
 *   qkv (B, 3D) = [q | k | v] of the new position, heads h = 0..H−1 of width dh = D/H each;
 *   kCache, vCache (B, H, P, dh) = keys/values of the P earlier positions (already rotated);
 *   rotary (RoFormer, rotate-half layout) at position P on q and k when `rope` is set;
 *   K' = [kCache; k], V' = [vCache; v];  y_h = softmax(q_h K'_hᵀ / √dh) V'_h.
 *
 * Returns y (B, D) with the heads already merged, and the grown caches K', V' (B, H, P+1, dh). It replaces
 * about 16 dispatches per layer and token (split, per-head reshapes and transposes, two concats, the
 * transposed product, scale, softmax, product, merge). No gradient: decoding only. Backends without the
 * kernel keep the model's own composition (`useFused` tells which).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';

/**
 * Kernel name of the fused cached-attention step.
 *
 * @example
 * ```ts
 * useFused(DECODE_ATTENTION_KERNEL); // true on cpu and wasm
 * ```
 */
export const DECODE_ATTENTION_KERNEL = 'AltarDecodeAttention';

/** The WGSL decode attention keeps a row's scores in workgroup memory: at most this many keys. */
export const WEBGPU_DECODE_MAX_KEYS = 2048;

/** Whether the WGSL kernel takes this step (keys held in workgroup memory; rotary tables as vec4 uniforms). */
export function webgpuDecodeAttentionFits(dh: number, keys: number, rope: boolean): boolean {
  return keys <= WEBGPU_DECODE_MAX_KEYS && dh <= 1024 && (!rope || (dh % 8 === 0 && dh <= 256));
}

/**
 * Whether a cached attention step with head width `dHead`, `keys` keys (cache + 1) and rotary or not runs
 * the fused kernel on the current backend (cpu and wasm: always; webgpu: within its limits).
 *
 * @example
 * ```ts
 * if (canFuseDecodeAttention(64, pos + 1, true)) [y, k, v] = decodeAttention(qkv, k, v, attrs);
 * ```
 */
export function canFuseDecodeAttention(dHead: number, keys: number, rope: boolean): boolean {
  if (!useFused(DECODE_ATTENTION_KERNEL)) return false;
  return tf.getBackend() !== 'webgpu' || webgpuDecodeAttentionFits(dHead, keys, rope);
}

/**
 * Attributes of `decodeAttention`.
 *
 * @example
 * ```ts
 * const attrs: DecodeAttentionAttrs = { nHeads: 4, rope: true, ropeBase: 10000 };
 * ```
 */
export interface DecodeAttentionAttrs {
  nHeads: number;
  /** Rotary embedding at the new position P (rotate-half, θ_i = base^(−2i/dh)). */
  rope: boolean;
  ropeBase: number;
}

/**
 * Rotary tables at position `pos` (RoFormer, rotate-half): cos and sin of pos·θ_i, θ_i = base^(−2i/dh), for
 * the dh/2 pairs, each rounded to float32 once as the models' `ropeTables` are. Shared by the host kernel
 * and the WGSL kernel's uniforms.
 */
export function ropeCosSin(dh: number, pos: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = dh / 2;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const ang = pos * Math.pow(base, (-2 * i) / dh);
    cos[i] = Math.cos(ang);
    sin[i] = Math.sin(ang);
  }
  return { cos, sin };
}

/** Rotate the pairs (x_i, x_{i+dh/2}) of one head vector in place by the tables. */
function rotate(x: Float64Array, cos: Float32Array, sin: Float32Array): void {
  const half = cos.length;
  for (let i = 0; i < half; i++) {
    const a = x[i]!;
    const b = x[i + half]!;
    x[i] = a * cos[i]! - b * sin[i]!;
    x[i + half] = a * sin[i]! + b * cos[i]!;
  }
}

export const decodeAttentionSpec: HostKernelSpec = {
  name: DECODE_ATTENTION_KERNEL,
  inputs: ['qkv', 'kCache', 'vCache'],
  outputs: ([qs, ks]) => {
    const [b, h, p, dh] = ks as [number, number, number, number];
    return [
      { shape: [qs![0]!, qs![1]! / 3], dtype: 'float32' },
      { shape: [b, h, p + 1, dh], dtype: 'float32' },
      { shape: [b, h, p + 1, dh], dtype: 'float32' },
    ];
  },
  compute([qkv, kc, vc], [y, ko, vo], [, ks], attrs) {
    const [B, H, P, dh] = ks as [number, number, number, number];
    const { rope, ropeBase } = attrs as unknown as DecodeAttentionAttrs;
    const D = H * dh;
    const scale = 1 / Math.sqrt(dh);
    const q = new Float64Array(dh);
    const k = new Float64Array(dh);
    const s = new Float64Array(P + 1);
    const tables = rope ? ropeCosSin(dh, P, ropeBase) : null; // once per call, not per head
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const row = b * 3 * D + h * dh;
        for (let d = 0; d < dh; d++) {
          q[d] = qkv![row + d]!;
          k[d] = qkv![row + D + d]!;
        }
        if (tables) {
          rotate(q, tables.cos, tables.sin);
          rotate(k, tables.cos, tables.sin);
        }
        // Grow the caches: P old rows, then the new key / value.
        const src = (b * H + h) * P * dh;
        const dst = (b * H + h) * (P + 1) * dh;
        (ko as Float32Array).set((kc as Float32Array).subarray(src, src + P * dh), dst);
        (vo as Float32Array).set((vc as Float32Array).subarray(src, src + P * dh), dst);
        for (let d = 0; d < dh; d++) {
          ko![dst + P * dh + d] = k[d]!;
          vo![dst + P * dh + d] = qkv![row + 2 * D + d]!;
        }
        // Scores over the P + 1 keys (float32 keys as stored), max-shifted softmax.
        let mx = -Infinity;
        for (let j = 0; j <= P; j++) {
          let dot = 0;
          const kr = dst + j * dh;
          for (let d = 0; d < dh; d++) dot += q[d]! * ko![kr + d]!;
          s[j] = dot * scale;
          if (s[j]! > mx) mx = s[j]!;
        }
        let z = 0;
        for (let j = 0; j <= P; j++) {
          s[j] = Math.exp(s[j]! - mx);
          z += s[j]!;
        }
        const out = b * D + h * dh;
        for (let j = 0; j <= P; j++) {
          const w = s[j]! / z;
          const vr = dst + j * dh;
          for (let d = 0; d < dh; d++) y![out + d]! += w * vo![vr + d]!;
        }
      }
    }
  },
};

/**
 * Fused cached-attention step: qkv (B, 3D), caches (B, H, P, dh) → [y (B, D), K', V'] (see the file
 * comment). Call only where `canFuseDecodeAttention` holds.
 *
 * @example
 * ```ts
 * const [y, k1, v1] = decodeAttention(qkv, k0, v0, { nHeads: 4, rope: false, ropeBase: 10000 });
 * ```
 */
export function decodeAttention(
  qkv: tf.Tensor,
  kCache: tf.Tensor,
  vCache: tf.Tensor,
  attrs: DecodeAttentionAttrs,
): [tf.Tensor2D, tf.Tensor4D, tf.Tensor4D] {
  const [B, threeD] = qkv.shape as [number, number];
  const [b2, h, , dh] = kCache.shape as [number, number, number, number];
  if (
    qkv.rank !== 2 ||
    kCache.rank !== 4 ||
    !tf.util.arraysEqual(kCache.shape, vCache.shape) ||
    b2 !== B ||
    h !== attrs.nHeads ||
    h * dh * 3 !== threeD
  ) {
    throw new AltarError(
      'BAD_SHAPE',
      `decodeAttention: need qkv (B, 3·H·dh) and caches (B, H, P, dh) with H = ${attrs.nHeads}, got [${qkv.shape}], [${kCache.shape}], [${vCache.shape}]`,
    );
  }
  return tf
    .engine()
    .runKernel(DECODE_ATTENTION_KERNEL, { qkv, kCache, vCache }, attrs as unknown as NamedAttrMap) as unknown as [
    tf.Tensor2D,
    tf.Tensor4D,
    tf.Tensor4D,
  ];
}
