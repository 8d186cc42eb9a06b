/**
 * AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) with the
 * PyTorch convention for the decay: θ ← θ·(1 − η·λ) − η·m̂/(√v̂ + ε), where
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², m̂ = m/(1−β1^t), v̂ = v/(1−β2^t) (Kingma & Ba 2015, Alg. 1).
 * λ = 0 is plain Adam. The moments are Variables the optimizer owns; `stateTensors()` exposes them
 * (with the step count) so a checkpoint can save and restore them bit-exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, adamwUpdate, adamwUpdateControlled } from '@altar/backend';

/**
 * AdamW's hyper-parameters (Loshchilov & Hutter 2019): the moment decays, ε, decoupled weight decay, and which
 * parameters decay.
 *
 * @example
 * ```ts
 * const config: Partial<AdamWConfig> = { beta2: 0.95, weightDecay: 0.1, decays: (name) => !name.endsWith('.bias') };
 * const opt = new AdamW(params, config);
 * ```
 */
export interface AdamWConfig {
  /** β1: the gradient's moving-average rate (0.9, Kingma & Ba). */
  beta1: number;
  /** β2: 0.99 rather than 0.999 is the usual choice for short runs of small transformers (faster v adaptation). */
  beta2: number;
  /** ε: 1e-8 keeps float32 safe in √v̂ + ε. */
  eps: number;
  /** λ: decoupled weight decay; applied only where `decays(name, shape)` says so. */
  weightDecay: number;
  /** Which parameters decay. Default: rank ≥ 2 (matrices, embeddings), never biases or norm gains. */
  decays?: (name: string, shape: number[]) => boolean;
}

/**
 * AdamW's defaults: β1 0.9, β2 0.99 (small models, short runs), ε 1e-8, no weight decay.
 *
 * @example
 * ```ts
 * new AdamW(params, { ...defaultAdamWConfig, weightDecay: 0.01 });
 * ```
 */
export const defaultAdamWConfig: AdamWConfig = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 };

/**
 * A non-trainable Variable holding `init`'s values; `init` is disposed.
 *
 * @example
 * ```ts
 * const m = ownedVariable(tf.zerosLike(w)); // optimizer state: never trained itself, disposed with its owner
 * ```
 */
export function ownedVariable(init: tf.Tensor): tf.Variable {
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}

/**
 * Trainable parameters by name: the names checkpoints and optimizer state use.
 *
 * @example
 * ```ts
 * const params: ParamMap = { 'layer0.w': tf.variable(tf.randomNormal([4, 4])), 'layer0.b': tf.variable(tf.zeros([4])) };
 * ```
 */
export type ParamMap = Record<string, tf.Variable>;

/**
 * AdamW over a {@link ParamMap}: bias-corrected moments, weight decay decoupled from the gradient step, state
 * exportable for checkpoints (`stateTensors` / `setState`).
 *
 * @example
 * ```ts
 * const w = tf.variable(tf.zeros([1]));
 * const opt = new AdamW({ w }, { weightDecay: 0 });
 * const { grads } = tf.variableGrads(() => tf.square(tf.sub(w, 3)).sum() as tf.Scalar, [w]);
 * opt.apply({ w: grads[w.name]! }, 0.1); // w ≈ 0.1: Adam's first step has size lr
 * tf.dispose(Object.values(grads));
 * ```
 */
export class AdamW {
  readonly config: AdamWConfig;
  /** Number of updates applied so far (t in the bias corrections). */
  t = 0;
  private readonly params: ParamMap;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};
  /** t on the device (float32 scalar), created by the first `applyControlled`; kept equal to `t` by every host path. */
  private tDevice: tf.Variable | null = null;

  constructor(params: ParamMap, config: Partial<AdamWConfig> = {}) {
    this.config = { ...defaultAdamWConfig, ...config };
    this.params = params;
    for (const [name, p] of Object.entries(params)) {
      this.m[name] = ownedVariable(tf.zerosLike(p));
      this.v[name] = ownedVariable(tf.zerosLike(p));
    }
  }

  /**
   * One update with learning rate `lr`. `grads` maps parameter names to gradients (a missing name
   * means a zero gradient); every gradient is multiplied by `gradScale` first (clipping, averaging
   * over accumulated micro-batches). Does not dispose `grads`.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, gradScale = 1): void {
    if (!Number.isFinite(lr)) throw new AltarError('BAD_ARG', `AdamW.apply: learning rate must be finite, got ${lr}`);
    this.t += 1;
    if (this.tDevice) tf.tidy(() => this.tDevice!.assign(tf.scalar(this.t)));
    const { beta1, beta2, eps, weightDecay } = this.config;
    const decays = this.decays();
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        const g = grads[name] ?? tf.zerosLike(p);
        const m = this.m[name]!;
        const v = this.v[name]!;
        const decay = weightDecay > 0 && decays(name, p.shape) ? lr * weightDecay : 0;
        // One fused kernel per parameter on cpu/wasm (the same arithmetic as the ops it replaces).
        const [pNew, mNew, vNew] = adamwUpdate(p, m, v, g, { lr, beta1, beta2, eps, decay, bc1, bc2, gradScale });
        m.assign(mNew);
        v.assign(vNew);
        p.assign(pNew);
      }
    });
  }

  /**
   * One update steered by device scalars, with no read-back: `ok` (float32, 1 or 0) masks the whole update (p, m, v
   * stay bit-exactly as they are, the step count does not advance, a NaN gradient leaks nowhere) and `gradScale`
   * multiplies every gradient (clipping, averaging). The device's step count advances by `ok`; the host `t` does not:
   * read `deviceStep()` later and pass the value to `syncStep`. Does not dispose its arguments.
   *
   * @example
   * ```ts
   * const ok = tf.cast(tf.isFinite(loss), 'float32') as tf.Scalar;
   * opt.applyControlled(grads, 1e-3, tf.scalar(1), ok);
   * opt.syncStep((await opt.deviceStep().data())[0]!);
   * ```
   */
  applyControlled(grads: Record<string, tf.Tensor>, lr: number, gradScale: tf.Scalar, ok: tf.Scalar): void {
    if (!Number.isFinite(lr))
      throw new AltarError('BAD_ARG', `AdamW.applyControlled: learning rate must be finite, got ${lr}`);
    const tDev = this.deviceStep();
    const { beta1, beta2, eps, weightDecay } = this.config;
    const decays = this.decays();
    tf.tidy(() => {
      const tNew = tf.add(tDev, ok);
      const ctl = tf.stack([gradScale, ok, tNew]); // [gradScale, ok, t] (adamwUpdateControlled)
      for (const [name, p] of Object.entries(this.params)) {
        const g = grads[name] ?? tf.zerosLike(p);
        const m = this.m[name]!;
        const v = this.v[name]!;
        const decay = weightDecay > 0 && decays(name, p.shape) ? lr * weightDecay : 0;
        const [pNew, mNew, vNew] = adamwUpdateControlled(p, m, v, g, ctl, { lr, beta1, beta2, eps, decay });
        m.assign(mNew);
        v.assign(vNew);
        p.assign(pNew);
      }
      tDev.assign(tNew);
    });
  }

  /**
   * The step count on the device (a float32 scalar Variable; live, do not dispose), created on first use from `t`.
   *
   * @example
   * ```ts
   * const t = (await opt.deviceStep().data())[0]!;
   * ```
   */
  deviceStep(): tf.Variable {
    this.tDevice ??= ownedVariable(tf.scalar(this.t));
    return this.tDevice;
  }

  /**
   * Set the host step count `t` to a value read from `deviceStep()` (no upload).
   *
   * @example
   * ```ts
   * opt.syncStep((await opt.deviceStep().data())[0]!);
   * ```
   */
  syncStep(t: number): void {
    this.t = t;
  }

  private decays(): (name: string, shape: number[]) => boolean {
    return this.config.decays ?? ((_n: string, shape: number[]) => shape.length >= 2);
  }

  /** The moment Variables by name: `m.<param>` and `v.<param>` (live; do not dispose). */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const name of Object.keys(this.params)) {
      out[`m.${name}`] = this.m[name]!;
      out[`v.${name}`] = this.v[name]!;
    }
    return out;
  }

  /** Restore moments saved by `stateTensors()` and the step count. Throws naming a missing or misshapen entry. */
  setState(t: number, tensors: Record<string, tf.Tensor>): void {
    for (const name of Object.keys(this.params)) {
      for (const [prefix, store] of [
        ['m', this.m],
        ['v', this.v],
      ] as const) {
        const key = `${prefix}.${name}`;
        const src = tensors[key];
        const dst = store[name]!;
        if (!src) throw new AltarError('BAD_CHECKPOINT', `optimizer state lacks '${key}'`);
        if (!tf.util.arraysEqual(src.shape, dst.shape))
          throw new AltarError(
            'BAD_CHECKPOINT',
            `optimizer state '${key}' has shape [${src.shape.join(', ')}], expected [${dst.shape.join(', ')}]`,
          );
        dst.assign(src);
      }
    }
    this.t = t;
    if (this.tDevice) tf.tidy(() => this.tDevice!.assign(tf.scalar(t)));
  }

  dispose(): void {
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
    this.tDevice?.dispose();
    this.tDevice = null;
  }
}
