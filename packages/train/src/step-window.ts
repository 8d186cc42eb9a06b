/**
 * The trainer's per-step control on the device and its reading on the host. On the device (a few tiny ops, no
 * read-back): the loss sum and ‖g_p‖² of every parameter (one squaredNorms kernel), the NaN/Inf guard, the global
 * norm and the clipping scale. On the host, every `syncEvery` steps: one read of the window's stats, then each
 * step's loss, ‖g‖ and verdict in order, exactly as a read after every step would give them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { squaredNorms, type RngState } from '@altar/backend';
import type { TrainRecord } from './metrics.js';
import { NonFiniteError, type StepResult } from './trainer-types.js';

/** The largest finite float32: |x| ≤ it is false for ±Inf and NaN (no infinity constant on the device). */
const F32_MAX = 3.4028234663852886e38;

/**
 * Σ of the loss and of the gradients over `micro` micro-batches (the trainer divides by their number). Returns new
 * tensors the caller owns; on a throw, disposes what it made.
 */
export function accumulateGradients<B>(src: {
  micro: number;
  nextBatch: () => B;
  disposeBatch?: (batch: B) => void;
  tokensOf: (batch: B) => number;
  loss: (batch: B) => tf.Scalar;
  vars: tf.Variable[];
  /** The parameter name of a Variable's name (undefined: not one of ours, its gradient is dropped). */
  nameOf: (varName: string) => string | undefined;
}): { grads: Record<string, tf.Tensor>; lossSum: tf.Tensor; tokens: number } {
  const acc: Record<string, tf.Tensor> = {};
  let lossSum: tf.Tensor | null = null;
  let tokens = 0;
  try {
    for (let k = 0; k < src.micro; k++) {
      const batch = src.nextBatch();
      tokens += src.tokensOf(batch);
      let res: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        res = tf.variableGrads(() => src.loss(batch), src.vars);
      } finally {
        src.disposeBatch?.(batch);
      }
      if (lossSum === null) lossSum = res.value;
      else {
        const prevSum: tf.Tensor = lossSum;
        lossSum = tf.add(prevSum, res.value);
        prevSum.dispose();
        res.value.dispose();
      }
      for (const [vname, g] of Object.entries(res.grads)) {
        const name = src.nameOf(vname);
        if (name === undefined) {
          g.dispose();
          continue;
        }
        const prev = acc[name];
        if (prev) {
          acc[name] = tf.add(prev, g);
          prev.dispose();
          g.dispose();
        } else acc[name] = g;
      }
    }
  } catch (e) {
    lossSum?.dispose();
    tf.dispose(Object.values(acc));
    throw e;
  }
  return { grads: acc, lossSum: lossSum!, tokens };
}

/** What one step leaves on the device until the window is read. */
export interface StepControl {
  /** (1 + P): [loss summed over micro-batches, ‖g_p‖² per parameter]. */
  stats: tf.Tensor1D;
  /** Whether the update was applied (bool scalar; under 'stop' false from the first bad step of a window on). */
  go: tf.Scalar;
  /** `go` as float32 1/0 (AdamW's and the EMA's mask). */
  ok: tf.Scalar;
  /** min(1, gradClip/(‖g‖ + 1e-6)) / accumSteps, ‖g‖ = √Σ‖g_p‖² / accumSteps (1/accumSteps without clipping). */
  gradScale: tf.Scalar;
}

/** The step control's constants as device scalars, uploaded once per trainer rather than every step. */
export interface ControlConstants {
  f32Max: tf.Scalar;
  accum: tf.Scalar;
  eps: tf.Scalar;
  clip: tf.Scalar;
  one: tf.Scalar;
  /** gradClip > 0. */
  clipping: boolean;
}

/** Upload the constants `stepControl` uses (the caller disposes them). */
export function controlConstants(c: { accumSteps: number; gradClip: number }): ControlConstants {
  const [f32Max, accum, eps, clip, one] = [F32_MAX, c.accumSteps, 1e-6, c.gradClip, 1].map((x) => tf.scalar(x));
  return { f32Max: f32Max!, accum: accum!, eps: eps!, clip: clip!, one: one!, clipping: c.gradClip > 0 };
}

/**
 * The step's control tensors from its summed loss and accumulated gradients; `stillGood` (the window's running
 * verdict, for 'stop') makes the mask sticky. Returns new tensors the caller owns; uploads nothing.
 */
export function stepControl(
  lossSum: tf.Tensor,
  grads: tf.Tensor[],
  k: ControlConstants,
  stillGood: tf.Scalar | null,
): StepControl {
  return tf.tidy(() => {
    const stats = tf.concat([tf.reshape(lossSum, [1]), squaredNorms(grads)]) as tf.Tensor1D; // one kernel for all norms
    const finite = tf.all(tf.lessEqual(tf.abs(stats), k.f32Max)) as tf.Scalar; // false for NaN as well
    const go = stillGood ? (tf.logicalAnd(finite, stillGood) as tf.Scalar) : finite;
    const ok = tf.cast(go, 'float32') as tf.Scalar;
    const gnorm = tf.div(tf.sqrt(tf.sum(tf.slice(stats, 1))), k.accum);
    const clip = k.clipping ? tf.minimum(k.one, tf.div(k.clip, tf.add(gnorm, k.eps))) : k.one;
    const gradScale = tf.div(clip, k.accum) as tf.Scalar;
    return { stats, go, ok, gradScale };
  });
}

/** A step run on the device whose stats are not read yet. */
export interface PendingStep {
  stats: tf.Tensor1D;
  /** The parameter names of stats[1…]. */
  names: string[];
  step: number;
  lr: number;
  tokens: number;
  /** The trainer's position when the step began: restored when an earlier step of the window stops the run. */
  start: { batches: number; data: RngState; loss: RngState; dataState: unknown };
}

/**
 * The window's one read-back: every pending step's stats and the device counters (Adam's t, the EMA count) in one
 * concat + data(). Disposes the steps' stats.
 */
export async function readWindow(
  pend: PendingStep[],
  counters: tf.Tensor[],
): Promise<{ host: Float32Array; counts: number[] }> {
  const packed = tf.tidy(() => tf.concat([...pend.map((p) => p.stats), ...counters.map((x) => tf.reshape(x, [1]))]));
  tf.dispose(pend.map((p) => p.stats));
  try {
    const host = (await packed.data()) as Float32Array;
    return { host, counts: Array.from(host.subarray(host.length - counters.length)) };
  } finally {
    packed.dispose();
  }
}

/** One step's stats as read back: the mean loss, ‖g‖, the first non-finite entry and the largest gradient. */
export interface StepReading {
  loss: number;
  gradNorm: number;
  /** 'loss', the first parameter whose ‖g‖² is not finite, or null. */
  bad: string | null;
  largest: { name: string; norm: number } | null;
}

const rank = (sq: number): number => (Number.isNaN(sq) ? Infinity : sq);

/** Read one step's stats from `host` at `offset` (loss sum, then ‖g_p‖² in `names` order). */
export function readStep(host: Float32Array, offset: number, names: string[], accumSteps: number): StepReading {
  const loss = host[offset]! / accumSteps;
  let sq = 0;
  let bad: string | null = Number.isFinite(loss) ? null : 'loss';
  let largest: { name: string; norm: number } | null = null;
  for (let i = 0; i < names.length; i++) {
    const v = host[offset + 1 + i]!;
    if (!Number.isFinite(v) && bad === null) bad = names[i]!;
    // A non-finite norm ranks above every number (the first such parameter is named).
    if (largest === null || rank(v) > rank(largest.norm ** 2)) largest = { name: names[i]!, norm: Math.sqrt(v) };
    sq += v;
  }
  return { loss, gradNorm: Math.sqrt(sq) / accumSteps, bad, largest };
}

/** "step k: <what>; largest gradient norm in step k: 'a' (…), in step k−1: 'b' (…)". */
export function nonFiniteMessage(
  step: number,
  r: StepReading,
  prevLargest: { name: string; norm: number } | null,
): string {
  const what =
    r.bad === 'loss'
      ? `loss is ${r.loss}`
      : `gradient of parameter '${r.bad}' is not finite (NaN/Inf, or its squared norm overflowed float32)`;
  const fmt = (g: { name: string; norm: number }) =>
    `'${g.name}' (${Number.isFinite(g.norm) ? g.norm.toPrecision(3) : g.norm})`;
  const blame =
    (r.largest ? `; largest gradient norm in step ${step}: ${fmt(r.largest)}` : '') +
    (prevLargest && step > 1 ? `, in step ${step - 1}: ${fmt(prevLargest)}` : '');
  return `step ${step}: ${what}${blame}`;
}

/** The NonFiniteError of a bad step under 'stop' (names the step, the parameter and the largest gradients). */
export function nonFiniteError(
  step: number,
  r: StepReading,
  prevLargest: { name: string; norm: number } | null,
): NonFiniteError {
  return new NonFiniteError(
    step,
    r.bad === 'loss' ? null : r.bad,
    `${nonFiniteMessage(step, r, prevLargest)}; stopping (set train.nonFinite = 'skip' to skip such updates)`,
    r.largest?.name ?? null,
  );
}

/** A read step's metrics record and step result (`stepMs`: its share of the window's time). */
export function stepRecord(
  p: PendingStep,
  r: StepReading,
  stepMs: number,
  elapsedSec: number,
): { rec: TrainRecord; res: StepResult } {
  const skipped = r.bad !== null;
  const rec: TrainRecord = {
    kind: 'train',
    step: p.step,
    loss: r.loss,
    lr: p.lr,
    gradNorm: r.gradNorm,
    tokens: p.tokens,
    tokensPerSec: stepMs > 0 ? (p.tokens * 1000) / stepMs : 0,
    stepMs,
    elapsedSec,
    ...(skipped ? { skipped: true } : {}),
  };
  return {
    rec,
    res: { step: p.step, loss: r.loss, lr: p.lr, gradNorm: r.gradNorm, tokens: p.tokens, stepMs, skipped },
  };
}
