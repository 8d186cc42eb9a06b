/**
 * AdamW (Loshchilov & Hutter 2019, Alg. 2) in WGSL for the webgpu backend: one dispatch per parameter writes p, m
 * and v into one buffer, split by three buffer copies (a dispatch costs the host ~60 µs, a copy a few); the scalars
 * as uniforms (no uploads).
 *
 * With `attrs.controlled` the step's gradient scale, go/no-go flag and step count t come from a float32 [3] control
 * tensor computed on the device (see `adamwUpdateControlled`): where ok = 0 every output is a copy of its input, and
 * the bias corrections 1 − β^t are −expm1(t·ln β) (a Taylor series near 0, where 1 − exp would cancel), so a
 * training loop needs no read-back to clip or skip.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { lnBeta } from './optim.js';
import { f32, LoopProgram, run, sizeOf, splitFlat } from './webgpu-program.js';

/** The moments m, v of one element from its gradient times `scale` (a WGSL expression). */
const moments = (scale: string) => `
  let g = G[t] * ${scale};
  let m = M[t] * uniforms.beta1 + g * (1.0 - uniforms.beta1);
  let v = V[t] * uniforms.beta2 + (g * g) * (1.0 - uniforms.beta2);`;

/** The updated parameter from m, v and the bias corrections bc1 = 1 − β₁^t, bc2 = 1 − β₂^t. */
const update = (bc1: string, bc2: string) =>
  `P[t] * uniforms.keep - ((m / ${bc1}) / (sqrt(v / ${bc2}) + uniforms.eps)) * uniforms.lr`;

/** 1 − β^n = −expm1(x), x = n·ln β: Horner over 12 Taylor terms for x > −0.5 (error < 1e-10), else 1 − exp(x). */
const ONE_MINUS_POW = `
fn altarOneMinusPow(lnb : f32, n : f32) -> f32 {
  let x = n * lnb;
  if (x <= -0.5) { return 1.0 - exp(x); }
  var r = 1.0;
  for (var k = 12; k >= 2; k = k - 1) { r = 1.0 + x * r / f32(k); }
  return -x * r;
}
`;

/** A LoopProgram with the bias-correction helper in front of `main`. */
class ControlledAdamProgram extends LoopProgram {
  override getUserCode(): string {
    return ONE_MINUS_POW + super.getUserCode();
  }
}

// Every program reads every binding (P[t] in each body): WebGPU's automatic bind-group layout drops an unused
// binding, and tfjs binds all inputs. The body leaves (po, mo, vo) for the caller to store.
const PLAIN = `
  _ = P[t];
  ${moments('uniforms.gradScale')}
  let po = ${update('uniforms.bc1', 'uniforms.bc2')};
  let mo = m;
  let vo = v;`;

const CONTROLLED = `
  var po = P[t];
  var mo = M[t];
  var vo = V[t];
  if (CTL[1] > 0.5) {
    ${moments('CTL[0]')}
    let bc1 = altarOneMinusPow(uniforms.lnb1, CTL[2]);
    let bc2 = altarOneMinusPow(uniforms.lnb2, CTL[2]);
    po = ${update('bc1', 'bc2')};
    mo = m;
    vo = v;
  }`;

/**
 * The AltarAdamW kernel on webgpu: [p, m, v] from the scalar attributes, or from the control tensor when
 * `attrs.controlled`.
 *
 * @example
 * ```ts
 * registerKernel({ kernelName: FUSED_KERNELS.adamw, backendName: 'webgpu', kernelFunc: adamwWebgpu });
 * ```
 */
export const adamwWebgpu: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as Record<string, number>;
  const controlled = (attrs as { controlled?: boolean }).controlled === true;
  const ins = inputs as Record<string, TensorInfo>;
  const p = ins['p']!;
  const n = sizeOf(p);
  const common = [a['lr']!, a['beta1']!, a['beta2']!, a['eps']!, 1 - a['decay']!];
  const uni = `lr : f32, beta1 : f32, beta2 : f32, eps : f32, keep : f32, ${
    controlled ? 'lnb1 : f32, lnb2 : f32,' : 'bc1 : f32, bc2 : f32, gradScale : f32,'
  }`;
  const values = controlled
    ? f32(...common, lnBeta(a['beta1']!), lnBeta(a['beta2']!))
    : f32(...common, a['bc1']!, a['bc2']!, a['gradScale']!);
  const names = controlled ? ['P', 'M', 'V', 'G', 'CTL'] : ['P', 'M', 'V', 'G'];
  const tensors = names.map((k) => ins[k.toLowerCase()]!);
  const Program = controlled ? ControlledAdamProgram : LoopProgram;
  const body = controlled ? CONTROLLED : PLAIN;
  // One dispatch writes [p' | m' | v'] into one buffer; three buffer copies split it.
  const packed = run(
    backend,
    new Program(
      `adamw${controlled ? 'c' : ''}_pmv`,
      names,
      [3 * n],
      n,
      `${body}
 result[t] = po;
 result[t + uniforms.threads] = mo;
 result[t + 2 * uniforms.threads] = vo;`,
      uni,
    ),
    tensors,
    values,
  );
  return splitFlat(backend, packed, [p.shape, p.shape, p.shape]);
};
