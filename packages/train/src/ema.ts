/**
 * Exponential moving average of the weights (Polyak averaging; used for eval and sampling as in
 * DDPM, Ho et al. 2020 §4, and MDLM). ema ← d·ema + (1 − d)·θ after every optimizer step, with the
 * warm-up d_t = min(d, (1 + t)/(10 + t)) of TensorFlow's ExponentialMovingAverage(num_updates) so the
 * average is not dominated by the random initialisation in short runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import { ownedVariable, type ParamMap } from './optimizer.js';

/**
 * An exponential moving average of parameters (Polyak averaging) with the warmup decay min(decay, (1 + t) / (10 + t));
 * `swapIn` evaluates with the averaged weights and puts the trained ones back.
 *
 * @example
 * ```ts
 * const ema = new Ema({ w }, 0.999);
 * // after each optimizer step:
 * ema.update();
 * // evaluate with the averaged weights:
 * const loss = await ema.swapIn(() => evaluate());
 * ema.dispose();
 * ```
 */
export class Ema {
  readonly decay: number;
  updates = 0;
  private readonly params: ParamMap;
  private readonly shadow: Record<string, tf.Variable> = {};
  /** `updates` on the device (float32 scalar), created by the first `updateMasked`; kept equal by every host path. */
  private updatesDevice: tf.Variable | null = null;

  constructor(params: ParamMap, decay: number) {
    if (!(decay >= 0 && decay < 1)) throw new AltarError('BAD_ARG', `Ema: decay must be in [0, 1), got ${decay}`);
    this.decay = decay;
    this.params = params;
    for (const [name, p] of Object.entries(params)) this.shadow[name] = ownedVariable(tf.clone(p));
  }

  /** The decay used for update number `t` (0-based). */
  decayAt(t: number): number {
    return Math.min(this.decay, (1 + t) / (10 + t));
  }

  update(): void {
    const d = this.decayAt(this.updates);
    this.updates += 1;
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        const s = this.shadow[name]!;
        s.assign(tf.add(tf.mul(s, d), tf.mul(p, 1 - d)));
      }
      this.updatesDevice?.assign(tf.scalar(this.updates));
    });
  }

  /**
   * `update()` steered by a device scalar, with no read-back: where `ok` (float32, 1 or 0) is 0 the averages stay
   * bit-exactly as they are and the update count does not advance. The decay comes from the device's count; the host
   * `updates` does not advance: read `deviceUpdates()` later and pass the value to `syncUpdates`.
   *
   * @example
   * ```ts
   * ema.updateMasked(ok); // after opt.applyControlled(grads, lr, gradScale, ok)
   * ema.syncUpdates((await ema.deviceUpdates().data())[0]!);
   * ```
   */
  updateMasked(ok: tf.Scalar): void {
    const u = this.deviceUpdates();
    tf.tidy(() => {
      // d_t = min(d, (1 + t)/(10 + t)) as in decayAt, in float32 on the device
      const d = tf.minimum(tf.scalar(this.decay), tf.div(tf.add(u, 1), tf.add(u, 10)));
      const keep = tf.sub(1, d);
      const go = tf.greater(ok, 0.5);
      for (const [name, p] of Object.entries(this.params)) {
        const s = this.shadow[name]!;
        s.assign(tf.where(go, tf.add(tf.mul(s, d), tf.mul(p, keep)), s));
      }
      u.assign(tf.add(u, ok));
    });
  }

  /**
   * The update count on the device (a float32 scalar Variable; live, do not dispose), created on first use.
   *
   * @example
   * ```ts
   * const updates = (await ema.deviceUpdates().data())[0]!;
   * ```
   */
  deviceUpdates(): tf.Variable {
    this.updatesDevice ??= ownedVariable(tf.scalar(this.updates));
    return this.updatesDevice;
  }

  /**
   * Set the host `updates` to a value read from `deviceUpdates()` (no upload).
   *
   * @example
   * ```ts
   * ema.syncUpdates((await ema.deviceUpdates().data())[0]!);
   * ```
   */
  syncUpdates(updates: number): void {
    this.updates = updates;
  }

  /** The averaged weights by parameter name (live Variables; do not dispose). */
  tensors(): Record<string, tf.Tensor> {
    return { ...this.shadow };
  }

  setState(updates: number, tensors: Record<string, tf.Tensor>): void {
    for (const [name, s] of Object.entries(this.shadow)) {
      const src = tensors[name];
      if (!src) throw new AltarError('BAD_CHECKPOINT', `EMA weights lack '${name}'`);
      if (!tf.util.arraysEqual(src.shape, s.shape))
        throw new AltarError(
          'BAD_CHECKPOINT',
          `EMA weight '${name}' has shape [${src.shape.join(', ')}], expected [${s.shape.join(', ')}]`,
        );
      s.assign(src);
    }
    this.updates = updates;
    if (this.updatesDevice) tf.tidy(() => this.updatesDevice!.assign(tf.scalar(updates)));
  }

  /**
   * Run `fn` with the EMA weights swapped into the parameters, then put the trained weights back
   * (also when `fn` throws).
   */
  async swapIn<T>(fn: () => T | Promise<T>): Promise<T> {
    const backup: Record<string, tf.Tensor> = {};
    for (const [name, p] of Object.entries(this.params)) {
      backup[name] = tf.clone(p);
      p.assign(this.shadow[name]!);
    }
    try {
      return await fn();
    } finally {
      for (const [name, p] of Object.entries(this.params)) {
        p.assign(backup[name]!);
        backup[name]!.dispose();
      }
    }
  }

  dispose(): void {
    for (const s of Object.values(this.shadow)) s.dispose();
    this.updatesDevice?.dispose();
    this.updatesDevice = null;
  }
}
