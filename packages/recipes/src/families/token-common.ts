/**
 * What every token family shares: the HMM source (exact log p), the model built from the config with
 * the source's sizes, batches, the entropy report and sample formatting.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import { HmmSource } from '@altar/data';
import { createModel, type AnyModel } from '@altar/models';
import type { ParamMap } from '@altar/train';
import { resolveModelConfig, type TokenRunConfig } from '../config/schema.js';
import type { FamilyRuntime, SampleOutput } from '../runtime.js';
import { hmmSampleBits } from '../scoring.js';

/**
 * Options of the token-family builders: an existing source or model to wrap instead of building them from the config.
 *
 * @example
 * ```ts
 * buildRuntime(config, { source: new HmmSource({ seqLen: 32 }), model: loadModel(ckpt) });
 * ```
 */
export interface TokenRecipeOptions {
  /** The source (default: an HmmSource from config.data.hmm). */
  source?: HmmSource;
  /** An existing model to wrap (the runtime then owns and disposes it); default: built from config.model. */
  model?: AnyModel;
}

export type TokenCommon = Pick<
  FamilyRuntime,
  'unit' | 'model' | 'params' | 'vocabSize' | 'seqLen' | 'sourceEntropy' | 'formatRows' | 'nextBatch' | 'dispose'
> & {
  source: HmmSource;
  /** Mean −log2 p(sample)/N under the source. */
  sampleBits(tokens: Int32Array, batch: number): number;
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

export function tokenCommon(config: TokenRunConfig, opts: TokenRecipeOptions): TokenCommon {
  const source = opts.source ?? new HmmSource(config.data.hmm);
  const V = source.vocabSize;
  const N = source.seqLen;
  const model = opts.model ?? createModel(resolveModelConfig(config, V, N));
  const params = model.getWeights() as ParamMap; // the models hand out their tf.Variables
  return {
    source,
    unit: 'token',
    model,
    params,
    vocabSize: V,
    seqLen: N,
    nextBatch: (rng: Rng, b = config.data.batchSize): tf.Tensor2D => source.sampleTensor(b, rng),
    sampleBits: (tokens, batch) => hmmSampleBits(source, tokens, batch),
    sourceEntropy: (rng, numSamples = 2000) => {
      const e = source.entropyReport(rng, numSamples);
      return { bits: e.entropyBitsPerToken, stdErr: e.stdErr };
    },
    formatRows: (o: SampleOutput) => formatTokenRows(o.tokens, o.batch, o.seqLen).trimEnd().split('\n'),
    dispose: () => model.dispose(),
  };
}
