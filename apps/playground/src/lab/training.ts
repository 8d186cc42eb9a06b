/**
 * The Lab's training step: the slot's Trainer for the current lr / batch, one optimiser step with the
 * continuous families' bound evaluation, and the 'train' event the page plots.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, Rng } from '@altar/backend';
import { Trainer, type ParamMap } from '@altar/train';
import type { WorkerEvent } from '../protocol.js';
import { isContinuous, type Family } from '../state.js';
import { IMAGE_TRAIN } from './continuous.js';
import { interactiveTrainConfig } from './families.js';
import { BOUND_EVAL, type Slot } from './slot.js';
import type { Sources } from './sources.js';

/** The slot's step count: steps of earlier trainers plus the current one's. */
export function stepOf(s: Slot): number {
  return s.stepBase + (s.trainer?.step ?? 0);
}

/** A Trainer for the slot's current lr / batch (a change starts a fresh optimiser state). */
export function slotTrainer(src: Sources, s: Slot, lr: number, batch: number): Trainer<tf.Tensor2D> {
  if (s.trainer && s.lr === lr && s.batch === batch) return s.trainer;
  if (s.trainer) {
    s.stepBase += s.trainer.step;
    s.trainer.dispose();
  }
  s.lr = lr;
  s.batch = batch;
  const rt = s.runtime;
  const nextBatch = rt.nextBatch
    ? (rng: Rng) => rt.nextBatch!(rng, batch)
    : (rng: Rng) => src.hmm.sampleTensor(batch, rng);
  const base = interactiveTrainConfig(rt.family, lr, s.seed + s.stepBase);
  s.trainer = new Trainer<tf.Tensor2D>({
    params: rt.model.getWeights() as ParamMap,
    loss: rt.loss,
    nextBatch,
    disposeBatch: (b) => b.dispose(),
    // Tokens, points or pixels per step, for the speed figure.
    tokensPerBatch: batch * (rt.unitsPerExample ?? src.hmm.seqLen),
    // Constant lr after a short warmup; the continuous families add a longer warmup and EMA weights.
    config:
      rt.family === 'gaussian-image'
        ? { ...base, warmupSteps: IMAGE_TRAIN.warmupSteps, emaDecay: IMAGE_TRAIN.emaDecay }
        : base,
  });
  return s.trainer;
}

/** One optimiser step (call it under the Lab's lock); the loss in bits per token (exact NLL for AR/SSM, NELBO for diffusion). */
export async function trainStep(src: Sources, f: Family, s: Slot, lr: number, batch: number): Promise<number> {
  const tr = slotTrainer(src, s, lr, batch);
  const t0 = performance.now();
  const r = await tr.trainStep();
  s.busySec += (performance.now() - t0) / 1000;
  s.tokens += r.tokens;
  if (!Number.isFinite(r.loss))
    throw new AltarError(
      'NON_FINITE',
      `training ${f}: loss became ${r.loss} at step ${stepOf(s)}; lower the learning rate (lr=${lr})`,
    );
  // Token losses are nats per token → bits; the continuous families' prediction MSE is shown as it is.
  const loss = s.source === 'hmm' ? r.loss / Math.LN2 : r.loss;
  const ev = isContinuous(f) ? BOUND_EVAL[f] : null;
  const step = stepOf(s);
  if (ev && s.runtime.boundBits && (step % ev.every === 0 || step === 1)) {
    // The bound of the weights the sampler uses (the EMA) in bits/dim, comparable with the entropy, on
    // fresh data, noise and times at every evaluation, so each point is an unbiased estimate. (Fixed draws
    // made a smoother curve, but a biased one: the one-sample estimate is skewed, so a typical fixed draw
    // sits below its mean, and the 2-D curve crossed the entropy. Log-SNR-uniform times keep fresh draws
    // quiet instead.)
    const rng = new Rng(s.seed ^ 0x5eed).fork(`bound:${step}`);
    const bound = s.runtime.boundBits;
    const r = await tr.withEvalWeights(() => bound(rng, ev.n));
    s.boundBits = r.bits;
    s.boundStdErr = r.stdErr;
    s.boundStep = step;
  }
  return loss;
}

/** The floor for the bits/dim (or bits/token) curve: the source's entropy where it is known. */
export function entropyOf(src: Sources, s: Slot): number | null {
  if (s.source === 'hmm') return src.tokenInfo().entropyBits;
  if (s.source === 'shapes') return null; // procedural images: no known density
  return src.sourceInfo(s.source).entropyBits;
}

/** The 'train' event for the slot's latest step (`bits` NaN for the final one of a loop). */
export function trainEvent(src: Sources, f: Family, s: Slot, bits: number): WorkerEvent {
  return {
    type: 'train',
    family: f,
    step: stepOf(s),
    bits,
    running: s.running,
    tokensPerSec: s.busySec > 0 ? s.tokens / s.busySec : 0,
    entropyBits: entropyOf(src, s),
    bound: s.boundBits === null ? null : { step: s.boundStep, bits: s.boundBits, stdErr: s.boundStdErr },
    unit: s.source === 'hmm' ? 'token' : s.source === 'shapes' ? 'pixel' : 'point',
  };
}
