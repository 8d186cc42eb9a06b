/**
 * Faster paths for wasm kernels that tfjs 4.22 implements slowly, found by the model benchmarks:
 *
 * - BatchMatMul with transposeA / transposeB runs 10–60× slower than an explicit Transpose followed by
 *   a plain product (1024×256×1024: 20 ms plain, 234 ms transposeB, 1243 ms transposeA). tfjs's own
 *   matMul gradient uses the transposed forms, so every backward pass paid it. The wrapper transposes
 *   explicitly and calls the native product.
 * - BatchMatMul with a batch dimension > 1 runs at ~2 GFLOP/s against ~27 for one product (the
 *   attention scores of every head): the wrapper runs one native product per batch entry on slices
 *   and concatenates, ~10× faster for attention-sized products.
 * - UnsortedSegmentSum (gather's gradient) is missing on wasm, and the cpu kernel that the host fallback
 *   would run is O(segments × rows × width). This one is O(rows × width).
 */
import {
  BatchMatMul,
  Concat,
  Slice,
  getKernel,
  registerKernel,
  Transpose,
  unregisterKernel,
  UnsortedSegmentSum,
  util,
  type BatchMatMulAttrs,
  type DataType,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';

interface WasmLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo;
  disposeData(dataId: object): boolean;
}

/** out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped (as TensorFlow does). */
export function unsortedSegmentSumReference(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  inner: number,
  numSegments: number,
  out: Float32Array | Int32Array,
): void {
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += x[src + j]!;
  }
}

const hostSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const b = backend as unknown as WasmLike;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = util.sizeFromShape(innerShape);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  unsortedSegmentSumReference(b.readSync(x.dataId), b.readSync(segmentIds.dataId), inner, numSegments, out);
  return b.makeOutput([numSegments, ...innerShape], x.dtype, undefined, out);
};

/** Install the faster wasm paths. Idempotent; returns the kernels installed. */
export function registerWasmFastPaths(): string[] {
  const installed: string[] = [];
  const native = getKernel(BatchMatMul, 'wasm');
  const transpose = getKernel(Transpose, 'wasm');
  if (native && transpose && !(native.kernelFunc as { altarWrapped?: boolean }).altarWrapped) {
    const nativeFn = native.kernelFunc;
    const slice = getKernel(Slice, 'wasm')!;
    const concat = getKernel(Concat, 'wasm')!;
    const wrapped: KernelFunc & { altarWrapped?: boolean } = ({ inputs, backend, attrs }) => {
      const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
      const plain = { transposeA: false, transposeB: false };
      const w = backend as unknown as WasmLike;
      // a: (..., M, K), b: (..., K, N), no transposes. Per-entry products when both have one batch dim
      // of the same size > 1 (the rank-3 products that attention makes).
      const product = (x: TensorInfo, y: TensorInfo): TensorInfo => {
        const batch = x.shape.length === 3 && y.shape.length === 3 && x.shape[0] === y.shape[0] ? x.shape[0]! : 1;
        const [, m = 0, k = 0] = x.shape;
        const n = y.shape[2] ?? 0;
        // Tiny products stay native: slicing costs more than it saves below ~64k multiply-adds each.
        if (batch <= 1 || m * k * n < 65536) return nativeFn({ inputs: { a: x, b: y }, backend, attrs: plain }) as TensorInfo;
        const parts: TensorInfo[] = [];
        try {
          for (let i = 0; i < batch; i++) {
            const xi = slice.kernelFunc({ inputs: { x }, backend, attrs: { begin: [i, 0, 0], size: [1, m, k] } }) as TensorInfo;
            const yi = slice.kernelFunc({ inputs: { x: y }, backend, attrs: { begin: [i, 0, 0], size: [1, k, n] } }) as TensorInfo;
            parts.push(nativeFn({ inputs: { a: xi, b: yi }, backend, attrs: plain }) as TensorInfo);
            w.disposeData(xi.dataId);
            w.disposeData(yi.dataId);
          }
          // Concat's kernel takes its inputs as an array.
          return concat.kernelFunc({ inputs: parts as unknown as Record<string, TensorInfo>, backend, attrs: { axis: 0 } }) as TensorInfo;
        } finally {
          for (const p of parts) w.disposeData(p.dataId);
        }
      };
      const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
      if (!transposeA && !transposeB) return product(a, b);
      const swapLast = (t: TensorInfo): TensorInfo => {
        const r = t.shape.length;
        const perm = [...Array(r).keys()];
        perm[r - 1] = r - 2;
        perm[r - 2] = r - 1;
        return transpose.kernelFunc({ inputs: { x: t }, backend, attrs: { perm } }) as TensorInfo;
      };
      const a2 = transposeA ? swapLast(a) : a;
      const b2 = transposeB ? swapLast(b) : b;
      try {
        return product(a2, b2);
      } finally {
        const w = backend as unknown as WasmLike;
        if (a2 !== a) w.disposeData(a2.dataId);
        if (b2 !== b) w.disposeData(b2.dataId);
      }
    };
    wrapped.altarWrapped = true;
    unregisterKernel(BatchMatMul, 'wasm');
    registerKernel({ kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: wrapped, ...(native.setupFunc ? { setupFunc: native.setupFunc } : {}) });
    installed.push(BatchMatMul);
  }
  const seg = getKernel(UnsortedSegmentSum, 'wasm');
  if (!seg || (seg.kernelFunc as { altarHost?: boolean }).altarHost !== true) {
    if (seg) unregisterKernel(UnsortedSegmentSum, 'wasm');
    const fn: KernelFunc & { altarHost?: boolean } = (args) => hostSegmentSum(args);
    fn.altarHost = true;
    registerKernel({ kernelName: UnsortedSegmentSum, backendName: 'wasm', kernelFunc: fn });
    installed.push(UnsortedSegmentSum);
  }
  return installed;
}
