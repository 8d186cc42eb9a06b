/**
 * The Lab's sampling and scoring: a slot's samples, the AR-vs-diffusion race, the steps sweep and the
 * ELBO anatomy (anatomy.ts).
 */
import { AltarError, Rng } from '@altar/backend';
import type { DiffusionTransformer } from '@altar/models';
import type { ElboResult, RaceResult, SampleResult, SweepPoint } from '../protocol.js';
import { SAMPLERS_BY_FAMILY, type Family } from '../state.js';
import { elboTerms, oneTermSamples } from './anatomy.js';
import { sampleResult } from './results.js';
import type { Slot } from './slot.js';
import type { Sources } from './sources.js';

export const yieldToEvents = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/** One sampling run of a family at T steps (the Lab's `sample` with its seed, batch and size fixed). */
export type SampleFn = (family: Family, T: number) => Promise<SampleResult>;

/** `sampler`: 'auto' (the family's default) or one of SAMPLERS_BY_FAMILY[family]; anything else is an error naming the choices. */
export function checkSampler(family: Family, sampler: string): void {
  const list = SAMPLERS_BY_FAMILY[family];
  if (sampler !== 'auto' && !list.includes(sampler))
    throw new AltarError(
      'BAD_ARG',
      `sample: sampler '${sampler}' does not apply to ${family} (use ${list.join(', ')})`,
    );
}

/** Samples from the slot's model (call it under the Lab's lock). */
export async function sampleSlot(
  src: Sources,
  s: Slot,
  family: Family,
  T: number,
  seed: number,
  batch: number,
  sampler: string,
): Promise<SampleResult> {
  const rng = new Rng(seed).fork(`sample:${family}:${T}`);
  const B = family === 'gaussian' ? Math.max(batch, 400) : batch;
  // Sample with the trainer's EMA weights where it keeps them (the continuous families).
  const run = s.trainer
    ? await s.trainer.withEvalWeights(() => s.runtime.sample(rng, B, T, sampler))
    : await s.runtime.sample(rng, B, T, sampler);
  return sampleResult(src, family, run, B, s.runtime.model, s.source, s.boundBits);
}

export async function raceOf(sample: SampleFn, src: Sources, T: number): Promise<RaceResult> {
  const ar = await sample('ar', T);
  const mdm = await sample('masked-diffusion', T);
  return { ar, mdm, n: src.hmm.seqLen, T, entropyBits: src.tokenInfo().entropyBits! };
}

export async function sweepOf(
  sample: SampleFn,
  src: Sources,
  Ts: number[],
): Promise<{ points: SweepPoint[]; ar: SweepPoint; entropyBits: number }> {
  const points: SweepPoint[] = [];
  for (const T of Ts) {
    const r = await sample('masked-diffusion', T);
    points.push({
      T,
      nfe: r.cost.nfe,
      weightBytesLoaded: r.cost.weightBytesLoaded,
      wallMs: r.cost.wallMs,
      nllBits: r.nllBits,
    });
    await yieldToEvents();
  }
  const a = await sample('ar', 0);
  const ar = {
    T: src.hmm.seqLen,
    nfe: a.cost.nfe,
    weightBytesLoaded: a.cost.weightBytesLoaded,
    wallMs: a.cost.wallMs,
    nllBits: a.nllBits,
  };
  return { points, ar, entropyBits: src.tokenInfo().entropyBits! };
}

/** The ELBO anatomy of the masked-diffusion slot's model at T steps (call it under the Lab's lock). */
export async function elboOf(src: Sources, s: Slot, T: number, seed: number, draws: number): Promise<ElboResult> {
  const proc = s.runtime.masked!;
  const den = s.runtime.model as DiffusionTransformer;
  const rng = new Rng(seed).fork(`elbo:${T}`);
  const evalSet = src.hmm.sampleTensor(48, rng);
  let terms: number[];
  try {
    terms = await elboTerms(proc, den, evalSet, T, rng);
  } finally {
    evalSet.dispose();
  }
  const estimates: number[] = [];
  while (estimates.length < draws) {
    const x = src.hmm.sampleTensor(Math.min(64, draws - estimates.length), rng);
    try {
      estimates.push(...(await oneTermSamples(proc, den, x, T, rng)));
    } finally {
      x.dispose();
    }
    await yieldToEvents();
  }
  return {
    T,
    terms,
    total: terms.reduce((a, b) => a + b, 0),
    estimates,
    entropyBits: src.tokenInfo().entropyBits!,
  };
}
