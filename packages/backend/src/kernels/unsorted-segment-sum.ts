/**
 * UnsortedSegmentSum for backends that lack it (wasm). tfjs's gradient of `gather` — so every
 * embedding table — is an unsorted segment sum, so without this kernel nothing with an embedding
 * trains on wasm. Data is read on the host, summed, and written back: the op is small (vocab × dim)
 * and runs once per backward pass.
 */
import {
  getKernel,
  registerKernel,
  UnsortedSegmentSum,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';

/**
 * Reference implementation on plain arrays: out[s, ...] = Σ_{i : ids[i] = s} x[i, ...].
 * `ids` covers the leading `idsSize` elements of x's shape; ids outside [0, numSegments) are dropped,
 * as in TensorFlow.
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

interface HostBackend {
  readSync(dataId: unknown): ArrayLike<number> | Uint8Array[];
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo;
}

const hostUnsortedSegmentSum: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const b = backend as unknown as HostBackend;
  const xv = b.readSync(x.dataId) as ArrayLike<number>;
  const ids = b.readSync(segmentIds.dataId) as ArrayLike<number>;
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = util.sizeFromShape(innerShape);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  unsortedSegmentSumReference(xv, ids, inner, numSegments, out);
  return b.makeOutput([numSegments, ...innerShape], x.dtype, undefined, out);
};

/** Register the host UnsortedSegmentSum for `backendName` unless the backend already has one. */
export function registerHostUnsortedSegmentSum(backendName: string): boolean {
  if (getKernel(UnsortedSegmentSum, backendName) != null) return false;
  const config: KernelConfig = { kernelName: UnsortedSegmentSum, backendName, kernelFunc: hostUnsortedSegmentSum };
  registerKernel(config);
  return true;
}
