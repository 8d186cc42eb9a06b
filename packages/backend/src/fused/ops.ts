/**
 * Fused ops with gradients. Each op names the plain composition it replaces; where the current backend
 * has the fused kernel (cpu and wasm: host kernels, see host-kernel.ts) it runs one kernel forward and
 * one backward, otherwise the composition. The conformance suite checks the two against each other,
 * forward and gradient, on every backend.
 *
 *   biasGelu(x, b)            = gelu_tanh(x + b)                 (GPT-2's MLP activation with its bias)
 *   layerNormFused(x, g, b)   = (x − μ)/√(σ² + ε) · g + b         (Ba et al. 2016), with the other norms in norm.ts
 *   softmaxCrossEntropy(l, y) = −log softmax(l)[y]                 per row, targets int32
 *   adamwUpdate(p, m, v, g)   = one AdamW step (Loshchilov & Hutter 2019, Alg. 2), no gradient
 *   squaredNorms([t…])        = [‖t_i‖²…] in one kernel (the global gradient norm), no gradient
 *   decodeAttention(…)        = one cached causal-attention step (decode-attention.ts), no gradient
 *   selectiveScanFused(…)     = Mamba's selective scan, forward and adjoint backward (scan.ts)
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { ATTENTION_SPECS, registerAttentionGradient } from './attention.js';
import { registerHostKernel, useFused, type HostArray, type HostKernelSpec } from './host-kernel.js';
import { decodeAttentionSpec } from './decode-attention.js';
import { biasGeluGradSpec, biasGeluSpec } from './gelu.js';
import { FUSED_KERNELS } from './names.js';
import { adamwSpec, squaredNormsSpec } from './optim.js';
import { registerScanGradient, SCAN_SPECS } from './scan.js';
import { NORM_SPECS, registerNormGradients } from './norm.js';
import { registerWebgpuFusedKernels } from './webgpu.js';

export { FUSED_KERNELS } from './names.js';
export { biasGelu, geluComposition } from './gelu.js';
export { layerNormComposition, layerNormFused } from './norm.js';
export {
  adamwComposition,
  adamwControlledComposition,
  adamwUpdate,
  adamwUpdateControlled,
  squaredNorms,
  type AdamwControlledStep,
  type AdamwStep,
} from './optim.js';

const lastDim = (shape: number[]): number => shape[shape.length - 1] ?? 1;
const rowsOf = (shape: number[]): number => tf.util.sizeFromShape(shape) / Math.max(1, lastDim(shape));

// ---------------------------------------------------------------- softmax cross-entropy

/**
 * The composition softmaxCrossEntropy replaces: −Σ oneHot(y) · logSoftmax(logits) over the last axis.
 *
 * @example
 * ```ts
 * crossEntropyComposition(tf.zeros([1, 4]), tf.tensor1d([2], 'int32')); // [log 4 = 1.386]
 * ```
 */
export function crossEntropyComposition(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(logits);
    const oh = tf.cast(tf.oneHot(tf.cast(targets, 'int32'), lastDim(logits.shape)), 'float32');
    return tf.neg(tf.sum(tf.mul(oh, lp), -1));
  });
}

/** log Σ exp over row r (max-shifted). */
function logSumExp(l: HostArray, off: number, v: number): number {
  let mx = -Infinity;
  for (let k = 0; k < v; k++) if (l[off + k]! > mx) mx = l[off + k]!;
  let s = 0;
  for (let k = 0; k < v; k++) s += Math.exp(l[off + k]! - mx);
  return mx + Math.log(s);
}

function checkTarget(t: number, v: number): number {
  // Out-of-range targets give a NaN loss (as a one-hot of an invalid id would give 0 and hide the bug).
  return Number.isInteger(t) && t >= 0 && t < v ? t : -1;
}

const crossEntropySpec: HostKernelSpec = {
  name: FUSED_KERNELS.crossEntropy,
  inputs: ['logits', 'targets'],
  outputs: ([ls]) => [{ shape: ls!.slice(0, -1), dtype: 'float32' }],
  compute([l, y], [out], [ls]) {
    const v = lastDim(ls!);
    for (let r = 0; r < out!.length; r++) {
      const t = checkTarget(y![r]!, v);
      out![r] = t < 0 ? NaN : logSumExp(l!, r * v, v) - l![r * v + t]!;
    }
  },
};

const crossEntropyGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.crossEntropyGrad,
  inputs: ['dy', 'logits', 'targets'],
  outputs: ([, ls]) => [{ shape: ls!, dtype: 'float32' }],
  compute([dy, l, y], [dl], [, ls]) {
    const v = lastDim(ls!);
    const rows = rowsOf(ls!);
    for (let r = 0; r < rows; r++) {
      const off = r * v;
      const lse = logSumExp(l!, off, v);
      const g = dy![r]!;
      for (let k = 0; k < v; k++) dl![off + k] = g * Math.exp(l![off + k]! - lse);
      const t = checkTarget(y![r]!, v);
      if (t >= 0) dl![off + t]! -= g;
    }
  },
};

/**
 * Per-row cross-entropy −log softmax(logits)[target] in nats: logits (..., V), targets int32 (...) → (...).
 * An out-of-range target gives NaN. One kernel forward and one backward where available.
 *
 * @example
 * ```ts
 * softmaxCrossEntropy(tf.zeros([1, 4]), tf.tensor1d([2], 'int32')); // [1.386]
 * ```
 */
export function softmaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  if (
    logits.rank < 1 ||
    targets.rank !== logits.rank - 1 ||
    !tf.util.arraysEqual(targets.shape, logits.shape.slice(0, -1))
  ) {
    throw new AltarError(
      'BAD_SHAPE',
      `softmaxCrossEntropy: need logits (..., V) and targets (...), got [${logits.shape}] and [${targets.shape}]`,
    );
  }
  if (!useFused(FUSED_KERNELS.crossEntropy)) return crossEntropyComposition(logits, targets);
  return tf.tidy(
    () =>
      tf.engine().runKernel(FUSED_KERNELS.crossEntropy, { logits, targets: tf.cast(targets, 'int32') }) as tf.Tensor,
  );
}

// ---------------------------------------------------------------- registration

let gradientsRegistered = false;

/**
 * Register the fused kernels (cpu and wasm host kernels, webgpu WGSL) and their gradients. Idempotent;
 * called by initBackend.
 *
 * @example
 * ```ts
 * registerFusedKernels(); // kernel names registered now ([] when already done)
 * ```
 */
export function registerFusedKernels(): string[] {
  const done: string[] = [];
  for (const spec of [
    biasGeluSpec,
    biasGeluGradSpec,
    crossEntropySpec,
    crossEntropyGradSpec,
    adamwSpec,
    squaredNormsSpec,
    decodeAttentionSpec,
    ...SCAN_SPECS,
    ...ATTENTION_SPECS,
    ...NORM_SPECS,
  ]) {
    if (registerHostKernel(spec).length > 0) done.push(spec.name);
  }
  done.push(...registerWebgpuFusedKernels());
  if (!gradientsRegistered) {
    gradientsRegistered = true;
    registerScanGradient();
    registerAttentionGradient();
    registerNormGradients();
    registerGradient({
      kernelName: FUSED_KERNELS.biasGelu,
      inputsToSave: ['x', 'b'],
      gradFunc: (dy, saved) => {
        const [x, b] = saved as [tf.Tensor, tf.Tensor];
        const [dx, db] = tf
          .engine()
          .runKernel(FUSED_KERNELS.biasGeluGrad, { dy: dy as tf.Tensor, x, b }) as unknown as [tf.Tensor, tf.Tensor];
        return { x: () => dx, b: () => db };
      },
    });
    registerGradient({
      kernelName: FUSED_KERNELS.crossEntropy,
      inputsToSave: ['logits', 'targets'],
      gradFunc: (dy, saved) => {
        const [logits, targets] = saved as [tf.Tensor, tf.Tensor];
        const dl = tf
          .engine()
          .runKernel(FUSED_KERNELS.crossEntropyGrad, { dy: dy as tf.Tensor, logits, targets }) as tf.Tensor;
        return { logits: () => dl, targets: () => tf.zerosLike(targets) };
      },
    });
  }
  return done;
}
