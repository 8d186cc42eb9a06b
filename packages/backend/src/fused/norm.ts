/**
 * Fused norms with gradients, over the last axis:
 *
 *   layerNormFused(x, g, b)     = (x − μ)/√(σ² + ε) · g + b               (Ba et al. 2016)
 *   rmsNormFused(x, g)          = x / √(mean(x²) + ε) · g                 (Zhang & Sennrich 2019)
 *   addLayerNorm(x, r, g, b)    = [s, LayerNorm(s)·g + b],  s = x + r       (Ba et al. 2016)
 *   addRmsNorm(x, r, g)         = [s, RMSNorm(s)·g],        s = x + r
 *
 * The add variants are the pre-norm transformer's `h = h + f(…); y = norm(h)`: one kernel returns the new
 * residual stream s and the normalised y; both may carry gradients (dx = dr = ds + ∂norm/∂s·dy). Host kernels
 * (norm-host.ts) on cpu, a WebAssembly SIMD module on wasm (norm-wasm.ts), WGSL (webgpu-norm.ts) on webgpu; each kernel also returns the row
 * statistics (μ, 1/σ) as a hidden third output that only the backward reads. Elsewhere, or with fused
 * kernels off, the `…Composition` functions run instead.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { normBackwardSpec, normForwardSpec, type NormVariant } from './norm-host.js';
import { withWasmKernel } from './norm-wasm.js';

const lastDim = (shape: number[]): number => shape[shape.length - 1] ?? 1;

function centredNorm(s: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(s, -1, true);
  const sc = tf.sub(s, mean);
  const variance = tf.mean(tf.square(sc), -1, true);
  return tf.add(tf.mul(tf.mul(sc, tf.rsqrt(tf.add(variance, eps))), g), b);
}

/**
 * The composition layerNormFused replaces: (x − mean) · rsqrt(var + eps) · g + b over the last axis.
 *
 * @example
 * ```ts
 * layerNormComposition(tf.tensor2d([[1, 3]]), tf.ones([2]), tf.zeros([2]), 1e-5); // [[-1, 1]]
 * ```
 */
export function layerNormComposition(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => centredNorm(x, g, b, eps));
}

/**
 * The composition rmsNormFused replaces: x · rsqrt(mean(x²) + eps) · g over the last axis.
 *
 * @example
 * ```ts
 * rmsNormComposition(tf.tensor2d([[3, 4]]), tf.ones([2]), 1e-5); // [[0.8485, 1.1314]]
 * ```
 */
export function rmsNormComposition(x: tf.Tensor, g: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), g));
}

/**
 * The composition addLayerNorm replaces: s = x + r, then LayerNorm(s) · g + b over the last axis.
 *
 * @example
 * ```ts
 * const [s, y] = addLayerNormComposition(tf.tensor2d([[1, 2]]), tf.tensor2d([[0, 1]]), tf.ones([2]), tf.zeros([2]), 1e-5);
 * // s [[1, 3]], y [[-1, 1]]
 * ```
 */
export function addLayerNormComposition(
  x: tf.Tensor,
  r: tf.Tensor,
  g: tf.Tensor,
  b: tf.Tensor,
  eps: number,
): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const s = tf.add(x, r);
    return [s, centredNorm(s, g, b, eps)];
  });
}

/**
 * The composition addRmsNorm replaces: s = x + r, then RMSNorm(s) · g over the last axis.
 *
 * @example
 * ```ts
 * const [s, y] = addRmsNormComposition(tf.tensor2d([[1, 2]]), tf.tensor2d([[2, 2]]), tf.ones([2]), 1e-5);
 * // s [[3, 4]], y [[0.8485, 1.1314]]
 * ```
 */
export function addRmsNormComposition(x: tf.Tensor, r: tf.Tensor, g: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const s = tf.add(x, r);
    return [s, rmsNormComposition(s, g, eps)];
  });
}

function checkArgs(op: string, x: tf.Tensor, r: tf.Tensor | null, params: tf.Tensor[], eps: number): void {
  const d = lastDim(x.shape);
  const paramsOk = params.every((p) => p.rank === 1 && p.shape[0] === d);
  const rOk = r === null || tf.util.arraysEqual(r.shape, x.shape);
  if (x.rank < 1 || !paramsOk || !rOk) {
    const names = r ? 'x, r (..., D)' : 'x (..., D)';
    const got = [x, ...(r ? [r] : []), ...params].map((t) => `[${t.shape}]`).join(', ');
    throw new AltarError('BAD_SHAPE', `${op}: need ${names} and parameters (D), got ${got}`);
  }
  if (!(eps > 0)) throw new AltarError('BAD_ARG', `${op}: eps must be > 0, got ${eps}`);
  const bad = [x, ...(r ? [r] : []), ...params].find((t) => t.dtype !== 'float32');
  if (bad) throw new AltarError('BAD_ARG', `${op}: need float32 tensors, got ${bad.dtype}`);
}

/** Run a fused norm kernel and drop its hidden statistics output (the gradient keeps a saved copy). */
function runNorm(name: string, inputs: Record<string, tf.Tensor>, eps: number): tf.Tensor[] {
  const outs = tf.engine().runKernel(name, inputs, { eps } as unknown as NamedAttrMap) as unknown as tf.Tensor[];
  outs[outs.length - 1]!.dispose();
  return outs.slice(0, -1);
}

/**
 * LayerNorm over the last axis with gain g (D) and bias b (D); one kernel each way where available.
 *
 * @example
 * ```ts
 * layerNormFused(tf.tensor2d([[1, 3]]), tf.ones([2]), tf.zeros([2])); // [[-1, 1]]
 * ```
 */
export function layerNormFused(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps = 1e-5): tf.Tensor {
  checkArgs('layerNormFused', x, null, [g, b], eps);
  if (!useFused(FUSED_KERNELS.layerNorm)) return layerNormComposition(x, g, b, eps);
  return runNorm(FUSED_KERNELS.layerNorm, { x, g, b }, eps)[0]!;
}

/**
 * RMSNorm over the last axis with gain g (D): x / √(mean(x²) + eps) · g. One kernel each way where available.
 *
 * @example
 * ```ts
 * rmsNormFused(tf.tensor2d([[3, 4]]), tf.ones([2])); // [[0.8485, 1.1314]]
 * ```
 */
export function rmsNormFused(x: tf.Tensor, g: tf.Tensor, eps = 1e-5): tf.Tensor {
  checkArgs('rmsNormFused', x, null, [g], eps);
  if (!useFused(FUSED_KERNELS.rmsNorm)) return rmsNormComposition(x, g, eps);
  return runNorm(FUSED_KERNELS.rmsNorm, { x, g }, eps)[0]!;
}

/**
 * The residual add and the LayerNorm after it in one kernel: returns [s, y] with s = x + r (the new residual
 * stream) and y = LayerNorm(s) · g + b over the last axis. Gradients flow from both outputs.
 *
 * @example
 * ```ts
 * const [h2, y] = addLayerNorm(h, attnOut, g, b); // h2 = h + attnOut, y = LayerNorm(h2)
 * ```
 */
export function addLayerNorm(
  x: tf.Tensor,
  r: tf.Tensor,
  g: tf.Tensor,
  b: tf.Tensor,
  eps = 1e-5,
): [tf.Tensor, tf.Tensor] {
  checkArgs('addLayerNorm', x, r, [g, b], eps);
  if (!useFused(FUSED_KERNELS.addLayerNorm)) return addLayerNormComposition(x, r, g, b, eps);
  const [s, y] = runNorm(FUSED_KERNELS.addLayerNorm, { x, r, g, b }, eps);
  return [s!, y!];
}

/**
 * The residual add and the RMSNorm after it in one kernel: returns [s, y] with s = x + r and
 * y = RMSNorm(s) · g over the last axis. Gradients flow from both outputs.
 *
 * @example
 * ```ts
 * const [h2, y] = addRmsNorm(h, mlpOut, g); // h2 = h + mlpOut, y = RMSNorm(h2)
 * ```
 */
export function addRmsNorm(x: tf.Tensor, r: tf.Tensor, g: tf.Tensor, eps = 1e-5): [tf.Tensor, tf.Tensor] {
  checkArgs('addRmsNorm', x, r, [g], eps);
  if (!useFused(FUSED_KERNELS.addRmsNorm)) return addRmsNormComposition(x, r, g, eps);
  const [s, y] = runNorm(FUSED_KERNELS.addRmsNorm, { x, r, g }, eps);
  return [s!, y!];
}

/** Each fused norm: forward and backward kernel names and the variant both run. */
const NORM_KERNELS: ReadonlyArray<readonly [string, string, NormVariant]> = [
  [FUSED_KERNELS.layerNorm, FUSED_KERNELS.layerNormGrad, { centered: true, residual: false }],
  [FUSED_KERNELS.rmsNorm, FUSED_KERNELS.rmsNormGrad, { centered: false, residual: false }],
  [FUSED_KERNELS.addLayerNorm, FUSED_KERNELS.addLayerNormGrad, { centered: true, residual: true }],
  [FUSED_KERNELS.addRmsNorm, FUSED_KERNELS.addRmsNormGrad, { centered: false, residual: true }],
];

/**
 * The host kernels of the fused norms (forward and backward of each), for registerFusedKernels.
 *
 * @example
 * ```ts
 * NORM_SPECS.forEach((s) => registerHostKernel(s));
 * ```
 */
export const NORM_SPECS: readonly HostKernelSpec[] = NORM_KERNELS.flatMap(([fwd, bwd, v]) => [
  withWasmKernel(normForwardSpec(fwd, v), v, 'forward'),
  withWasmKernel(normBackwardSpec(bwd, v), v, 'backward'),
]);

/**
 * Register the gradients of the fused norm kernels (their backward kernels). Called once by registerFusedKernels.
 *
 * @example
 * ```ts
 * registerNormGradients();
 * ```
 */
export function registerNormGradients(): void {
  for (const [fwd, bwd, v] of NORM_KERNELS) {
    registerGradient({
      kernelName: fwd,
      // plain: outputs (y, stats), saved [x, g, stats]; add variants: outputs (s, y, stats), saved [g, s, stats]
      // (an unused output's gradient arrives as zeros)
      inputsToSave: v.residual ? ['g'] : ['x', 'g'],
      outputsToSave: v.residual ? [true, false, true] : [false, true],
      gradFunc: (dys, saved, attrs) => {
        const [ds, dy] = (v.residual ? dys : [null, ...(dys as tf.Tensor[])]) as Array<tf.Tensor | null>;
        const [g, s, stats] = (v.residual ? saved : [saved[1], saved[0], saved[2]]) as tf.Tensor[];
        const inputs = { ...(ds ? { ds } : {}), dy: dy!, s: s!, g: g!, stats: stats! };
        const outs = tf.engine().runKernel(bwd, inputs, attrs) as unknown as tf.Tensor[];
        const [dx, dg, db] = outs as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const grads: Record<string, () => tf.Tensor> = { x: () => dx, g: () => dg };
        // x and r receive the same gradient: a clone for r, so that accumulating one never frees the other.
        if (v.residual) grads['r'] = () => tf.clone(dx);
        if (v.centered) grads['b'] = () => db!;
        return grads;
      },
    });
  }
}
