/**
 * wasm's BatchMatMul, wrapped (see wasm-fast-paths.ts):
 *
 * - altar's SIMD product (fused/bmm-wasm.ts) wherever M is a multiple of 4 and N of 8, batched or not: B packed
 *   into panels at a fraction of XNNPACK's repacking cost, one call for every entry, fused multiply-adds where
 *   the engine has relaxed SIMD ((4096, 256) @ (256, 1024) with a new B: 97 → 47 ms). A transposed B is read in
 *   place; a transposed A is copied first: read in place it is strided, and re-read for every panel of B
 *   ((4096, 256)ᵀ @ (4096, 1024): 113 ms in place, 65 ms transposed first).
 * - Elsewhere, tfjs's transposed forms run 10–60× slower than an explicit Transpose followed by a plain product
 *   (1024×256×1024: 20 ms plain, 234 ms transposeB, 1243 ms transposeA), so the wrapper transposes explicitly;
 *   and tfjs's batched path (~2 GFLOP/s) is replaced by one native product per batch entry on slices,
 *   concatenated (any rank with equal leading dims).
 */
import {
  Concat,
  getKernel,
  Reshape,
  Transpose,
  util,
  type BatchMatMulAttrs,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { bmmWasm, type WasmHeap } from '../fused/bmm-wasm.js';

/**
 * The wrapped BatchMatMul over `nativeFn` (tfjs-wasm's). With `altarPaths` false (ALTAR_FUSED=0) altar's product
 * and the reshaped rank > 3 path stay off. `slice` is a Slice kernel that copies only what it returns.
 *
 * @example
 * ```ts
 * registerKernel({ kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: wasmBatchMatMul(native, true, slice) });
 * ```
 */
export function wasmBatchMatMul(nativeFn: KernelFunc, altarPaths: boolean, slice: KernelFunc): KernelFunc {
  const concat = getKernel(Concat, 'wasm')!;
  const reshape = getKernel(Reshape, 'wasm')!;
  const plain = { transposeA: false, transposeB: false };
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const w = backend as unknown as WasmHeap;
    const dispose = (t: TensorInfo) => w.disposeData(t.dataId);
    const native = (a: TensorInfo, b: TensorInfo) =>
      nativeFn({ inputs: { a, b }, backend, attrs: plain }) as TensorInfo;

    /** altar's product of a (…, M, K) and b (…, K, N), or of bᵀ stored as (…, N, K); null where it does not apply. */
    const viaBmm = (x: TensorInfo, y: TensorInfo, ty: boolean): TensorInfo | null => {
      const r = x.shape.length;
      const sameLead = y.shape.length === r && x.shape.slice(0, -2).every((d, i) => d === y.shape[i]);
      const m = x.shape[r - 2] ?? 0;
      const n = y.shape[r - (ty ? 2 : 1)] ?? 0;
      const ok = altarPaths && r >= 2 && sameLead && m > 0 && n > 0 && m % 4 === 0 && n % 8 === 0;
      const bmm = ok && x.dtype === 'float32' && y.dtype === 'float32' ? bmmWasm(w) : null;
      return bmm ? bmm(x, y, [...x.shape.slice(0, -2), m, n], 0, false, ty) : null;
    };

    // x: (..., M, K), y: (..., K, N), no transposes. Per-entry products when both have the same leading (batch)
    // dims with a product > 1: the leading dims are folded into one (a free reshape), each entry runs natively,
    // and the result is reshaped back.
    const perEntry = (x0: TensorInfo, y0: TensorInfo): TensorInfo => {
      const r = x0.shape.length;
      const sameLead = r >= 3 && y0.shape.length === r && x0.shape.slice(0, -2).every((d, i) => d === y0.shape[i]);
      const batch = sameLead ? util.sizeFromShape(x0.shape.slice(0, -2)) : 1;
      const [m, k, n] = [x0.shape[r - 2] ?? 0, x0.shape[r - 1] ?? 0, y0.shape[r - 1] ?? 0];
      // Tiny products stay native: slicing costs more than it saves below ~64k multiply-adds each.
      if (batch <= 1 || m * k * n < 65536 || (r > 3 && !altarPaths)) return native(x0, y0);
      if (r > 3) {
        const x = reshape.kernelFunc({ inputs: { x: x0 }, backend, attrs: { shape: [batch, m, k] } }) as TensorInfo;
        const y = reshape.kernelFunc({ inputs: { x: y0 }, backend, attrs: { shape: [batch, k, n] } }) as TensorInfo;
        try {
          const out = perEntry(x, y);
          const shape = [...x0.shape.slice(0, -2), m, n];
          const shaped = reshape.kernelFunc({ inputs: { x: out }, backend, attrs: { shape } }) as TensorInfo;
          dispose(out);
          return shaped;
        } finally {
          dispose(x);
          dispose(y);
        }
      }
      const parts: TensorInfo[] = [];
      try {
        for (let i = 0; i < batch; i++) {
          const xi = slice({ inputs: { x: x0 }, backend, attrs: { begin: [i, 0, 0], size: [1, m, k] } }) as TensorInfo;
          const yi = slice({ inputs: { x: y0 }, backend, attrs: { begin: [i, 0, 0], size: [1, k, n] } }) as TensorInfo;
          parts.push(native(xi, yi));
          dispose(xi);
          dispose(yi);
        }
        // Concat's kernel takes its inputs as an array.
        const inputsArray = parts as unknown as Record<string, TensorInfo>;
        return concat.kernelFunc({ inputs: inputsArray, backend, attrs: { axis: 0 } }) as TensorInfo;
      } finally {
        parts.forEach(dispose);
      }
    };

    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const direct = transposeA ? null : viaBmm(a, b, transposeB);
    if (direct) return direct;
    const swapLast = (t: TensorInfo): TensorInfo => {
      const perm = [...t.shape.keys()];
      [perm[perm.length - 1], perm[perm.length - 2]] = [perm.length - 2, perm.length - 1];
      return getKernel(Transpose, 'wasm')!.kernelFunc({ inputs: { x: t }, backend, attrs: { perm } }) as TensorInfo; // altar's fast path
    };
    const a2 = transposeA ? swapLast(a) : a;
    const b2 = transposeB ? swapLast(b) : b;
    try {
      return (transposeA ? viaBmm(a2, b2, false) : null) ?? perEntry(a2, b2);
    } finally {
      if (a2 !== a) dispose(a2);
      if (b2 !== b) dispose(b2);
    }
  };
}
