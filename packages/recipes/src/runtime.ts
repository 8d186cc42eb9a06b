/**
 * The contract every family recipe fulfils: one object that owns the model and knows how the family
 * trains (loss, batches), evaluates (bits per token or per dimension, with a standard error), samples
 * (with cost accounting) and scores samples against the true source.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import type { TokenCorpus } from '@altar/data';
import type { AnyModel } from '@altar/models';
import type { CostRecord } from '@altar/samplers';
import type { LossFn, ParamMap } from '@altar/train';
import type { Family, RunConfig } from './config/schema.js';

/**
 * 'one-term': the training estimator (one t per example); 'full': the same bound at lower variance.
 *
 * @example
 * ```ts
 * await rt.evaluate(rng, { batches: 4, batchSize: 32, bound: 'full' });
 * ```
 */
export type BoundMode = 'one-term' | 'full';

/**
 * What {@link FamilyRuntime.evaluate} measured: bits per token (or per dimension) with its standard error, and
 * which bound.
 *
 * @example
 * ```ts
 * const e: EvalResult = await rt.evaluate(new Rng(2), { batches: 2, batchSize: 32 });
 * const line = `${e.bitsPerToken.toFixed(3)} ± ${e.stdErr.toFixed(3)} (${e.boundKind})`;
 * ```
 */
export interface EvalResult {
  /** Bits per token: exact NLL (AR/SSM) or the NELBO estimate (diffusion); per dimension for 'gaussian'. */
  bitsPerToken: number;
  /** Standard error of that mean over held-out examples. */
  stdErr: number;
  boundKind: 'nll' | 'nelbo';
  bound: BoundMode | 'exact';
  sequences: number;
  /** Text corpora: bits per character (bits per token × the validation split's tokens per character). */
  bitsPerChar?: number;
  /** Its standard error. */
  bitsPerCharStdErr?: number;
}

/**
 * What {@link FamilyRuntime.sample} drew: the samples, their shape, the cost record, and their NLL under the true
 * source.
 *
 * @example
 * ```ts
 * const out: SampleOutput = await rt.sample(new Rng(0), { sampler: 'masked-cached', n: 8, steps: 32 });
 * const { cost, samplesNllBitsPerToken } = out; // cost.nfe model calls
 * ```
 */
export interface SampleOutput {
  /** Row-major samples: token ids (token families) or float values (Gaussian family). */
  tokens: Int32Array | Float32Array;
  batch: number;
  seqLen: number;
  cost: CostRecord;
  /** Mean −log2 p(sample) / n under the true source (NaN where the source has no density). */
  samplesNllBitsPerToken: number;
}

/**
 * Every sampler a runtime may offer (each runtime lists its own in `samplers`).
 *
 * @example
 * ```ts
 * SAMPLER_NAMES.includes('ddim'); // true
 * ```
 */
export const SAMPLER_NAMES = [
  'ar',
  'masked',
  'masked-cached',
  'd3pm',
  'ddpm',
  'ddim',
  'ode-euler',
  'ode-heun',
  'sde',
] as const;
/**
 * One of {@link SAMPLER_NAMES}.
 *
 * @example
 * ```ts
 * const sampler: SamplerName = rt.samplers[0]!;
 * ```
 */
export type SamplerName = (typeof SAMPLER_NAMES)[number];

/**
 * Options of {@link FamilyRuntime.sample}: which sampler, how many, how many steps, and hooks to watch the model's
 * inputs and outputs step by step.
 *
 * @example
 * ```ts
 * await rt.sample(rng, { sampler: 'masked', n: 4, steps: 64, onModelInput: (zt) => frames.push(zt.arraySync()) });
 * ```
 */
export interface SampleOptions {
  sampler: SamplerName;
  /** Sequences (or vectors, images) to draw. */
  n: number;
  /** Diffusion steps (default: the config's eval.sampleSteps; D3PM: at most T). */
  steps?: number;
  /** AR/SSM: false decodes with a full forward pass per token instead of the KV cache / recurrent state. */
  cached?: boolean;
  /** Discrete diffusion: called with z_t (B, N) before each model call (masked ids as the process's maskId). */
  onModelInput?: (zt: tf.Tensor2D) => void;
  /** Gaussian: called after each model call with its input z_t, times t and output (model units; borrowed, clone to keep). */
  onModelCall?: (zt: tf.Tensor, t: tf.Tensor1D, pred: tf.Tensor) => void;
  /** Gaussian: clip the model's x̂0 to this range in model units (default: [−1, 1] for images, none for vectors). */
  clipX0?: [number, number];
  /** Token families: tokens to keep (prompting and infilling); AR and SSM accept a given prefix only. */
  given?: GivenTokens;
}

/**
 * Tokens a sampler must keep exactly: row-major n × N ids and a mask (1 = given, 0 = to generate). A prefix of
 * given tokens is a prompt; given tokens after a gap make an infilling problem (diffusion only).
 *
 * @example
 * ```ts
 * const given: GivenTokens = parseInfill('To be, or ___ to be', corpus.tokenizer, 19);
 * await rt.sample(rng, { sampler: 'masked', n: 1, steps: 19, given });
 * ```
 */
export interface GivenTokens {
  tokens: Int32Array;
  keep: Uint8Array;
}

/**
 * What a runtime over a text corpus knows about its text: the corpus, the validation split's tokens per
 * character (bits per char = bits per token / charsPerToken), and the train split's unigram entropy.
 *
 * @example
 * ```ts
 * const { charsPerToken, unigramEntropyBits } = rt.text!;
 * const baselineBitsPerChar = unigramEntropyBits / charsPerToken;
 * ```
 */
export interface TextInfo {
  corpus: TokenCorpus;
  /** Characters per token over the validation split (1 for a char tokenizer). */
  charsPerToken: number;
  /** Bits per token of the train split's unigram distribution: the baseline that learning must beat. */
  unigramEntropyBits: number;
}

/**
 * Options of {@link FamilyRuntime.evaluate}: held-out batches and their size, the bound mode, the time sampling.
 *
 * @example
 * ```ts
 * await rt.evaluate(rng, { batches: 8, batchSize: 64, bound: 'full' });
 * ```
 */
export interface EvalOptions {
  batches: number;
  batchSize: number;
  bound?: BoundMode;
  /** Gaussian, continuous time: how the one-term estimate draws t ('log-snr': λ-uniform, lower variance). Default 'stratified'. */
  timeSampling?: 'uniform' | 'stratified' | 'log-snr';
}

/**
 * Everything the CLI and the playground need for one family's model.
 *
 * @example
 * ```ts
 * const rt: FamilyRuntime = buildRuntime(parseRunConfig({ family: 'ar' }));
 * const x = rt.nextBatch(new Rng(0));
 * const loss = rt.loss(x, new Rng(1)); // nats per token
 * tf.dispose([x, loss]);
 * rt.dispose();
 * ```
 */
export interface FamilyRuntime {
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
  /** Gaussian: the scale the model divides the data by (1 unless data.gmm.standardise). */
  dataScale?: number;
  /** The source's true entropy rate in bits per unit (Monte Carlo over exact log p), when known. */
  sourceEntropy(rng: Rng, numSamples?: number): { bits: number; stdErr: number } | null;
  /** Sample rows as text lines (decoded text for a text corpus, token ids otherwise). */
  formatRows(out: SampleOutput): string[];
  /** Text corpora: the corpus and its per-character units. */
  text?: TextInfo;
  /**
   * AR and SSM: exact −log2 p(row) / N of each of `batch` token rows (N = seqLen) — with the runtime
   * of a reference AR model, the generative perplexity 2^bits of other families' samples.
   */
  scoreTokens?(tokens: Int32Array, batch: number): Promise<Float64Array>;
  boundKind: 'nll' | 'nelbo';
  /** Mean loss in nats per unit (the training objective; an upper bound on the NLL for diffusion). */
  loss: LossFn<tf.Tensor2D>;
  nextBatch(rng: Rng, batchSize?: number): tf.Tensor2D;
  /** Held-out batches: the validation split of a text corpus; fresh draws from a synthetic source. */
  evalBatch(rng: Rng, batchSize?: number): tf.Tensor2D;
  evaluate(rng: Rng, opts: EvalOptions): Promise<EvalResult>;
  /**
   * Masked diffusion only: the discrete-time bound with T steps of the same network — D3PM-absorbing
   * with ᾱ_t = 1 − t/T, the discretisation of the linear masking schedule — one term per sequence
   * (stratified t). It falls towards the continuous-time NELBO as T grows: the cost of sampling in T steps.
   */
  discreteBound?(rng: Rng, opts: { batches: number; batchSize: number }, T: number): Promise<EvalResult>;
  /** The samplers this family offers; the first is its default. */
  samplers: SamplerName[];
  sample(rng: Rng, opts: SampleOptions): Promise<SampleOutput>;
  dispose(): void;
}
