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
import { sampleAr, type CostRecord } from '@altar/samplers';
import type { LossFn } from '@altar/train';
import type { ArRunConfig, SsmRunConfig } from '../config/schema.js';
import type { FamilyRuntime } from '../runtime.js';
import { mergeCosts, perExampleBits } from '../scoring.js';
import { checkGiven, givenPrefixes, tokenCommon, type TokenRecipeOptions } from './token-common.js';

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
  const { model: lm, vocabSize: V, seqLen: N, evalBatch } = c;
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
      const r = await perExampleBits(rng, o, evalBatch, (x) => arNll(bosDataLogits(lm, x, V), x), N); // exact NLL
      return {
        bitsPerToken: r.mean,
        stdErr: r.stdErr,
        boundKind: 'nll',
        bound: 'exact',
        sequences: r.examples,
        ...c.perChar(r.mean, r.stdErr),
      };
    },
    async scoreTokens(tokens, batch) {
      if (tokens.length !== batch * N)
        throw new AltarError(
          'BAD_SHAPE',
          `scoreTokens: got ${tokens.length} tokens, expected batch × seqLen = ${batch * N}`,
        );
      const nll = tf.tidy(() => {
        const x = tf.tensor2d(tokens, [batch, N], 'int32');
        return arNll(bosDataLogits(lm, x, V), x);
      });
      const v = await nll.data();
      nll.dispose();
      return Float64Array.from(v, (n) => n / N / Math.LN2);
    },
    async sample(rng, o) {
      if (o.sampler !== 'ar')
        throw new AltarError('BAD_ARG', `sampler '${o.sampler}' does not apply to family '${config.family}' (use ar)`);
      const cached = o.cached ?? true;
      if (!o.given) {
        const prompt = Array.from({ length: o.n }, () => [V]);
        const r = await sampleAr(bosDataLm(lm, V), { prompt, length: N, rng, cached });
        return {
          tokens: r.samples,
          batch: o.n,
          seqLen: N,
          cost: r.cost,
          samplesNllBitsPerToken: c.sampleBits(r.samples, o.n),
        };
      }
      checkGiven('sample', o.given, o.n, N, V);
      const prefixes = givenPrefixes(config.family, o.given, o.n, N);
      // sampleAr takes prompts of one length: decode each group of rows with the same prefix length together.
      const groups = new Map<number, number[]>();
      prefixes.forEach((p, b) => groups.set(p.length, [...(groups.get(p.length) ?? []), b]));
      const tokens = new Int32Array(o.n * N);
      const costs: CostRecord[] = [];
      for (const [P, rows] of groups) {
        const prompt = rows.map((b) => [V, ...prefixes[b]!]);
        const r = await sampleAr(bosDataLm(lm, V), { prompt, length: N - P, rng, cached });
        costs.push(r.cost);
        rows.forEach((b, j) => {
          tokens.set(prefixes[b]!, b * N);
          tokens.set(r.samples.subarray(j * (N - P), (j + 1) * (N - P)), b * N + P);
        });
      }
      return {
        tokens,
        batch: o.n,
        seqLen: N,
        cost: mergeCosts(costs),
        samplesNllBitsPerToken: c.sampleBits(tokens, o.n),
      };
    },
  };
}
