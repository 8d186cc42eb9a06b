/**
 * Optimizer-side fused kernels: one AdamW step per parameter (Loshchilov & Hutter 2019, Alg. 2) and the
 * squared norms of many tensors at once (the global gradient norm). No gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { AltarError } from '../errors.js';
import { useFused, type HostArray, type HostKernelSpec } from './host-kernel.js';
import { FUSED_KERNELS } from './names.js';
import { adamwWasm } from './optim-wasm.js';

/**
 * The scalars of one AdamW step (see `adamwUpdate`).
 *
 * @example
 * ```ts
 * const s: AdamwStep = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 1e-4, bc1: 0.1, bc2: 0.01, gradScale: 1 };
 * ```
 */
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

/**
 * The attributes of a device-controlled AdamW step (see `adamwUpdateControlled`): the scalars known before the
 * step runs. The gradient scale, the go/no-go flag and the step count t come in a control tensor instead, so a
 * training loop can compute them on the device (clipping, the NaN/Inf guard) without reading anything back.
 *
 * @example
 * ```ts
 * const s: AdamwControlledStep = { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 1e-4 };
 * ```
 */
export interface AdamwControlledStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled decay factor applied to p first: p ← p·(1 − decay); 0 for no decay. */
  decay: number;
}

/** AdamW over whole arrays in float32 steps: Math.fround after each rounding point of the composition's ops. */
function adamwHost(
  [p, m, v, g]: HostArray[],
  [pOut, mOut, vOut]: HostArray[],
  { lr, beta1, beta2, eps, decay, bc1, bc2, gradScale }: AdamwStep,
): void {
  const keep = 1 - decay;
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
}

/** The step's scalars: from the attributes, or with the control tensor [gradScale, ok, t]; null for a masked step. */
function stepOf(a: AdamwStep, ctl: HostArray | undefined): AdamwStep | null {
  if (!ctl) return a;
  const [gradScale, ok, t] = [ctl[0]!, ctl[1]!, ctl[2]!];
  if (!(ok > 0.5)) return null;
  // the bias corrections in float64 from the device's step count, as AdamW.apply computes them on the host
  return { ...a, gradScale, bc1: 1 - a.beta1 ** t, bc2: 1 - a.beta2 ** t };
}

interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  wasm?: { asm?: { memory?: unknown } };
}

/** wasm: the SIMD pass (optim-wasm.ts) over the first n − n mod 4 elements, the float32-stepped JS loop after. */
const adamwWasmKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmHeap;
  const a = attrs as unknown as AdamwStep & { controlled?: boolean };
  const ins = (a.controlled ? ['p', 'm', 'v', 'g', 'ctl'] : ['p', 'm', 'v', 'g']).map(
    (k) => (inputs as Record<string, TensorInfo>)[k]!,
  );
  const outs = [0, 1, 2].map(() => be.makeOutput(ins[0]!.shape, 'float32'));
  const arrays = ins.map((t) => be.typedArrayFromHeap(t)); // views after the last allocation
  const outArrays = outs.map((t) => be.typedArrayFromHeap(t));
  const s = stepOf(a, arrays[4]);
  const k = s ? adamwWasm(be) : null; // a masked step (s null) copies, in the host kernel below
  const n = arrays[0]!.length;
  const n4 = k ? n - (n % 4) : 0;
  if (k && n4 > 0) {
    const [p, m, v, g] = arrays.map((x) => x.byteOffset);
    const [po, mo, vo] = outArrays.map((x) => x.byteOffset);
    const f = Math.fround;
    k(p!, m!, v!, g!, po!, mo!, vo!, n4, f(s!.gradScale), f(s!.beta1), f(1 - s!.beta1), f(s!.beta2),
      f(1 - s!.beta2), f(s!.bc1), f(s!.bc2), f(s!.eps), f(s!.lr), f(1 - s!.decay)); // prettier-ignore
  }
  if (n4 < n) {
    // the rest (or everything) through the host kernel; the control tensor is passed whole
    const tail = (x: Float32Array, i: number) => (i < 4 ? x.subarray(n4) : x);
    adamwSpec.compute(
      arrays.map(tail),
      outArrays.map((x) => x.subarray(n4)),
      [],
      attrs as NamedAttrMap,
    );
  }
  return outs;
};

export const adamwSpec: HostKernelSpec = {
  name: FUSED_KERNELS.adamw,
  // attrs.controlled: a fifth input, the control tensor [gradScale, ok, t] (see adamwUpdateControlled)
  inputs: (attrs) => (attrs['controlled'] ? ['p', 'm', 'v', 'g', 'ctl'] : ['p', 'm', 'v', 'g']),
  outputs: ([ps]) => [0, 1, 2].map(() => ({ shape: ps!, dtype: 'float32' as const })),
  compute([p, m, v, g, ctl], outs, _s, a) {
    const s = stepOf(a as unknown as AdamwStep, ctl);
    if (!s) {
      // a masked step: bit-exact copies (NaN-safe: nothing of g is read)
      outs[0]!.set(p!);
      outs[1]!.set(m!);
      outs[2]!.set(v!);
      return;
    }
    adamwHost([p!, m!, v!, g!], outs, s);
  },
  wasm: adamwWasmKernel,
};

/**
 * The composition adamwUpdate replaces (the per-parameter ops of AdamW), returning [p, m, v].
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = adamwComposition(p, m, v, g, step);
 * ```
 */
export function adamwComposition(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  s: AdamwStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const gs = s.gradScale === 1 ? g : tf.mul(g, s.gradScale);
    const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(gs, 1 - s.beta1));
    const vNew = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gs), 1 - s.beta2));
    const update = tf.div(tf.div(mNew, s.bc1), tf.add(tf.sqrt(tf.div(vNew, s.bc2)), s.eps));
    const base = s.decay > 0 ? tf.mul(p, 1 - s.decay) : p;
    return [tf.sub(base, tf.mul(update, s.lr)), mNew, vNew];
  });
}

/**
 * One AdamW step for one parameter: returns new [p, m, v] (the caller assigns them). One kernel on
 * cpu/wasm, three WGSL dispatches on webgpu, the composition elsewhere.
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = adamwUpdate(p, m, v, g, step);
 * p.assign(p1); m.assign(m1); v.assign(v1);
 * ```
 */
export function adamwUpdate(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  s: AdamwStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (!useFused(FUSED_KERNELS.adamw)) return adamwComposition(p, m, v, g, s);
  return tf.engine().runKernel(FUSED_KERNELS.adamw, { p, m, v, g }, s as unknown as NamedAttrMap) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

/**
 * The composition adamwUpdateControlled replaces: AdamW with the bias corrections 1 − β^t computed from the control
 * tensor's t as −expm1(t·ln β), and `tf.where(ok, new, old)` so a masked step returns p, m, v unchanged.
 *
 * @example
 * ```ts
 * const [p1, m1, v1] = adamwControlledComposition(p, m, v, g, tf.tensor1d([0.5, 1, 3]), step);
 * ```
 */
export function adamwControlledComposition(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  ctl: tf.Tensor,
  s: AdamwControlledStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const [gradScale, okF, t] = tf.unstack(ctl);
    const ok = tf.greater(okF!, 0.5);
    const bc = (beta: number) => tf.neg(tf.expm1(tf.mul(t!, lnBeta(beta))));
    const gs = tf.mul(g, gradScale!);
    const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(gs, 1 - s.beta1));
    const vNew = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(gs), 1 - s.beta2));
    const update = tf.div(tf.div(mNew, bc(s.beta1)), tf.add(tf.sqrt(tf.div(vNew, bc(s.beta2))), s.eps));
    const base = s.decay > 0 ? tf.mul(p, 1 - s.decay) : p;
    const pNew = tf.sub(base, tf.mul(update, s.lr));
    return [tf.where(ok, pNew, p), tf.where(ok, mNew, m), tf.where(ok, vNew, v)];
  });
}

/**
 * ln β for 1 − β^t = −expm1(t·ln β), floored at −80 (β = 0 gives 1 − β^t = 1 without an infinity).
 *
 * @example
 * ```ts
 * lnBeta(0.9); // −0.10536…
 * ```
 */
export const lnBeta = (beta: number): number => Math.max(Math.log(beta), -80);

function checkControl(ctl: tf.Tensor): void {
  if (ctl.dtype !== 'float32' || ctl.size !== 3 || ctl.rank !== 1)
    throw new AltarError(
      'BAD_ARG',
      `adamwUpdateControlled: ctl must be a float32 [3] tensor [gradScale, ok, t], got ${ctl.dtype} [${ctl.shape.join(', ')}]`,
    );
}

/**
 * One AdamW step whose outcome-dependent scalars live on the device: `ctl` = float32 [gradScale, ok, t], where
 * `t` is this update's step number (≥ 1; the bias corrections are 1 − β^t) and `ok` ≤ 0.5 masks the step: p, m, v
 * come back as bit-exact copies and nothing of g is used (a NaN gradient leaks nowhere). Returns new [p, m, v].
 * One kernel on cpu/wasm, three WGSL dispatches on webgpu, the composition with `tf.where` elsewhere.
 *
 * @example
 * ```ts
 * const ctl = tf.stack([gradScale, ok, tNew]); // computed on the device: no read-back
 * const [p1, m1, v1] = adamwUpdateControlled(p, m, v, g, ctl, { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 0 });
 * p.assign(p1); m.assign(m1); v.assign(v1);
 * ```
 */
export function adamwUpdateControlled(
  p: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  g: tf.Tensor,
  ctl: tf.Tensor,
  s: AdamwControlledStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  checkControl(ctl);
  if (!useFused(FUSED_KERNELS.adamw)) return adamwControlledComposition(p, m, v, g, ctl, s);
  const attrs = { ...s, controlled: true } as unknown as NamedAttrMap;
  return tf.engine().runKernel(FUSED_KERNELS.adamw, { p, m, v, g, ctl }, attrs) as unknown as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}

export const squaredNormsSpec: HostKernelSpec = {
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
 *
 * @example
 * ```ts
 * squaredNorms([tf.tensor1d([3, 4]), tf.scalar(2)]); // [25, 4]
 * ```
 */
export function squaredNorms(tensors: tf.Tensor[]): tf.Tensor1D {
  if (tensors.length === 0) throw new AltarError('BAD_ARG', 'squaredNorms: need at least one tensor');
  if (!useFused(FUSED_KERNELS.squaredNorms))
    return tf.tidy(() => tf.stack(tensors.map((t) => tf.sum(tf.square(t)))) as tf.Tensor1D);
  const inputs: Record<string, tf.Tensor> = {};
  tensors.forEach((t, i) => (inputs[`t${i}`] = t));
  return tf.engine().runKernel(FUSED_KERNELS.squaredNorms, inputs, { count: tensors.length }) as tf.Tensor1D;
}
