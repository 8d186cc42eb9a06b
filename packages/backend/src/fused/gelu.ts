/**
 * bias + GELU (tanh approximation, Hendrycks & Gimpel 2016) as one kernel forward and one backward:
 * gelu(x + b) = 0.5u(1 + tanh(√(2/π)(u + 0.044715u³))), u = x + b. Host kernels on cpu and wasm (see
 * host-kernel.ts; on wasm a SIMD module, gelu-wasm.ts), WGSL on webgpu; `geluComposition` elsewhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getKernel, Sigmoid, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { geluWasmKernels } from './gelu-wasm.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** tanh through one exp: 1 − 2/(e^{2z} + 1) (exact limits ±1 at ±∞). */
function tanhFast(z: number): number {
  return 1 - 2 / (Math.exp(2 * z) + 1);
}

/**
 * gelu(u) with the tanh approximation (Hendrycks & Gimpel 2016): 0.5u(1 + tanh(√(2/π)(u + 0.044715u³))),
 * as plain tfjs ops (what `biasGelu` runs where it has no kernel).
 *
 * @example
 * ```ts
 * geluComposition(tf.tensor1d([0, 1])); // [0, 0.8412]
 * ```
 */
export function geluComposition(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(u, tf.mul(GELU_C, tf.mul(u, tf.square(u)))));
    return tf.mul(tf.mul(0.5, u), tf.add(1, tf.tanh(inner)));
  });
}

interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
  wasm?: { asm?: { memory?: unknown } };
}

/** The SIMD module's pass (gelu-wasm.ts) when D is a multiple of 4 and the module loads; otherwise null. */
function geluSimd(w: WasmHeap, inputs: Record<string, TensorInfo>, grad: boolean): TensorInfo | TensorInfo[] | null {
  const { x, b, dy } = inputs as { x: TensorInfo; b: TensorInfo; dy?: TensorInfo };
  const d = b.shape[0]!;
  const k = d >= 4 && d % 4 === 0 ? geluWasmKernels(w) : null;
  if (!k) return null;
  const rows = tf.util.sizeFromShape(x.shape) / d;
  const out = w.makeOutput(x.shape, 'float32');
  const db = grad ? w.makeOutput([d], 'float32') : null;
  const scratch = grad ? w.makeOutput([2 * d], 'float32') : null; // d float64 column sums
  const ptr = (t: TensorInfo) => w.typedArrayFromHeap(t).byteOffset; // after the last allocation
  if (!grad) {
    k.fwd(ptr(x), ptr(b), ptr(out), rows, d);
    return out;
  }
  try {
    const acc = w.typedArrayFromHeap(scratch!);
    acc.fill(0);
    k.bwd(ptr(dy!), ptr(x), ptr(b), ptr(out), acc.byteOffset, rows, d);
    w.typedArrayFromHeap(db!).set(new Float64Array(acc.buffer, acc.byteOffset, d));
  } finally {
    w.disposeData(scratch!.dataId);
  }
  return [out, db!];
}

/**
 * bias + GELU on wasm: the SIMD module (gelu-wasm.ts, one pass each way) when D is a multiple of 4. Otherwise
 * the transcendental in wasm's own SIMD Sigmoid: 0.5u(1 + tanh a) = u·σ(2a),
 * a = √(2/π)(u + 0.044715u³). JS does the arithmetic passes (z = 2a, then u·s or the derivative
 * s + u·s(1 − s)·2√(2/π)(1 + 3·0.044715u²)); V8's exp/tanh cost ~15 ns an element, the SIMD sigmoid ~4.
 * The z buffer becomes the output, so one extra tensor (s) lives briefly.
 */
function geluWasm({ inputs, backend }: Parameters<KernelFunc>[0], grad: boolean): TensorInfo | TensorInfo[] {
  const w = backend as unknown as WasmHeap;
  const simd = geluSimd(w, inputs as Record<string, TensorInfo>, grad);
  if (simd) return simd;
  const { x, b, dy } = inputs as { x: TensorInfo; b: TensorInfo; dy?: TensorInfo };
  const n = tf.util.sizeFromShape(x.shape);
  const d = b.shape[0]!;
  const z = w.makeOutput(x.shape, 'float32');
  {
    const xv = w.typedArrayFromHeap(x);
    const bv = w.typedArrayFromHeap(b);
    const zv = w.typedArrayFromHeap(z);
    for (let i = 0, j = 0; i < n; i++) {
      const u = xv[i]! + bv[j]!;
      zv[i] = 2 * SQRT_2_OVER_PI * (u + GELU_C * u * u * u);
      if (++j === d) j = 0;
    }
  }
  const s = getKernel(Sigmoid, 'wasm')!.kernelFunc({ inputs: { x: z }, backend, attrs: {} }) as TensorInfo;
  const db = grad ? w.makeOutput([d], 'float32') : null;
  // Views after the last allocation (an allocation may move the heap).
  const xv = w.typedArrayFromHeap(x);
  const bv = w.typedArrayFromHeap(b);
  const sv = w.typedArrayFromHeap(s);
  const out = w.typedArrayFromHeap(z);
  if (!grad) {
    for (let i = 0, j = 0; i < n; i++) {
      out[i] = (xv[i]! + bv[j]!) * sv[i]!;
      if (++j === d) j = 0;
    }
    w.disposeData(s.dataId);
    return z;
  }
  const dyv = w.typedArrayFromHeap(dy!);
  const acc = new Float64Array(d);
  for (let i = 0, j = 0; i < n; i++) {
    const u = xv[i]! + bv[j]!;
    const si = sv[i]!;
    const g = dyv[i]! * (si + u * si * (1 - si) * 2 * SQRT_2_OVER_PI * (1 + 3 * GELU_C * u * u));
    out[i] = g;
    acc[j]! += g;
    if (++j === d) j = 0;
  }
  w.typedArrayFromHeap(db!).set(acc);
  w.disposeData(s.dataId);
  return [z, db!];
}

export const biasGeluSpec: HostKernelSpec = {
  name: FUSED_KERNELS.biasGelu,
  inputs: ['x', 'b'],
  outputs: ([xs]) => [{ shape: xs!, dtype: 'float32' }],
  compute([x, b], [y]) {
    const d = b!.length;
    for (let i = 0, j = 0; i < x!.length; i++) {
      const u = x![i]! + b![j]!;
      const t = tanhFast(SQRT_2_OVER_PI * (u + GELU_C * u * u * u));
      y![i] = 0.5 * u * (1 + t);
      if (++j === d) j = 0;
    }
  },
  wasm: (args) => geluWasm(args, false),
};

export const biasGeluGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.biasGeluGrad,
  inputs: ['dy', 'x', 'b'],
  outputs: ([, xs, bs]) => [
    { shape: xs!, dtype: 'float32' },
    { shape: bs!, dtype: 'float32' },
  ],
  compute([dy, x, b], [dx, db]) {
    const d = b!.length;
    const acc = new Float64Array(d);
    for (let i = 0, j = 0; i < x!.length; i++) {
      const u = x![i]! + b![j]!;
      const u2 = u * u;
      const t = tanhFast(SQRT_2_OVER_PI * (u + GELU_C * u2 * u));
      // d/du 0.5u(1 + t) = 0.5(1 + t) + 0.5u(1 − t²)·√(2/π)(1 + 3·0.044715u²)
      const g = dy![i]! * (0.5 * (1 + t) + 0.5 * u * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * u2));
      dx![i] = g;
      acc[j]! += g;
      if (++j === d) j = 0;
    }
    db!.set(acc);
  },
  wasm: (args) => geluWasm(args, true),
};

/**
 * gelu(x + b): x (..., D), b (D) → (..., D). One kernel forward and one backward where available.
 *
 * @example
 * ```ts
 * biasGelu(tf.tensor2d([[0, 1]]), tf.tensor1d([1, 0])); // [[0.8412, 0.8412]]
 * ```
 */
export function biasGelu(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (b.rank !== 1 || x.shape[x.rank - 1] !== b.shape[0]) {
    throw new AltarError('BAD_SHAPE', `biasGelu: need x (..., D) and b (D), got [${x.shape}] and [${b.shape}]`);
  }
  if (!useFused(FUSED_KERNELS.biasGelu)) return tf.tidy(() => geluComposition(tf.add(x, b)));
  return tf.engine().runKernel(FUSED_KERNELS.biasGelu, { x, b }) as tf.Tensor;
}
