/**
 * Causal LMs trained with a beginning-of-sequence token: the model's vocabulary is V + 1, id V is BOS,
 * and only the V data logits are read, so p(x) = Π_k softmax(logits_k[:V])[x_k] is a proper distribution
 * over data sequences (what `altar train` and the playground train, so checkpoints move between them).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ArTransformer } from './ar-transformer.js';
import type { SsmLm } from './ssm-lm.js';

/**
 * Data logits for teacher forcing: input [BOS, x_1..x_{n−1}] → logits (B, N, V) predicting x_1..x_n.
 *
 * @example
 * ```ts
 * const logits = bosDataLogits(lm, x, V); // the AR NLL of x is arNll(logits, x)
 * ```
 */
export function bosDataLogits(model: ArTransformer | SsmLm, x: tf.Tensor2D, V: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, N] = x.shape;
    const bos = tf.fill([B, 1], V, 'int32');
    const inp = tf.concat([bos, tf.slice(x, [0, 0], [B, N - 1])], 1) as tf.Tensor2D; // (B, N)
    return tf.slice(model.forward(inp), [0, 0, 0], [B, N, V]) as tf.Tensor3D; // (B, N, V + 1) → (B, N, V)
  });
}

/**
 * The model seen over its V data tokens (the BOS logit dropped), in the shape @altar/samplers' sampleAr
 * expects: forward (uncached decoding) and initState / step / disposeState (KV cache or recurrent state).
 * Prompts start with BOS = V.
 *
 * @example
 * ```ts
 * const { samples } = await sampleAr(bosDataLm(lm, V), { prompt: [[V]], length: 16, rng: new Rng(0) });
 * ```
 */
export function bosDataLm(model: ArTransformer | SsmLm, V: number) {
  type S = ReturnType<typeof model.initState>;
  const m = model as unknown as {
    step(t: tf.Tensor, s: S): { logits: tf.Tensor2D; state: S };
    disposeState(s: S): void;
    initState(b: number): S;
  };
  return {
    vocabSize: V,
    paramCount: () => model.paramCount(),
    bytesPerWeight: model.bytesPerWeight,
    forward: (t: tf.Tensor2D) =>
      tf.tidy(() => tf.slice(model.forward(t), [0, 0, 0], [t.shape[0], t.shape[1], V]) as tf.Tensor3D),
    initState: (b: number) => m.initState(b),
    step: (tok: tf.Tensor1D, s: S) => {
      const r = m.step(tok, s);
      const logits = tf.tidy(() => tf.slice(r.logits, [0, 0], [r.logits.shape[0], V]) as tf.Tensor2D);
      r.logits.dispose();
      return { logits, state: r.state };
    },
    disposeState: (s: S) => m.disposeState(s),
  };
}
