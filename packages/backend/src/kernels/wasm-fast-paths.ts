/**
 * Faster paths for wasm kernels that tfjs 4.22 implements slowly, found by the model benchmarks:
 *
 * - BatchMatMul: altar's SIMD product where the shapes allow, else explicit transposes and one native product
 *   per batch entry (wasm-matmul.ts).
 * - UnsortedSegmentSum (gather's gradient) is missing on wasm, and the cpu kernel that the host fallback
 *   would run is O(segments × rows × width). This one is O(rows × width).
 * - Slice, SplitV and Unpack copy the WHOLE input out of the heap for every call before taking their part;
 *   these copy only what they return (the per-entry products above slice once per entry).
 * - Identity copies, where cpu and webgpu share the buffer; the engine clones every tensor a gradient saves.
 * - Transpose of the last two axes runs as a SIMD module (transpose-wasm.ts, sides multiples of 4; 2.2× the
 *   32×32-blocked JS loop that remains for other shapes, itself 3× tfjs's for (4096, 1024)).
 */
import { transposeWasm } from './transpose-wasm.js';
import { wasmBatchMatMul } from './wasm-matmul.js';
import {
  BatchMatMul,
  Slice,
  getKernel,
  registerKernel,
  Transpose,
  unregisterKernel,
  UnsortedSegmentSum,
  util,
  type SliceAttrs,
  type TransposeAttrs,
  type SplitVAttrs,
  type UnpackAttrs,
  backend_util,
  SplitV,
  Unpack,
  Identity,
  slice_util,
  type DataType,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import { envVar } from '../env.js';

interface WasmLike {
  readSync(dataId: object): ArrayLike<number>;
  /** A zero-copy view of a tensor's bytes in the wasm heap (invalid after the next allocation). */
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo;
  disposeData(dataId: object): boolean;
  /** The Emscripten module; its memory is the heap the SIMD transpose works on. */
  wasm?: { asm?: { memory?: unknown } };
}

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]; ids outside [0, numSegments) are dropped (as TensorFlow does).
 *
 * @example
 * ```ts
 * const out = new Float32Array(2);
 * unsortedSegmentSumReference([1, 2, 3], [1, 0, 1], 1, 2, out); // out = [2, 4]
 * ```
 */
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

/**
 * out = x[begin : begin + size] for any rank, copying only the selected elements: whole trailing blocks
 * that are contiguous in x are copied with one `set` each. tfjs 4.22's wasm Slice first copies the
 * WHOLE input out of the heap (readSync) for every call: 64 slices of a (64, 256, 256) tensor took
 * 140–220 ms instead of well under 1 ms, and SplitV and every per-entry matmul below paid it.
 */
export function sliceInto(
  x: Float32Array | Int32Array | Uint8Array,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  out: Float32Array | Int32Array | Uint8Array,
): void {
  const rank = shape.length;
  const strides = util.computeStrides([...shape]);
  // Fold trailing dims that are taken whole into one contiguous run.
  let inner = 1;
  let d = rank - 1;
  while (d >= 0 && begin[d] === 0 && size[d] === shape[d]) inner *= shape[d--]!;
  if (d < 0) {
    out.set(x.subarray(0, inner));
    return;
  }
  const run = size[d]! * inner; // contiguous elements per copy
  const startD = begin[d]! * inner;
  const outer = size.slice(0, d);
  const count = util.sizeFromShape(outer);
  const idx = new Array<number>(d).fill(0);
  for (let r = 0; r < count; r++) {
    let off = startD;
    for (let j = 0; j < d; j++) off += (begin[j]! + idx[j]!) * strides[j]!;
    out.set(x.subarray(off, off + run), r * run);
    for (let j = d - 1; j >= 0; j--) {
      if (++idx[j]! < outer[j]!) break;
      idx[j] = 0;
    }
  }
}

const fastSlice: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { begin, size } = attrs as unknown as SliceAttrs;
  const [b, s] = slice_util.parseSliceParams(x as never, begin, size) as [number[], number[]];
  const w = backend as unknown as WasmLike;
  const out = w.makeOutput(s, x.dtype);
  if (util.sizeFromShape(s) === 0) return out;
  // Views are taken after the allocation (which may grow, and so move, the heap).
  sliceInto(w.typedArrayFromHeap(x), x.shape, b, s, w.typedArrayFromHeap(out));
  return out;
};

/** SplitV through `fastSlice` (tfjs's wasm SplitV copies the whole input once per output). */
const fastSplitV: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const ax = util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((n) => {
    const size = [...x.shape];
    size[ax] = n;
    const out = fastSlice({ inputs: { x }, backend, attrs: { begin: [...begin], size } }) as TensorInfo;
    begin[ax]! += n;
    return out;
  });
};

/** Unpack (tf.unstack) through `fastSlice`: tfjs's wasm Unpack copies the whole input once per output. */
const fastUnpack: KernelFunc = ({ inputs, backend, attrs }) => {
  const { value } = inputs as { value: TensorInfo };
  const rank = value.shape.length;
  const ax = ((attrs as unknown as UnpackAttrs).axis + rank) % rank;
  const outShape = value.shape.filter((_, i) => i !== ax);
  const size = [...value.shape];
  size[ax] = 1;
  return Array.from({ length: value.shape[ax]! }, (_, i) => {
    const begin = new Array<number>(rank).fill(0);
    begin[ax] = i;
    const out = fastSlice({ inputs: { x: value }, backend, attrs: { begin, size } }) as TensorInfo;
    return { dataId: out.dataId, dtype: out.dtype, shape: outShape };
  });
};

/**
 * out[b] = x[b]ᵀ for a batch of (rows, cols) matrices, in 32×32 blocks so that both the reads and the
 * writes stay in cache. 3× faster than tfjs 4.22's wasm Transpose for the (4096, 1024) activations
 * whose transposes every weight gradient needs (39 → 12.5 ms).
 */
export function transposeLastTwo(
  x: ArrayLike<number>,
  out: { [i: number]: number },
  batch: number,
  rows: number,
  cols: number,
): void {
  const BLOCK = 32;
  const mat = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * mat;
    for (let i0 = 0; i0 < rows; i0 += BLOCK) {
      const i1 = Math.min(i0 + BLOCK, rows);
      for (let j0 = 0; j0 < cols; j0 += BLOCK) {
        const j1 = Math.min(j0 + BLOCK, cols);
        for (let i = i0; i < i1; i++) {
          const src = base + i * cols;
          for (let j = j0; j < j1; j++) out[base + j * rows + i] = x[src + j]!;
        }
      }
    }
  }
}

/** True when `perm` keeps the leading axes and swaps the last two. */
function swapsLastTwo(perm: readonly number[]): boolean {
  const r = perm.length;
  return r >= 2 && perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, -2).every((p, i) => p === i);
}

/**
 * Install the faster wasm paths (per-entry matmuls, copy-only-what-is-returned slicing, buffer-sharing
 * Identity, blocked transposes, O(rows·width) segment sum). Idempotent; returns the kernels installed.
 * ALTAR_FUSED=0 keeps tfjs's own slicing, Identity and Transpose.
 *
 * @example
 * ```ts
 * registerWasmFastPaths(); // ['BatchMatMul', 'Slice', 'SplitV', …] the first time
 * ```
 */
export function registerWasmFastPaths(): string[] {
  const installed: string[] = [];
  // ALTAR_FUSED=0 keeps tfjs's own slicing and transpose kernels (the benchmarks' baseline).
  const copyPaths = envVar('ALTAR_FUSED') !== '0';
  const native = getKernel(BatchMatMul, 'wasm');
  const transpose = getKernel(Transpose, 'wasm');
  if (native && transpose && !(native.kernelFunc as { altarWrapped?: boolean }).altarWrapped) {
    const wrapped: KernelFunc & { altarWrapped?: boolean; altarNative?: KernelFunc } = wasmBatchMatMul(
      native.kernelFunc,
      copyPaths,
      fastSlice,
    );
    wrapped.altarWrapped = true;
    wrapped.altarNative = native.kernelFunc; // tfjs-wasm's own kernel (XNNPACK), for bench/matmul.bench.ts
    unregisterKernel(BatchMatMul, 'wasm');
    registerKernel({
      kernelName: BatchMatMul,
      backendName: 'wasm',
      kernelFunc: wrapped,
      ...(native.setupFunc ? { setupFunc: native.setupFunc } : {}),
    });
    installed.push(BatchMatMul);
  }
  // Slicing kernels that copy only what they return. Strings keep the native kernels (their bytes live
  // outside the heap).
  for (const [name, fast, input] of copyPaths
    ? ([
        [Slice, fastSlice, 'x'],
        [SplitV, fastSplitV, 'x'],
        [Unpack, fastUnpack, 'value'],
      ] as const)
    : []) {
    const nat = getKernel(name, 'wasm');
    if (!nat || (nat.kernelFunc as { altarWrapped?: boolean }).altarWrapped) continue;
    const fn: KernelFunc & { altarWrapped?: boolean } = (args) =>
      (args.inputs as Record<string, TensorInfo>)[input]!.dtype === 'string' ? nat.kernelFunc(args) : fast(args);
    fn.altarWrapped = true;
    unregisterKernel(name, 'wasm');
    registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: fn,
      ...(nat.setupFunc ? { setupFunc: nat.setupFunc } : {}),
    });
    installed.push(name);
  }
  // Identity shares the input's buffer, as on the cpu and webgpu backends (tensors are immutable; a
  // Variable's assign swaps buffers). tfjs's wasm Identity copies, and the engine clones every tensor a
  // gradient saves: 184 full copies per training step of the reference model.
  const nativeIdentity = getKernel(Identity, 'wasm');
  if (copyPaths && nativeIdentity && !(nativeIdentity.kernelFunc as { altarWrapped?: boolean }).altarWrapped) {
    const fn: KernelFunc & { altarWrapped?: boolean } = (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      if (x.dtype === 'string') return nativeIdentity.kernelFunc(args);
      (args.backend as unknown as { incRef(d: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    };
    fn.altarWrapped = true;
    unregisterKernel(Identity, 'wasm');
    registerKernel({ kernelName: Identity, backendName: 'wasm', kernelFunc: fn });
    installed.push(Identity);
  }
  const nativeTranspose = getKernel(Transpose, 'wasm');
  if (copyPaths && nativeTranspose && !(nativeTranspose.kernelFunc as { altarWrapped?: boolean }).altarWrapped) {
    const fn: KernelFunc & { altarWrapped?: boolean } = (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const { perm } = args.attrs as unknown as TransposeAttrs;
      const r = x.shape.length;
      if (x.dtype === 'string' || !swapsLastTwo(perm) || util.sizeFromShape(x.shape) < 4096)
        return nativeTranspose.kernelFunc(args);
      const w = args.backend as unknown as WasmLike;
      const rows = x.shape[r - 2]!;
      const cols = x.shape[r - 1]!;
      const out = w.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
      const batch = util.sizeFromShape(x.shape.slice(0, -2));
      const fourBytes = x.dtype === 'float32' || x.dtype === 'int32';
      const simd = rows % 4 === 0 && cols % 4 === 0 && fourBytes ? transposeWasm(w) : null;
      if (simd) {
        simd(w.typedArrayFromHeap(x).byteOffset, w.typedArrayFromHeap(out).byteOffset, batch, rows, cols);
        return out;
      }
      transposeLastTwo(
        w.typedArrayFromHeap(x),
        w.typedArrayFromHeap(out),
        util.sizeFromShape(x.shape.slice(0, -2)),
        rows,
        cols,
      );
      return out;
    };
    fn.altarWrapped = true;
    unregisterKernel(Transpose, 'wasm');
    registerKernel({
      kernelName: Transpose,
      backendName: 'wasm',
      kernelFunc: fn,
      ...(nativeTranspose.setupFunc ? { setupFunc: nativeTranspose.setupFunc } : {}),
    });
    installed.push(Transpose);
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
