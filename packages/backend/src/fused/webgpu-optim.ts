/**
 * AdamW (Loshchilov & Hutter 2019, Alg. 2) in WGSL for the webgpu backend: three dispatches per parameter (p, m
 * and v, each recomputing the cheap moments), the scalars as uniforms (no uploads).
 *
 * With `attrs.controlled` the step's gradient scale, go/no-go flag and step count t come from a float32 [3] control
 * tensor computed on the device (see `adamwUpdateControlled`): where ok = 0 every output is a copy of its input, and
 * the bias corrections 1 − β^t are −expm1(t·ln β) (a Taylor series near 0, where 1 − exp would cancel), so a
 * training loop needs no read-back to clip or skip.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { lnBeta } from './optim.js';
import { f32, LoopProgram, run, sizeOf } from './webgpu-program.js';

// Every program reads every binding (the phony assignment _ = P[t]): WebGPU's automatic bind-group layout drops
// an unused binding, and tfjs binds all inputs.
const ADAM = `
  _ = P[t];
  let g = G[t] * uniforms.gradScale;
  let m = M[t] * uniforms.beta1 + g * (1.0 - uniforms.beta1);
  let v = V[t] * uniforms.beta2 + (g * g) * (1.0 - uniforms.beta2);`;

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

const CONTROLLED = `
  var po = P[t];
  var mo = M[t];
  var vo = V[t];
  if (CTL[1] > 0.5) {
    let g = G[t] * CTL[0];
    mo = M[t] * uniforms.beta1 + g * (1.0 - uniforms.beta1);
    vo = V[t] * uniforms.beta2 + (g * g) * (1.0 - uniforms.beta2);
    let bc1 = altarOneMinusPow(uniforms.lnb1, CTL[2]);
    let bc2 = altarOneMinusPow(uniforms.lnb2, CTL[2]);
    po = P[t] * uniforms.keep - ((mo / bc1) / (sqrt(vo / bc2) + uniforms.eps)) * uniforms.lr;
  }`;

function controlledAdamw(inputs: Record<string, TensorInfo>, backend: unknown, a: Record<string, number>) {
  const { p, m, v, g, ctl } = inputs as { p: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo; ctl: TensorInfo };
  const n = sizeOf(p);
  const uni = 'lr : f32, beta1 : f32, beta2 : f32, eps : f32, keep : f32, lnb1 : f32, lnb2 : f32,';
  const values = f32(
    a['lr']!,
    a['beta1']!,
    a['beta2']!,
    a['eps']!,
    1 - a['decay']!,
    lnBeta(a['beta1']!),
    lnBeta(a['beta2']!),
  );
  const outs: Array<[string, string]> = [
    ['adamwc_p', `${CONTROLLED}\n result[t] = po;`],
    ['adamwc_m', `${CONTROLLED}\n result[t] = mo;`],
    ['adamwc_v', `${CONTROLLED}\n result[t] = vo;`],
  ];
  return outs.map(([name, body]) =>
    run(
      backend,
      new ControlledAdamProgram(name, ['P', 'M', 'V', 'G', 'CTL'], p.shape, n, body, uni),
      [p, m, v, g, ctl],
      values,
    ),
  );
}

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
  if ((attrs as { controlled?: boolean }).controlled)
    return controlledAdamw(inputs as Record<string, TensorInfo>, backend, a);
  const { p, m, v, g } = inputs as { p: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
  const n = sizeOf(p);
  const uni = 'lr : f32, beta1 : f32, beta2 : f32, eps : f32, keep : f32, bc1 : f32, bc2 : f32, gradScale : f32,';
  const values = f32(
    a['lr']!,
    a['beta1']!,
    a['beta2']!,
    a['eps']!,
    1 - a['decay']!,
    a['bc1']!,
    a['bc2']!,
    a['gradScale']!,
  );
  const outs: Array<[string, string]> = [
    [
      'adamw_p',
      `${ADAM}\n result[t] = P[t] * uniforms.keep - ((m / uniforms.bc1) / (sqrt(v / uniforms.bc2) + uniforms.eps)) * uniforms.lr;`,
    ],
    ['adamw_m', `${ADAM}\n result[t] = m;`],
    ['adamw_v', `${ADAM}\n result[t] = v;`],
  ];
  return outs.map(([name, body]) =>
    run(backend, new LoopProgram(name, ['P', 'M', 'V', 'G'], p.shape, n, body, uni), [p, m, v, g], values),
  );
};
