/**
 * Discrete diffusion over HMM tokens with a DiffusionTransformer predicting x0 logits over the V data
 * tokens ([MASK] = V for the masked and absorbing processes):
 * - masked diffusion: continuous-time MDLM NELBO (Sahoo et al. 2024), t drawn per the config's
 *   `timesteps` ('stratified' or 'uniform'), the config's masking schedule; ancestral sampler, plain or cached;
 * - D3PM (absorbing or uniform): the one-term L_vb with T discrete steps (Austin et al. 2021), t drawn
 *   per `timesteps` — 'importance' learns p(t) ∝ √E[L_t²] from the losses seen (Nichol & Dhariwal 2021 §3.3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { d3pmNelbo, d3pmPriorKL, ImportanceTimesteps, maskedNelbo, sampleTimesteps } from '@altar/elbo';
import { DiffusionTransformer } from '@altar/models';
import { D3PMProcess, MaskedProcess } from '@altar/noise';
import { FREE_POSITION, sampleD3pm, sampleMasked } from '@altar/samplers';
import type { LossFn } from '@altar/train';
import type { D3pmRunConfig, MaskedRunConfig } from '../config/schema.js';
import type { FamilyRuntime } from '../runtime.js';
import { perExampleBits } from '../scoring.js';
import { checkGiven, tokenCommon, type TokenCommon, type TokenRecipeOptions } from './token-common.js';
import type { GivenTokens } from '../runtime.js';

/** The denoiser, or a view of it that reports each model input z_t first (for step-by-step displays). */
function observed(den: DiffusionTransformer, onModelInput?: (zt: tf.Tensor2D) => void) {
  if (!onModelInput) return den;
  return {
    vocabSize: den.vocabSize,
    paramCount: () => den.paramCount(),
    bytesPerWeight: den.bytesPerWeight,
    predictX0Logits: (zt: tf.Tensor2D, t: tf.Tensor1D) => {
      onModelInput(zt);
      return den.predictX0Logits(zt, t);
    },
  };
}

/** Masked sampler start: the given tokens, the mask id elsewhere. */
function givenInit(given: GivenTokens, n: number, N: number, V: number, maskId: number): Int32Array {
  checkGiven('sample', given, n, N, V);
  return Int32Array.from(given.tokens, (t, i) => (given.keep[i] ? t : maskId));
}

/** D3PM sampler start: the given tokens, FREE_POSITION elsewhere (absorbing: masked; uniform: drawn from the prior). */
function d3pmGiven(given: GivenTokens, n: number, N: number, V: number) {
  return { init: givenInit(given, n, N, V, FREE_POSITION) };
}

function denoiserOf(c: TokenCommon, family: string): DiffusionTransformer {
  const den = c.model;
  if (!(den instanceof DiffusionTransformer)) {
    c.dispose();
    throw new AltarError(
      'BAD_CHECKPOINT',
      `family '${family}' needs a diffusion transformer, got a '${den.config.type}' model`,
    );
  }
  if (den.vocabSize !== c.vocabSize) {
    c.dispose();
    throw new AltarError(
      'BAD_CHECKPOINT',
      `${family}: model vocabulary ${den.vocabSize} ≠ the source's ${c.vocabSize} tokens`,
    );
  }
  return den;
}

/**
 * The masked-diffusion recipe of a validated config: MDLM NELBO training, NELBO evaluation, masked (cached)
 * sampling.
 *
 * @example
 * ```ts
 * const rt = buildMaskedRuntime(parseRunConfig({ family: 'masked-diffusion' }) as MaskedRunConfig);
 * ```
 */
export function buildMaskedRuntime(config: MaskedRunConfig, opts: TokenRecipeOptions = {}): FamilyRuntime {
  const c = tokenCommon(config, opts);
  const den = denoiserOf(c, config.family);
  const { vocabSize: V, seqLen: N, evalBatch } = c;
  const proc = new MaskedProcess({ vocabSize: V, schedule: config.diffusion.schedule });
  const sampling = config.diffusion.timesteps;
  const loss: LossFn<tf.Tensor2D> = (x, rng) =>
    tf.tidy(() => tf.div(tf.mean(maskedNelbo(proc, den, x, rng, { sampling })), N) as tf.Scalar);
  return {
    family: config.family,
    config,
    ...c,
    boundKind: 'nelbo',
    loss,
    samplers: ['masked', 'masked-cached'],
    async evaluate(rng, o) {
      // one-term: one t per sequence; full: 8 stratified t per sequence averaged (a lower-variance estimate of the same bound).
      const reps = o.bound === 'full' ? 8 : 1;
      const r = await perExampleBits(
        rng,
        o,
        evalBatch,
        (x) => maskedNelbo(proc, den, x, rng, { sampling: 'stratified' }),
        N,
        reps,
      );
      return {
        bitsPerToken: r.mean,
        stdErr: r.stdErr,
        boundKind: 'nelbo',
        bound: o.bound ?? 'one-term',
        sequences: r.examples,
        ...c.perChar(r.mean, r.stdErr),
      };
    },
    async discreteBound(rng, o, T) {
      const d3 = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T, schedule: 'jsd' });
      const r = await perExampleBits(
        rng,
        o,
        evalBatch,
        (x) => d3pmNelbo(d3, den, x, rng, { sampling: 'stratified' }),
        N,
      );
      return {
        bitsPerToken: r.mean,
        stdErr: r.stdErr,
        boundKind: 'nelbo',
        bound: 'one-term',
        sequences: r.examples,
        ...c.perChar(r.mean, r.stdErr),
      };
    },
    async sample(rng, o) {
      if (o.sampler !== 'masked' && o.sampler !== 'masked-cached')
        throw new AltarError(
          'BAD_ARG',
          `sampler '${o.sampler}' does not apply to family '${config.family}' (use masked or masked-cached)`,
        );
      const r = await sampleMasked(observed(den, o.onModelInput), proc, {
        batch: o.n,
        seqLen: N,
        steps: o.steps ?? config.eval.sampleSteps,
        rng,
        cached: o.sampler === 'masked-cached',
        ...(o.given ? { init: givenInit(o.given, o.n, N, V, proc.maskId) } : {}),
      });
      return {
        tokens: r.samples,
        batch: o.n,
        seqLen: N,
        cost: r.cost,
        samplesNllBitsPerToken: c.sampleBits(r.samples, o.n),
      };
    },
  };
}

/**
 * The one-term D3PM loss with loss-aware timesteps: t ~ p(t) from the running √E[L_t²], each example's
 * L_{t−1} read back (one host read per step) to update p. Until every t has its history, p is uniform.
 */
export function d3pmImportanceLoss(
  proc: D3PMProcess,
  den: DiffusionTransformer,
  N: number,
): { loss: LossFn<tf.Tensor2D>; proposal: () => Float64Array } {
  const imp = new ImportanceTimesteps(proc.T);
  const loss: LossFn<tf.Tensor2D> = (x, rng) =>
    tf.tidy(() => {
      const steps = sampleTimesteps('importance', x.shape[0], proc.T, rng, imp.proposal());
      const per = d3pmNelbo(proc, den, x, rng, { steps });
      // per = L_T + T·w·L_{t−1}: recover L_{t−1} for the proposal's history.
      const terms = tf.sub(per, d3pmPriorKL(proc, x)).dataSync();
      imp.update(
        steps.t,
        Float64Array.from(terms, (v, b) => v / (proc.T * steps.weight[b]!)),
      );
      return tf.div(tf.mean(per), N) as tf.Scalar;
    });
  return { loss, proposal: () => imp.proposal() };
}

/**
 * The D3PM recipe of a validated config: one-term L_vb training (importance timesteps optional), full-bound
 * evaluation, ancestral sampling.
 *
 * @example
 * ```ts
 * const rt = buildD3pmRuntime(parseRunConfig({ family: 'd3pm', diffusion: { T: 32 } }) as D3pmRunConfig);
 * ```
 */
export function buildD3pmRuntime(config: D3pmRunConfig, opts: TokenRecipeOptions = {}): FamilyRuntime {
  const c = tokenCommon(config, opts);
  const den = denoiserOf(c, config.family);
  const { vocabSize: V, seqLen: N, evalBatch } = c;
  const { process: kind, T, schedule, timesteps } = config.diffusion;
  const proc = new D3PMProcess({ kind, vocabSize: V, T, schedule });
  const loss: LossFn<tf.Tensor2D> =
    timesteps === 'importance'
      ? d3pmImportanceLoss(proc, den, N).loss
      : (x, rng: Rng) =>
          tf.tidy(() => tf.div(tf.mean(d3pmNelbo(proc, den, x, rng, { sampling: timesteps })), N) as tf.Scalar);
  return {
    family: config.family,
    config,
    ...c,
    boundKind: 'nelbo',
    loss,
    samplers: ['d3pm'],
    async evaluate(rng, o) {
      const sampling = o.bound === 'full' ? 'full' : 'stratified';
      const r = await perExampleBits(rng, o, evalBatch, (x) => d3pmNelbo(proc, den, x, rng, { sampling }), N);
      return {
        bitsPerToken: r.mean,
        stdErr: r.stdErr,
        boundKind: 'nelbo',
        bound: o.bound ?? 'one-term',
        sequences: r.examples,
        ...c.perChar(r.mean, r.stdErr),
      };
    },
    async sample(rng, o) {
      if (o.sampler !== 'd3pm')
        throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family 'd3pm' (use d3pm)`);
      const r = await sampleD3pm(observed(den, o.onModelInput), proc, {
        batch: o.n,
        seqLen: N,
        steps: Math.min(o.steps ?? proc.T, proc.T),
        rng,
        ...(o.given ? d3pmGiven(o.given, o.n, N, V) : {}),
      });
      return {
        tokens: r.samples,
        batch: o.n,
        seqLen: N,
        cost: r.cost,
        samplesNllBitsPerToken: c.sampleBits(r.samples, o.n),
      };
    },
  };
}
