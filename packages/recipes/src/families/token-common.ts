/**
 * What every token family shares: the data (the HMM source with exact log p, or a text corpus), the model
 * built from the config with the data's sizes, batches (train and held-out), the entropy report and
 * sample formatting.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';
import { HmmSource, tokensToTensor, type TokenCorpus } from '@altar/data';
import { createModel, type AnyModel } from '@altar/models';
import type { ParamMap } from '@altar/train';
import { resolveModelConfig, type TokenRunConfig } from '../config/schema.js';
import type { FamilyRuntime, GivenTokens, SampleOutput, TextInfo } from '../runtime.js';
import { hmmSampleBits } from '../scoring.js';

/**
 * Options of the token-family builders: an existing source, corpus or model to wrap instead of building them
 * from the config.
 *
 * @example
 * ```ts
 * buildRuntime(config, { source: new HmmSource({ seqLen: 32 }), model: loadModel(ckpt) });
 * buildRuntime(textConfig, { corpus: new InMemoryTokenCorpus('To be, or not to be', { tokenizer: 'char' }) });
 * ```
 */
export interface TokenRecipeOptions {
  /** The source (default: an HmmSource from config.data.hmm). */
  source?: HmmSource;
  /** The text corpus of a config with data.source 'text' (required there: opening files is the caller's job). */
  corpus?: TokenCorpus;
  /** An existing model to wrap (the runtime then owns and disposes it); default: built from config.model. */
  model?: AnyModel;
}

export type TokenCommon = Pick<
  FamilyRuntime,
  | 'unit'
  | 'model'
  | 'params'
  | 'vocabSize'
  | 'seqLen'
  | 'sourceEntropy'
  | 'formatRows'
  | 'nextBatch'
  | 'evalBatch'
  | 'dispose'
  | 'text'
> & {
  /** Mean −log2 p(sample)/N under the source (NaN for text: no true likelihood). */
  sampleBits(tokens: Int32Array, batch: number): number;
  /** Convert a per-token evaluation to per character (text corpora; identity fields otherwise). */
  perChar(bits: number, stdErr: number): { bitsPerChar?: number; bitsPerCharStdErr?: number };
};

/**
 * Render token rows as space-separated ids, one row per line.
 *
 * @example
 * ```ts
 * formatTokenRows(Int32Array.from([1, 2, 3, 4]), 2, 2); // '1 2\n3 4\n'
 * ```
 */
export function formatTokenRows(tokens: Int32Array | Float32Array, batch: number, seqLen: number): string {
  const lines: string[] = [];
  for (let b = 0; b < batch; b++) lines.push(Array.from(tokens.subarray(b * seqLen, (b + 1) * seqLen)).join(' '));
  return lines.join('\n') + '\n';
}

/** The data side of a token runtime: HMM or text corpus. */
interface TokenData {
  V: number;
  N: number;
  train(rng: Rng, b: number): tf.Tensor2D;
  held(rng: Rng, b: number): tf.Tensor2D;
  sampleBits(tokens: Int32Array, batch: number): number;
  sourceEntropy: FamilyRuntime['sourceEntropy'];
  formatRows(o: SampleOutput): string[];
  text?: TextInfo;
}

function hmmData(source: HmmSource): TokenData {
  return {
    V: source.vocabSize,
    N: source.seqLen,
    train: (rng, b) => source.sampleTensor(b, rng),
    held: (rng, b) => source.sampleTensor(b, rng), // fresh draws: every sequence is held out
    sampleBits: (tokens, batch) => hmmSampleBits(source, tokens, batch),
    sourceEntropy: (rng, numSamples = 2000) => {
      const e = source.entropyReport(rng, numSamples);
      return { bits: e.entropyBitsPerToken, stdErr: e.stdErr };
    },
    formatRows: (o) => formatTokenRows(o.tokens, o.batch, o.seqLen).trimEnd().split('\n'),
  };
}

function corpusData(corpus: TokenCorpus, N: number): TokenData {
  const valChars = corpus.splitChars('val');
  const valTokens = corpus.splitTokens('val');
  const charsPerToken = valChars > 0 && valTokens > 0 ? valChars / valTokens : 1;
  return {
    V: corpus.vocabSize,
    N,
    train: (rng, b) => tokensToTensor(corpus.sampleWindows('train', b, N, rng), b, N),
    held: (rng, b) => tokensToTensor(corpus.sampleWindows('val', b, N, rng), b, N),
    sampleBits: () => NaN, // text has no known likelihood: score samples with a reference model instead
    sourceEntropy: () => null,
    formatRows: (o) => {
      const rows: string[] = [];
      for (let b = 0; b < o.batch; b++)
        rows.push(corpus.tokenizer.decode(o.tokens.subarray(b * o.seqLen, (b + 1) * o.seqLen)));
      return rows;
    },
    text: { corpus, charsPerToken, unigramEntropyBits: corpus.unigramEntropyBits() },
  };
}

export function tokenCommon(config: TokenRunConfig, opts: TokenRecipeOptions): TokenCommon {
  let data: TokenData;
  if (config.data.source === 'text') {
    const text = config.data.text!; // the schema requires it for source 'text'
    if (!opts.corpus)
      throw new AltarError(
        'BAD_ARG',
        `data.source 'text' (${text.path}) needs the opened corpus: pass { corpus } (openTextCorpus in @altar/data/node)`,
      );
    data = corpusData(opts.corpus, text.seqLen);
  } else {
    data = hmmData(opts.source ?? new HmmSource(config.data.hmm));
  }
  const { V, N } = data;
  const model = opts.model ?? createModel(resolveModelConfig(config, V, N));
  const params = model.getWeights() as ParamMap; // the models hand out their tf.Variables
  const cpt = data.text?.charsPerToken;
  return {
    unit: 'token',
    model,
    params,
    vocabSize: V,
    seqLen: N,
    nextBatch: (rng: Rng, b = config.data.batchSize): tf.Tensor2D => data.train(rng, b),
    evalBatch: (rng: Rng, b = config.data.batchSize): tf.Tensor2D => data.held(rng, b),
    sampleBits: data.sampleBits,
    sourceEntropy: data.sourceEntropy,
    formatRows: data.formatRows,
    ...(data.text ? { text: data.text } : {}),
    perChar: (bits, stdErr) => (cpt ? { bitsPerChar: bits / cpt, bitsPerCharStdErr: stdErr / cpt } : {}),
    dispose: () => model.dispose(),
  };
}

/**
 * Check that `given` fits n rows of N tokens over V data tokens (ids in [0, V) where kept).
 *
 * @example
 * ```ts
 * checkGiven('sample', given, 4, 64, 65);
 * ```
 */
export function checkGiven(op: string, given: GivenTokens, n: number, N: number, V: number): void {
  if (given.tokens.length !== n * N || given.keep.length !== n * N)
    throw new AltarError(
      'BAD_SHAPE',
      `${op}: given has ${given.tokens.length} tokens and ${given.keep.length} keep flags, expected n × seqLen = ${n * N}`,
    );
  for (let i = 0; i < n * N; i++) {
    const t = given.tokens[i]!;
    if (given.keep[i] && !(Number.isInteger(t) && t >= 0 && t < V))
      throw new AltarError('BAD_TOKEN', `${op}: given token at ${i} is ${t}, expected an id in [0, ${V})`);
  }
}

/**
 * The prompt rows of an AR/SSM sampler from `given`: each row's kept tokens must form a prefix.
 *
 * @example
 * ```ts
 * givenPrefixes('ar', given, 2, 8); // [[t0, t1], [t0]]: the tokens before each row's first gap
 * ```
 */
export function givenPrefixes(family: string, given: GivenTokens, n: number, N: number): number[][] {
  const rows: number[][] = [];
  for (let b = 0; b < n; b++) {
    const row: number[] = [];
    let gap = false;
    for (let i = 0; i < N; i++) {
      const kept = given.keep[b * N + i] === 1;
      if (kept && gap)
        throw new AltarError(
          'BAD_ARG',
          `family '${family}' cannot infill: it generates left to right, so it can continue a prompt but not ` +
            `fill a gap before given text (row ${b}, position ${i}); use a diffusion family to infill`,
        );
      if (kept) row.push(given.tokens[b * N + i]!);
      else gap = true;
    }
    if (row.length === N)
      throw new AltarError(
        'BAD_ARG',
        `${family}: row ${b} of the prompt fills all ${N} positions: nothing to generate`,
      );
    rows.push(row);
  }
  return rows;
}
