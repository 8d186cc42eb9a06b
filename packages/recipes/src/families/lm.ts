/**
 * AR and SSM language models: a BOS token (id V, so the model's vocabulary is V + 1) is prepended and only
 * the V data logits are read, so p(x) = Π_k softmax(logits_k[:V])[x_k] is a proper distribution over data
 * tokens. Loss and evaluation: the exact NLL (chain rule). Sampling: n sequential steps from the BOS
 * prompt, with the KV cache (AR) or the recurrent state (SSM), or a full forward pass per token.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError } from '@altar/backend';
import { arNll } from '@altar/elbo';
import { ArTransformer, bosDataLm, bosDataLogits, SsmLm } from '@altar/models';
import { sampleAr } from '@altar/samplers';
import type { LossFn } from '@altar/train';
import type { ArRunConfig, SsmRunConfig } from '../config/schema.js';
import type { FamilyRuntime } from '../runtime.js';
import { perExampleBits } from '../scoring.js';
import { tokenCommon, type TokenRecipeOptions } from './token-common.js';

/**
 * The AR transformer or SSM LM recipe of a validated config.
 *
 * @example
 * ```ts
 * const rt = buildLmRuntime(parseRunConfig({ family: 'ssm' }) as SsmRunConfig);
 * ```
 */
export function buildLmRuntime(config: ArRunConfig | SsmRunConfig, opts: TokenRecipeOptions = {}): FamilyRuntime {
  const c = tokenCommon(config, opts);
  const { model: lm, vocabSize: V, seqLen: N, nextBatch } = c;
  if (!(lm instanceof ArTransformer || lm instanceof SsmLm)) {
    c.dispose();
    throw new AltarError(
      'BAD_CHECKPOINT',
      `family '${config.family}' needs an AR transformer or an SSM LM, got a '${lm.config.type}' model`,
    );
  }
  if (lm.vocabSize !== V + 1) {
    c.dispose();
    throw new AltarError(
      'BAD_CHECKPOINT',
      `${config.family}: model vocabulary ${lm.vocabSize} ≠ the source's ${V} tokens + BOS`,
    );
  }
  const loss: LossFn<tf.Tensor2D> = (x) =>
    tf.tidy(() => tf.div(tf.mean(arNll(bosDataLogits(lm, x, V), x)), N) as tf.Scalar);
  return {
    family: config.family,
    config,
    ...c,
    boundKind: 'nll',
    loss,
    samplers: ['ar'],
    async evaluate(rng, o) {
      const r = await perExampleBits(rng, o, nextBatch, (x) => arNll(bosDataLogits(lm, x, V), x), N); // exact NLL
      return { bitsPerToken: r.mean, stdErr: r.stdErr, boundKind: 'nll', bound: 'exact', sequences: r.examples };
    },
    async sample(rng, o) {
      if (o.sampler !== 'ar')
        throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family '${config.family}' (use ar)`);
      const prompt = Array.from({ length: o.n }, () => [V]);
      const r = await sampleAr(bosDataLm(lm, V), { prompt, length: N, rng, cached: o.cached ?? true });
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
