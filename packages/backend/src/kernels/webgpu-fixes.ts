/**
 * Gaps in tfjs-backend-webgpu 4.22, found by the conformance suite and the model benchmarks on a real
 * GPU (H200 through Dawn/Vulkan):
 *
 * - Cumsum / Cumprod only handle rank ≤ 4 ("Cumulative + for rank 5 is not yet supported"); linear
 *   attention and the SSM scans use rank-5 prefix sums. The wrapper folds the dimensions before and
 *   after the axis into one each — (pre, axis, post), rank 3 — runs the native kernel and unfolds.
 * - reverse = true gives wrong sums once a reverse cumsum of another axis length has run (its compiled
 *   shader is reused with the other length baked in). Cumsum's gradient is a reverse cumsum, so every
 *   SSM scan trained wrong. The wrapper reverses the axis, runs the forward kernel, reverses back.
 */
import {
  Cumprod,
  Cumsum,
  getKernel,
  registerKernel,
  Reshape,
  Reverse,
  unregisterKernel,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

interface Disposer {
  disposeData(dataId: object): boolean;
}

function wrapCumulative(kernelName: string): boolean {
  const native = getKernel(kernelName, 'webgpu');
  const reshape = getKernel(Reshape, 'webgpu');
  const reverse = getKernel(Reverse, 'webgpu');
  if (!native || !reshape || !reverse || (native.kernelFunc as { altarWrapped?: boolean }).altarWrapped) return false;
  const nativeFn = native.kernelFunc;
  const fn: KernelFunc & { altarWrapped?: boolean } = ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: TensorInfo };
    const a = attrs as { axis: number; exclusive: boolean; reverse: boolean };
    const rank = x.shape.length;
    const axis = a.axis < 0 ? a.axis + rank : a.axis;
    if (!a.reverse && rank <= 4) return nativeFn({ inputs, backend, attrs: attrs ?? {} });
    const d = backend as unknown as Disposer;
    const pre = x.shape.slice(0, axis).reduce((p, n) => p * n, 1);
    const post = x.shape.slice(axis + 1).reduce((p, n) => p * n, 1);
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo): TensorInfo => (temps.push(t), t);
    try {
      // (pre, L, post): every rank becomes rank 3 with the scanned axis in the middle.
      let t = keep(
        reshape.kernelFunc({ inputs: { x }, backend, attrs: { shape: [pre, x.shape[axis]!, post] } }) as TensorInfo,
      );
      if (a.reverse) t = keep(reverse.kernelFunc({ inputs: { x: t }, backend, attrs: { dims: [1] } }) as TensorInfo);
      t = keep(nativeFn({ inputs: { x: t }, backend, attrs: { ...a, axis: 1, reverse: false } }) as TensorInfo);
      if (a.reverse) t = keep(reverse.kernelFunc({ inputs: { x: t }, backend, attrs: { dims: [1] } }) as TensorInfo);
      return reshape.kernelFunc({ inputs: { x: t }, backend, attrs: { shape: x.shape } }) as TensorInfo;
    } finally {
      for (const t of temps) d.disposeData(t.dataId);
    }
  };
  fn.altarWrapped = true;
  unregisterKernel(kernelName, 'webgpu');
  registerKernel({
    kernelName,
    backendName: 'webgpu',
    kernelFunc: fn,
    ...(native.setupFunc ? { setupFunc: native.setupFunc } : {}),
  });
  return true;
}

/**
 * Install the WebGPU fixes. Idempotent; returns the kernels wrapped.
 *
 * @example
 * ```ts
 * registerWebgpuFixes(); // ['Cumsum', 'Cumprod'] the first time
 * ```
 */
export function registerWebgpuFixes(): string[] {
  return [Cumsum, Cumprod].filter((k) => wrapCumulative(k));
}
