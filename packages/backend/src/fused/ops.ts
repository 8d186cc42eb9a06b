/**
 * Fused ops with gradients. Each op names the plain composition it replaces; where the current backend
 * has the fused kernel (cpu and wasm: host kernels, see host-kernel.ts) it runs one kernel forward and
 * one backward, otherwise the composition. The conformance suite checks the two against each other,
 * forward and gradient, on every backend.
 *
 *   biasGelu(x, b)            = gelu_tanh(x + b)                 (GPT-2's MLP activation with its bias)
 *   layerNormFused(x, g, b)   = (x − μ)/√(σ² + ε) · g + b         (Ba et al. 2016), over the last axis
 *   softmaxCrossEntropy(l, y) = −log softmax(l)[y]                 per row, targets int32
 *   adamwUpdate(p, m, v, g)   = one AdamW step (Loshchilov & Hutter 2019, Alg. 2), no gradient
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerGradient, type NamedAttrMap } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { registerHostKernel, useFused, type HostArray, type HostKernelSpec } from './host-kernel.js';
import { decodeAttentionSpec } from './decode-attention.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

export const FUSED_KERNELS = {
  biasGelu: 'AltarBiasGelu',
  biasGeluGrad: 'AltarBiasGeluGrad',
  layerNorm: 'AltarLayerNorm',
  layerNormGrad: 'AltarLayerNormGrad',
  crossEntropy: 'AltarSoftmaxCrossEntropy',
  crossEntropyGrad: 'AltarSoftmaxCrossEntropyGrad',
  adamw: 'AltarAdamW',
  squaredNorms: 'AltarSquaredNorms',
} as const;

/** tanh through one exp: 1 − 2/(e^{2z} + 1) (V8's Math.tanh costs ~4× more; exact limits ±1 at ±∞). */
function tanhFast(z: number): number {
  return 1 - 2 / (Math.exp(2 * z) + 1);
}

const lastDim = (shape: number[]): number => shape[shape.length - 1] ?? 1;
const rowsOf = (shape: number[]): number => tf.util.sizeFromShape(shape) / Math.max(1, lastDim(shape));

// ---------------------------------------------------------------- bias + GELU

/** gelu(u) with the tanh approximation (Hendrycks & Gimpel 2016): 0.5u(1 + tanh(√(2/π)(u + 0.044715u³))). */
export function geluComposition(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(SQRT_2_OVER_PI, tf.add(u, tf.mul(GELU_C, tf.mul(u, tf.square(u)))));
    return tf.mul(tf.mul(0.5, u), tf.add(1, tf.tanh(inner)));
  });
}

const biasGeluSpec: HostKernelSpec = {
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
};

const biasGeluGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.biasGeluGrad,
  inputs: ['dy', 'x', 'b'],
  outputs: ([, xs, bs]) => [{ shape: xs!, dtype: 'float32' }, { shape: bs!, dtype: 'float32' }],
  compute([dy, x, b], [dx, db]) {
    const d = b!.length;
    for (let i = 0, j = 0; i < x!.length; i++) {
      const u = x![i]! + b![j]!;
      const u2 = u * u;
      const t = tanhFast(SQRT_2_OVER_PI * (u + GELU_C * u2 * u));
      // d/du 0.5u(1 + t) = 0.5(1 + t) + 0.5u(1 − t²)·√(2/π)(1 + 3·0.044715u²)
      const g = dy![i]! * (0.5 * (1 + t) + 0.5 * u * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * u2));
      dx![i] = g;
      db![j]! += g;
      if (++j === d) j = 0;
    }
  },
};

/** gelu(x + b): x (..., D), b (D) → (..., D). One kernel forward and one backward where available. */
export function biasGelu(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (b.rank !== 1 || lastDim(x.shape) !== b.shape[0]) {
    throw new AltarError('BAD_SHAPE', `biasGelu: need x (..., D) and b (D), got [${x.shape}] and [${b.shape}]`);
  }
  if (!useFused(FUSED_KERNELS.biasGelu)) return tf.tidy(() => geluComposition(tf.add(x, b)));
  return tf.engine().runKernel(FUSED_KERNELS.biasGelu, { x, b }) as tf.Tensor;
}

// ---------------------------------------------------------------- LayerNorm

/** The composition layerNormFused replaces: (x − mean) · rsqrt(var + eps) · g + b over the last axis. */
export function layerNormComposition(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), g), b);
  });
}

/** Row statistics in float64: mean and 1/√(var + eps) of row r of x (D wide). */
function rowStats(x: HostArray, off: number, d: number, eps: number): [number, number] {
  let s = 0;
  for (let k = 0; k < d; k++) s += x[off + k]!;
  const mean = s / d;
  let v = 0;
  for (let k = 0; k < d; k++) {
    const c = x[off + k]! - mean;
    v += c * c;
  }
  return [mean, 1 / Math.sqrt(v / d + eps)];
}

const layerNormSpec: HostKernelSpec = {
  name: FUSED_KERNELS.layerNorm,
  inputs: ['x', 'g', 'b'],
  outputs: ([xs]) => [{ shape: xs!, dtype: 'float32' }],
  compute([x, g, b], [y], [xs], attrs) {
    const d = lastDim(xs!);
    const eps = attrs['eps'] as number;
    for (let off = 0; off < x!.length; off += d) {
      const [mean, rstd] = rowStats(x!, off, d, eps);
      for (let k = 0; k < d; k++) y![off + k] = (x![off + k]! - mean) * rstd * g![k]! + b![k]!;
    }
  },
};

const layerNormGradSpec: HostKernelSpec = {
  name: FUSED_KERNELS.layerNormGrad,
  inputs: ['dy', 'x', 'g'],
  outputs: ([, xs, gs]) => [{ shape: xs!, dtype: 'float32' }, { shape: gs!, dtype: 'float32' }, { shape: gs!, dtype: 'float32' }],
  compute([dy, x, g], [dx, dg, db], [, xs], attrs) {
    const d = lastDim(xs!);
    const eps = attrs['eps'] as number;
    for (let off = 0; off < x!.length; off += d) {
      const [mean, rstd] = rowStats(x!, off, d, eps);
      // x̂ = (x − μ)·rstd, ĝ = dy·g: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); dg = Σ dy·x̂; db = Σ dy.
      let sg = 0;
      let sgx = 0;
      for (let k = 0; k < d; k++) {
        const xh = (x![off + k]! - mean) * rstd;
        const dyk = dy![off + k]!;
        const gh = dyk * g![k]!;
        sg += gh;
        sgx += gh * xh;
        dg![k]! += dyk * xh;
        db![k]! += dyk;
      }
      sg /= d;
      sgx /= d;
      for (let k = 0; k < d; k++) {
        const xh = (x![off + k]! - mean) * rstd;
        dx![off + k] = rstd * (dy![off + k]! * g![k]! - sg - xh * sgx);
      }
    }
  },
};

/** LayerNorm over the last axis with gain g (D) and bias b (D); one kernel each way where available. */
export function layerNormFused(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps = 1e-5): tf.Tensor {
  const d = lastDim(x.shape);
  if (g.rank !== 1 || b.rank !== 1 || g.shape[0] !== d || b.shape[0] !== d) {
    throw new AltarError('BAD_SHAPE', `layerNormFused: need x (..., D), g (D), b (D), got [${x.shape}], [${g.shape}], [${b.shape}]`);
  }
  if (!(eps > 0)) throw new AltarError('BAD_ARG', `layerNormFused: eps must be > 0, got ${eps}`);
  if (!useFused(FUSED_KERNELS.layerNorm)) return layerNormComposition(x, g, b, eps);
  return tf.engine().runKernel(FUSED_KERNELS.layerNorm, { x, g, b }, { eps } as unknown as NamedAttrMap) as tf.Tensor;
}

// ---------------------------------------------------------------- softmax cross-entropy

/** The composition softmaxCrossEntropy replaces: −Σ oneHot(y) · logSoftmax(logits) over the last axis. */
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

/** Per-row cross-entropy −log softmax(logits)[target] in nats: logits (..., V), targets int32 (...) → (...). */
export function softmaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor {
  if (logits.rank < 1 || targets.rank !== logits.rank - 1 || !tf.util.arraysEqual(targets.shape, logits.shape.slice(0, -1))) {
    throw new AltarError('BAD_SHAPE', `softmaxCrossEntropy: need logits (..., V) and targets (...), got [${logits.shape}] and [${targets.shape}]`);
  }
  if (!useFused(FUSED_KERNELS.crossEntropy)) return crossEntropyComposition(logits, targets);
  return tf.tidy(() => tf.engine().runKernel(FUSED_KERNELS.crossEntropy, { logits, targets: tf.cast(targets, 'int32') }) as tf.Tensor);
}

// ---------------------------------------------------------------- AdamW

export interface AdamwStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay factor applied to p first: p ← p·(1 − decay); 0 for no decay. */
  decay: number;
  /** Bias corrections 1 − β1^t and 1 − β2^t. */
  bc1: number;
  bc2: number;
  /** Multiplies g first (clipping, averaging over micro-batches). */
  gradScale: number;
}

const adamwSpec: HostKernelSpec = {
  name: FUSED_KERNELS.adamw,
  inputs: ['p', 'm', 'v', 'g'],
  outputs: ([ps]) => [0, 1, 2].map(() => ({ shape: ps!, dtype: 'float32' as const })),
  compute([p, m, v, g], [pOut, mOut, vOut], _s, a) {
    const { lr, beta1, beta2, eps, decay, bc1, bc2, gradScale } = a as unknown as AdamwStep;
    const keep = 1 - decay;
    // Float32 intermediates as in the composition: Math.fround after each rounding point of the tensor ops.
    for (let i = 0; i < p!.length; i++) {
      const gi = Math.fround(g![i]! * gradScale);
      const mi = Math.fround(Math.fround(m![i]! * beta1) + Math.fround(gi * (1 - beta1)));
      const vi = Math.fround(Math.fround(v![i]! * beta2) + Math.fround(Math.fround(gi * gi) * (1 - beta2)));
      mOut![i] = mi;
      vOut![i] = vi;
      const upd = Math.fround(Math.fround(mi / bc1) / Math.fround(Math.fround(Math.sqrt(Math.fround(vi / bc2))) + eps));
      const base = decay > 0 ? Math.fround(p![i]! * keep) : p![i]!;
      pOut![i] = base - Math.fround(upd * lr);
    }
  },
};

/** The composition adamwUpdate replaces (the per-parameter ops of AdamW), returning [p, m, v]. */
export function adamwComposition(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, s: AdamwStep): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const gs = s.gradScale === 1 ? g : tf.mul(g, s.gradScale);
    const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(gs, 1 - s.beta1));
    const vNew = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gs), 1 - s.beta2));
    const update = tf.div(tf.div(mNew, s.bc1), tf.add(tf.sqrt(tf.div(vNew, s.bc2)), s.eps));
    const base = s.decay > 0 ? tf.mul(p, 1 - s.decay) : p;
    return [tf.sub(base, tf.mul(update, s.lr)), mNew, vNew];
  });
}

/** One AdamW step for one parameter: returns new [p, m, v] (the caller assigns them). */
export function adamwUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, s: AdamwStep): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!useFused(FUSED_KERNELS.adamw)) return adamwComposition(p, m, v, g, s);
  return tf.engine().runKernel(FUSED_KERNELS.adamw, { p, m, v, g }, s as unknown as NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
}

// ---------------------------------------------------------------- squared norms of many tensors

const squaredNormsSpec: HostKernelSpec = {
  name: FUSED_KERNELS.squaredNorms,
  inputs: (attrs) => Array.from({ length: attrs['count'] as number }, (_, i) => `t${i}`),
  outputs: (shapes) => [{ shape: [shapes.length], dtype: 'float32' }],
  compute(ins, [out]) {
    ins.forEach((t, i) => {
      let s = 0;
      for (let k = 0; k < t.length; k++) s += t[k]! * t[k]!;
      out![i] = s;
    });
  },
};

/**
 * ‖t_i‖² of every tensor, as one (n) vector: one kernel where available (a global gradient norm per
 * step), else one Square + Sum per tensor stacked. No gradient.
 */
export function squaredNorms(tensors: tf.Tensor[]): tf.Tensor1D {
  if (tensors.length === 0) throw new AltarError('BAD_ARG', 'squaredNorms: need at least one tensor');
  if (!useFused(FUSED_KERNELS.squaredNorms)) return tf.tidy(() => tf.stack(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Tensor1D);
  const inputs: Record<string, tf.Tensor> = {};
  tensors.forEach((t, i) => (inputs[`t${i}`] = t));
  return tf.engine().runKernel(FUSED_KERNELS.squaredNorms, inputs, { count: tensors.length }) as tf.Tensor1D;
}

// ---------------------------------------------------------------- registration

let gradientsRegistered = false;

/** Register the fused host kernels (cpu, wasm) and their gradients. Idempotent; called by initBackend. */
export function registerFusedKernels(): string[] {
  const done: string[] = [];
  for (const spec of [biasGeluSpec, biasGeluGradSpec, layerNormSpec, layerNormGradSpec, crossEntropySpec, crossEntropyGradSpec, adamwSpec, squaredNormsSpec, decodeAttentionSpec]) {
    if (registerHostKernel(spec).length > 0) done.push(spec.name);
  }
  if (!gradientsRegistered) {
    gradientsRegistered = true;
    registerGradient({
      kernelName: FUSED_KERNELS.biasGelu,
      inputsToSave: ['x', 'b'],
      gradFunc: (dy, saved) => {
        const [x, b] = saved as [tf.Tensor, tf.Tensor];
        const [dx, db] = tf.engine().runKernel(FUSED_KERNELS.biasGeluGrad, { dy: dy as tf.Tensor, x, b }) as unknown as [tf.Tensor, tf.Tensor];
        return { x: () => dx, b: () => db };
      },
    });
    registerGradient({
      kernelName: FUSED_KERNELS.layerNorm,
      inputsToSave: ['x', 'g'],
      gradFunc: (dy, saved, attrs) => {
        const [x, g] = saved as [tf.Tensor, tf.Tensor];
        const [dx, dg, db] = tf.engine().runKernel(FUSED_KERNELS.layerNormGrad, { dy: dy as tf.Tensor, x, g }, attrs) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
        return { x: () => dx, g: () => dg, b: () => db };
      },
    });
    registerGradient({
      kernelName: FUSED_KERNELS.crossEntropy,
      inputsToSave: ['logits', 'targets'],
      gradFunc: (dy, saved) => {
        const [logits, targets] = saved as [tf.Tensor, tf.Tensor];
        const dl = tf.engine().runKernel(FUSED_KERNELS.crossEntropyGrad, { dy: dy as tf.Tensor, logits, targets }) as tf.Tensor;
        return { logits: () => dl, targets: () => tf.zerosLike(targets) };
      },
    });
  }
  return done;
}
