/**
 * Host kernels: one implementation over typed arrays, registered for both CPU backends (`cpu` and
 * `wasm`) through tfjs's kernel registry. On wasm the kernel reads and writes the wasm heap in place
 * (zero-copy views); on cpu it reads the backend's arrays and hands it new ones.
 *
 * A fused op replaces a chain of elementwise ops and reductions (each a full pass over memory and a
 * dispatch) with one pass. Backends without a host kernel (webgpu, webgl) keep the plain composition the
 * fused op documents; `fusedKernelsEnabled()` lets a benchmark or a bisecting user switch all fused ops
 * back to their compositions.
 */
import {
  getKernel,
  registerKernel,
  type DataType,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { envVar } from '../env.js';

/**
 * The typed arrays a host kernel reads and writes (float32 and int32 tensors).
 *
 * @example
 * ```ts
 * const sum = (a: HostArray) => a.reduce((s, v) => s + v, 0);
 * ```
 */
export type HostArray = Float32Array | Int32Array;

/**
 * A kernel written once over typed arrays, registered for the cpu and wasm backends by `registerHostKernel`.
 *
 * @example
 * ```ts
 * registerHostKernel({
 *   name: 'MyDouble',
 *   inputs: ['x'],
 *   outputs: ([xs]) => [{ shape: xs!, dtype: 'float32' }],
 *   compute: ([x], [y]) => { for (let i = 0; i < x!.length; i++) y![i] = 2 * x![i]!; },
 * });
 * tf.engine().runKernel('MyDouble', { x: tf.tensor1d([1, 2]) }); // [2, 4]
 * ```
 */
export interface HostKernelSpec {
  name: string;
  /** Input names, in the order `compute` receives them (a function of the attributes for variadic kernels). */
  inputs: readonly string[] | ((attrs: NamedAttrMap) => string[]);
  /** Output shapes and dtypes from the input shapes and attributes. */
  outputs(shapes: number[][], attrs: NamedAttrMap): Array<{ shape: number[]; dtype: DataType }>;
  /** Fill `outs` (zero-initialised) from `ins`. Must not allocate tensors. */
  compute(ins: HostArray[], outs: HostArray[], shapes: number[][], attrs: NamedAttrMap): void;
  /** A wasm-specific kernel that may call wasm's own (SIMD) kernels; `compute` is used where absent. */
  wasm?: KernelFunc;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): HostArray;
}
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: DataType, values: HostArray): TensorInfo;
}

const HOST_BACKENDS = ['cpu', 'wasm'] as const;

function newArray(dtype: DataType, n: number): HostArray {
  return dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
}

function kernelFor(spec: HostKernelSpec, backendName: 'cpu' | 'wasm'): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const names = typeof spec.inputs === 'function' ? spec.inputs(attrs as NamedAttrMap) : spec.inputs;
    const ins = names.map((n) => {
      const t = (inputs as Record<string, TensorInfo | undefined>)[n];
      if (!t) throw new Error(`${spec.name}: missing input '${n}'`);
      return t;
    });
    const shapes = ins.map((t) => t.shape);
    const outSpecs = spec.outputs(shapes, attrs as NamedAttrMap);
    if (backendName === 'wasm') {
      const b = backend as unknown as WasmBackendLike;
      // Allocate first: an allocation may grow (and so move) the heap, invalidating earlier views.
      const outs = outSpecs.map((o) => b.makeOutput(o.shape, o.dtype));
      const outViews = outs.map((o) => b.typedArrayFromHeap(o));
      for (const v of outViews) v.fill(0);
      spec.compute(
        ins.map((t) => b.typedArrayFromHeap(t)),
        outViews,
        shapes,
        attrs as NamedAttrMap,
      );
      return outs.length === 1 ? outs[0]! : outs; // the engine returns an array only for array results
    }
    const b = backend as unknown as CpuBackendLike;
    const inVals = ins.map((t) => b.data.get(t.dataId).values as HostArray);
    const outVals = outSpecs.map((o) => newArray(o.dtype, tf.util.sizeFromShape(o.shape)));
    spec.compute(inVals, outVals, shapes, attrs as NamedAttrMap);
    const outs = outSpecs.map((o, i) => b.makeTensorInfo(o.shape, o.dtype, outVals[i]!));
    return outs.length === 1 ? outs[0]! : outs;
  };
}

/**
 * Register `spec` on cpu and wasm (idempotent). Returns the backends it was registered for now.
 *
 * @example
 * ```ts
 * registerHostKernel(mySpec); // ['cpu', 'wasm'] the first time, [] after
 * ```
 */
export function registerHostKernel(spec: HostKernelSpec): string[] {
  const done: string[] = [];
  for (const backendName of HOST_BACKENDS) {
    if (getKernel(spec.name, backendName)) continue;
    const kernelFunc = backendName === 'wasm' && spec.wasm ? spec.wasm : kernelFor(spec, backendName);
    registerKernel({ kernelName: spec.name, backendName, kernelFunc });
    done.push(backendName);
  }
  return done;
}

let enabled: boolean | null = null;

/**
 * Whether fused ops use their kernels (default: yes, unless ALTAR_FUSED=0). When off, or on a backend
 * without the kernel, each fused op runs its plain composition.
 *
 * @example
 * ```ts
 * fusedKernelsEnabled(); // true unless the environment has ALTAR_FUSED=0
 * ```
 */
export function fusedKernelsEnabled(): boolean {
  if (enabled === null) enabled = envVar('ALTAR_FUSED') !== '0';
  return enabled;
}

/**
 * Switch fused kernels on or off for this process (benchmarks compare both in one run).
 *
 * @example
 * ```ts
 * setFusedKernels(false); // every fused op runs its plain composition from now on
 * ```
 */
export function setFusedKernels(on: boolean): void {
  enabled = on;
}

/**
 * True when the fused kernel `name` should run on the current backend.
 *
 * @example
 * ```ts
 * const oneKernel = useFused(FUSED_KERNELS.layerNorm); // true on cpu, wasm and webgpu
 * ```
 */
export function useFused(name: string): boolean {
  return fusedKernelsEnabled() && getKernel(name, tf.getBackend()) !== undefined;
}
