/**
 * Exact autoregressive negative log-likelihood: −log p(x) = −Σ_k log p(x_k | x_<k) (the chain rule; the
 * loss of every causal LM). Cross-entropy goes through oneHot · logSoftmax (one fused, differentiable path on
 * every backend; gatherND's gradient is missing on wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, softmaxCrossEntropy } from '@altar/backend';
import type { CausalLM } from './types.js';

/**
 * Per-token cross-entropy −log softmax(logits)[target]: logits (B,N,V), targets int32 (B,N) → (B,N) nats.
 * logSoftmax is max-shifted (log-sum-exp), so large logits do not overflow.
 *
 * @example
 * ```ts
 * const logits = tf.tensor3d([[[0, 0], [10, 0]]]);            // (1, 2, 2)
 * tokenCrossEntropy(logits, tf.tensor2d([[0, 0]], [1, 2], 'int32')); // [[ln 2, ≈ 4.5e-5]]
 * ```
 */
export function tokenCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Tensor2D {
  if (
    logits.rank !== 3 ||
    targets.rank !== 2 ||
    logits.shape[0] !== targets.shape[0] ||
    logits.shape[1] !== targets.shape[1]
  ) {
    throw new AltarError(
      'BAD_SHAPE',
      `tokenCrossEntropy: need logits (B,N,V) and targets (B,N), got (${logits.shape.join(', ')}) and (${targets.shape.join(', ')})`,
    );
  }
  // One fused kernel forward and backward on cpu/wasm; elsewhere −Σ oneHot · logSoftmax (max-shifted).
  return softmaxCrossEntropy(logits, targets) as tf.Tensor2D; // (B, N)
}

/**
 * NLL per example (nats, (B,)): Σ over positions of tokenCrossEntropy, optionally weighted by a (B,N) mask
 * (1 = counted).
 *
 * @example
 * ```ts
 * const logits = model.forward(inputs);               // (B, N, V)
 * const nll = arNll(logits, targets, paddingMask);    // (B,) nats over the unpadded positions
 * ```
 */
export function arNll(logits: tf.Tensor, targets: tf.Tensor, mask?: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const ce = tokenCrossEntropy(logits, targets);
    return tf.sum(mask ? tf.mul(ce, tf.cast(mask, 'float32')) : ce, -1) as tf.Tensor1D;
  });
}

/**
 * NLL of tokens[:, 1:] under a causal LM (logits at i predict token i + 1): (B,) nats over N − 1 tokens.
 * If the model prepends a BOS itself and predicts every token, use arNll on its logits instead.
 *
 * @example
 * ```ts
 * const lm = createModel({ type: 'ar-transformer', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4 });
 * const loss = tf.mean(causalLmNll(lm, tokens)) as tf.Scalar; // train on it; bits/token = nats / ((N − 1) ln 2)
 * ```
 */
export function causalLmNll(model: CausalLM, tokens: tf.Tensor2D): tf.Tensor1D {
  const [B, N] = tokens.shape;
  if (N < 2) throw new AltarError('BAD_SHAPE', `causalLmNll: need sequences of length ≥ 2, got ${N}`);
  return tf.tidy(() => {
    const logits = model.forward(tokens); // (B, N, V)
    const V = logits.shape[2]!;
    const pred = tf.slice(logits, [0, 0, 0], [B, N - 1, V]); // (B, N−1, V)
    const next = tf.slice(tokens, [0, 1], [B, N - 1]); // (B, N−1)
    return arNll(pred, next);
  });
}
