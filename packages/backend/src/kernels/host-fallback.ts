/**
 * Host fallback kernels: for every kernel that the cpu backend implements and a target backend
 * (wasm) lacks, register a kernel on the target that copies the inputs to the cpu backend, runs the
 * cpu backend's own kernel there, and copies the outputs back. The cpu kernel is the reference
 * implementation; the conformance suite checks each filled kernel against it.
 *
 * This is what lets wasm train convolutional models (Conv2DBackpropFilter, depthwise backprop) and
 * embeddings (UnsortedSegmentSum, the gradient of gather). The copies cost a round trip through the
 * host, which on wasm is a memcpy: the backward ops that need it are a small part of a step.
 */
import {
  engine,
  getKernel,
  getKernelsForBackend,
  registerKernel,
  unregisterKernel,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

interface HostReadable {
  readSync(dataId: object): ArrayLike<number> | Uint8Array[];
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: ArrayLike<number>): TensorInfo;
}

interface CpuLike {
  write(values: ArrayLike<number>, shape: number[], dtype: DataType): object;
  readSync(dataId: object): ArrayLike<number>;
  disposeData(dataId: object, force?: boolean): boolean;
}

function fallbackFor(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const cpuKernel = getKernel(kernelName, 'cpu');
    const cpu = engine().findBackend('cpu') as unknown as CpuLike | null;
    if (!cpuKernel || !cpu) throw new Error(`host fallback for ${kernelName}: the cpu backend is not available`);
    const target = backend as unknown as HostReadable;
    const cpuInputs: Record<string, TensorInfo> = {};
    const written: object[] = [];
    try {
      for (const [name, info] of Object.entries(inputs)) {
        if (info == null) continue;
        const values = target.readSync(info.dataId) as ArrayLike<number>;
        const dataId = cpu.write(values, info.shape, info.dtype);
        written.push(dataId);
        cpuInputs[name] = { dataId, shape: info.shape, dtype: info.dtype };
      }
      const out = cpuKernel.kernelFunc({ inputs: cpuInputs, backend: cpu as never, attrs: attrs ?? {} });
      const outs = Array.isArray(out) ? out : [out];
      const results = outs.map((o) => {
        const values = cpu.readSync(o.dataId);
        written.push(o.dataId);
        return target.makeOutput(o.shape, o.dtype, undefined, values);
      });
      return Array.isArray(out) ? results : results[0]!;
    } finally {
      for (const id of written) cpu.disposeData(id, true);
    }
  };
}

/**
 * Native kernels that compute wrong results, found by the conformance suite, replaced by the host
 * fallback. wasm 4.22's MaxPoolGrad routes the gradient to the wrong element of the window, and its
 * OneHot writes integer bit patterns into a float32 output (1 reads as 1.4e-45).
 *
 * @example
 * ```ts
 * KNOWN_BAD_KERNELS['wasm']; // ['MaxPoolGrad', 'OneHot']
 * ```
 */
export const KNOWN_BAD_KERNELS: Readonly<Record<string, readonly string[]>> = { wasm: ['MaxPoolGrad', 'OneHot'] };

/**
 * Register host fallbacks on `backendName` for every cpu kernel it lacks (or only for `only`), and
 * replace its known-bad kernels. Returns the names of the kernels filled or replaced.
 *
 * @example
 * ```ts
 * registerHostFallbackKernels('wasm'); // ['Conv2DBackpropFilter', 'MaxPoolGrad', …] the first time
 * ```
 */
export function registerHostFallbackKernels(backendName: string, only?: readonly string[]): string[] {
  const bad = KNOWN_BAD_KERNELS[backendName] ?? [];
  for (const name of bad) if (getKernel(name, backendName) != null) unregisterKernel(name, backendName);
  const have = new Set(getKernelsForBackend(backendName).map((k) => k.kernelName));
  const filled: string[] = [];
  for (const k of getKernelsForBackend('cpu')) {
    if (have.has(k.kernelName)) continue;
    if (only && !only.includes(k.kernelName)) continue;
    const config: KernelConfig = { kernelName: k.kernelName, backendName, kernelFunc: fallbackFor(k.kernelName) };
    registerKernel(config);
    filled.push(k.kernelName);
  }
  return filled;
}
