/**
 * Family runtimes: the glue from a validated RunConfig to (model, loss, batches, evaluation, sampling)
 * for each token family. AR and SSM LMs prepend a BOS token (id V, so the model's vocabulary is V + 1)
 * and read only the V data logits, so p(x) = Π_k softmax(logits_k[:V])[x_k] is a proper distribution over
 * data tokens. Diffusion models predict x0 logits over the V data tokens with [MASK] = V.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { HmmSource } from '@altar/data';
import { arNll, d3pmNelbo, maskedNelbo, type TimestepSampling } from '@altar/elbo';
import { bosDataLm, bosDataLogits, createModel, type AnyModel, type ArTransformer, type DiffusionTransformer, type SsmLm } from '@altar/models';
import { D3PMProcess, MaskedProcess, type D3PMScheduleKind, type MaskScheduleKind } from '@altar/noise';
import { sampleAr, sampleD3pm, sampleMasked, type CostRecord } from '@altar/samplers';
import type { LossFn, ParamMap } from '@altar/train';
import { resolveModelConfig, type Family, type RunConfig } from './config.js';
import { buildGaussianRuntime } from './gaussian-family.js';
import { perExampleBits } from './per-example-bits.js';

export const LN2 = Math.LN2;

export type BoundMode = 'one-term' | 'full';

export interface EvalResult {
  /** Bits per token: exact NLL (AR/SSM) or the NELBO estimate (diffusion). */
  bitsPerToken: number;
  /** Standard error of that mean over held-out sequences. */
  stdErr: number;
  boundKind: 'nll' | 'nelbo';
  bound: BoundMode | 'exact';
  sequences: number;
}

export interface SampleOutput {
  /** Row-major samples: token ids (token families) or float values (Gaussian family). */
  tokens: Int32Array | Float32Array;
  batch: number;
  seqLen: number;
  cost: CostRecord;
  /** Mean −log2 p(sample) / n under the true source. */
  samplesNllBitsPerToken: number;
}

export type SamplerName = 'ar' | 'masked' | 'masked-cached' | 'd3pm' | 'ddpm' | 'ddim' | 'ode-euler' | 'ode-heun' | 'sde';

/** Everything the trainer, eval, sample and demo need for one token model. */
export interface TokenRuntime {
  family: Family;
  config: RunConfig;
  /** 'token': bits per token; 'dim': bits per dimension (Gaussian family). */
  unit: 'token' | 'dim';
  model: AnyModel;
  params: ParamMap;
  /** V data tokens (0 for the Gaussian family). */
  vocabSize: number;
  /** Tokens (or dimensions) per example. */
  seqLen: number;
  /** The source's true entropy rate in bits per unit (Monte Carlo over exact log p), when known. */
  sourceEntropy(rng: Rng, numSamples?: number): { bits: number; stdErr: number } | null;
  /** Sample rows as text lines. */
  formatRows(out: SampleOutput): string[];
  boundKind: 'nll' | 'nelbo';
  /** Mean loss in nats per token (the training objective; an upper bound on the per-token NLL for diffusion). */
  loss: LossFn<tf.Tensor2D>;
  nextBatch(rng: Rng, batchSize?: number): tf.Tensor2D;
  evaluate(rng: Rng, opts: { batches: number; batchSize: number; bound?: BoundMode }): Promise<EvalResult>;
  /**
   * Masked diffusion only: the discrete-time bound with T steps of the same (untimed or time-
   * conditioned) network — D3PM-absorbing with ᾱ_t = 1 − t/T, the discretisation of the linear masking
   * schedule — estimated one term per sequence (stratified t). It falls towards the continuous-time
   * NELBO as T grows: the cost of sampling in T steps, in bits.
   */
  discreteBound?(rng: Rng, opts: { batches: number; batchSize: number }, T: number): Promise<EvalResult>;
  /** The samplers this family offers and its default. */
  samplers: SamplerName[];
  sample(rng: Rng, opts: { sampler: SamplerName; n: number; steps?: number }): Promise<SampleOutput>;
  dispose(): void;
}

export function isTokenFamily(f: Family): boolean {
  return f !== 'gaussian';
}

/** The runtime of any family. */
export function buildRuntime(config: RunConfig): TokenRuntime {
  return config.family === 'gaussian' ? buildGaussianRuntime(config) : buildTokenRuntime(config);
}

export function buildTokenRuntime(config: RunConfig, opts: { source?: HmmSource } = {}): TokenRuntime {
  if (!isTokenFamily(config.family)) throw new AltarError('BAD_CONFIG', `family '${config.family}' is not a token family`);
  const source = opts.source ?? new HmmSource(config.data.hmm);
  const V = source.vocabSize;
  const N = source.seqLen;
  const mc = resolveModelConfig(config, V, N);
  const model = createModel(mc);
  const params = model.getWeights() as ParamMap;
  const nextBatch = (rng: Rng, b = config.data.batchSize) => source.sampleTensor(b, rng);
  const sampleNll = (tokens: Int32Array, batch: number): number => {
    const lp = source.logProbBatch(tokens, N);
    let s = 0;
    for (let b = 0; b < batch; b++) s += -lp[b]! / LN2 / N;
    return s / batch;
  };
  const dispose = () => model.dispose();
  const sourceEntropy = (rng: Rng, numSamples = 2000) => {
    const e = source.entropyReport(rng, numSamples);
    return { bits: e.entropyBitsPerToken, stdErr: e.stdErr };
  };
  const formatRows = (o: SampleOutput) => formatTokenRows(o.tokens as Int32Array, o.batch, o.seqLen).trimEnd().split('\n');
  const common = { config, unit: 'token' as const, model, params, vocabSize: V, seqLen: N, sourceEntropy, formatRows, nextBatch, dispose };

  if (config.family === 'ar' || config.family === 'ssm') {
    const lm = model as ArTransformer | SsmLm;
    const loss: LossFn<tf.Tensor2D> = (x) => tf.tidy(() => tf.div(tf.mean(arNll(bosDataLogits(lm, x, V), x)), N) as tf.Scalar);
    return {
      family: config.family, ...common, boundKind: 'nll', loss,
      samplers: ['ar'],
      async evaluate(rng, o) {
        const r = await perExampleBits(rng, o, nextBatch, (x) => arNll(bosDataLogits(lm, x, V), x), N); // exact NLL
        return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nll', bound: 'exact', sequences: r.examples };
      },
      async sample(rng, o) {
        if (o.sampler !== 'ar') throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family '${config.family}' (use ar)`);
        const prompt = Array.from({ length: o.n }, () => [V]);
        const r = await sampleAr(bosDataLm(lm, V), { prompt, length: N, rng, cached: true });
        return { tokens: r.samples, batch: o.n, seqLen: N, cost: r.cost, samplesNllBitsPerToken: sampleNll(r.samples, o.n) };
      },
    };
  }

  const den = model as DiffusionTransformer;
  const timesteps = config.diffusion.timesteps as TimestepSampling;
  if (config.family === 'masked-diffusion') {
    const proc = new MaskedProcess({ vocabSize: V, schedule: config.diffusion.schedule as MaskScheduleKind });
    const unit = timesteps === 'uniform' ? 'uniform' : 'stratified';
    const loss: LossFn<tf.Tensor2D> = (x, rng) => tf.tidy(() => tf.div(tf.mean(maskedNelbo(proc, den, x, rng, { sampling: unit })), N) as tf.Scalar);
    return {
      family: config.family, ...common, boundKind: 'nelbo', loss,
      samplers: ['masked', 'masked-cached'],
      async evaluate(rng, o) {
        // one-term: one t per sequence; full: 8 stratified t per sequence averaged (a lower-variance estimate of the same bound).
        const reps = o.bound === 'full' ? 8 : 1;
        const r = await perExampleBits(rng, o, nextBatch, (x) => maskedNelbo(proc, den, x, rng, { sampling: 'stratified' }), N, reps);
        return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nelbo', bound: o.bound ?? 'one-term', sequences: r.examples };
      },
      async discreteBound(rng, o, T) {
        const d3 = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T, schedule: 'jsd' });
        const r = await perExampleBits(rng, o, nextBatch, (x) => d3pmNelbo(d3, den, x, rng, { sampling: 'stratified' }), N);
        return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nelbo', bound: 'one-term', sequences: r.examples };
      },
      async sample(rng, o) {
        if (o.sampler !== 'masked' && o.sampler !== 'masked-cached') throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family '${config.family}' (use masked or masked-cached)`);
        const r = await sampleMasked(den, proc, { batch: o.n, seqLen: N, steps: o.steps ?? config.eval.sampleSteps, rng, cached: o.sampler === 'masked-cached' });
        return { tokens: r.samples, batch: o.n, seqLen: N, cost: r.cost, samplesNllBitsPerToken: sampleNll(r.samples, o.n) };
      },
    };
  }

  // D3PM (absorbing or uniform), discrete time t = 1..T.
  const proc = new D3PMProcess({ kind: config.diffusion.process as 'absorbing' | 'uniform', vocabSize: V, T: config.diffusion.T, schedule: config.diffusion.schedule as D3PMScheduleKind });
  const loss: LossFn<tf.Tensor2D> = (x, rng) => tf.tidy(() => tf.div(tf.mean(d3pmNelbo(proc, den, x, rng, { sampling: timesteps === 'importance' ? 'uniform' : timesteps })), N) as tf.Scalar);
  return {
    family: config.family, ...common, boundKind: 'nelbo', loss,
    samplers: ['d3pm'],
    async evaluate(rng, o) {
      const sampling = o.bound === 'full' ? 'full' : 'stratified';
      const r = await perExampleBits(rng, o, nextBatch, (x) => d3pmNelbo(proc, den, x, rng, { sampling }), N);
      return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nelbo', bound: o.bound ?? 'one-term', sequences: r.examples };
    },
    async sample(rng, o) {
      if (o.sampler !== 'd3pm') throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family 'd3pm' (use d3pm)`);
      const r = await sampleD3pm(den, proc, { batch: o.n, seqLen: N, steps: Math.min(o.steps ?? proc.T, proc.T), rng });
      return { tokens: r.samples, batch: o.n, seqLen: N, cost: r.cost, samplesNllBitsPerToken: sampleNll(r.samples, o.n) };
    },
  };
}

/** Render token rows as space-separated ids, one row per line. */
export function formatTokenRows(tokens: Int32Array, batch: number, seqLen: number): string {
  const lines: string[] = [];
  for (let b = 0; b < batch; b++) lines.push(Array.from(tokens.subarray(b * seqLen, (b + 1) * seqLen)).join(' '));
  return lines.join('\n') + '\n';
}
