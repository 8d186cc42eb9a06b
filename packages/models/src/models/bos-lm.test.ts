/**
 * The BOS data-token view: teacher-forced data logits (bosDataLogits) and the cached decoding view
 * (bosDataLm: BOS, then each token through `step`) must give the same per-position logits — two
 * independent paths through the model (full forward vs KV cache / recurrent state) — and the view's
 * uncached `forward` must drop exactly the BOS column.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../factory.js';
import { bosDataLm, bosDataLogits } from './bos-lm.js';
import type { ArTransformer } from './ar-transformer.js';
import type { SsmLm } from './ssm-lm.js';

const V = 5;
const N = 6;

describe.each(testBackends())('BOS data-token view on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each([
    [
      'ar-transformer',
      { type: 'ar-transformer', vocabSize: V + 1, maxLen: N, dModel: 16, nLayers: 1, nHeads: 2, seed: 3 },
    ],
    ['ssm-lm', { type: 'ssm-lm', vocabSize: V + 1, dModel: 16, nLayers: 1, dState: 4, seed: 3 }],
  ] as const)('%s: teacher-forced logits equal step-by-step decoding from BOS', async (_name, cfg) => {
    const model = createModel(cfg as never) as ArTransformer | SsmLm;
    await expectNoLeaks(async () => {
      const x = new Rng(7).randint([2, N], 0, V) as tf.Tensor2D;
      const forced = bosDataLogits(model, x, V); // (2, N, V)
      expect(forced.shape).toEqual([2, N, V]);
      const lm = bosDataLm(model, V);
      const xs = (await x.data()) as Int32Array;
      let state = lm.initState(2);
      const steps: tf.Tensor2D[] = [];
      for (let k = 0; k < N; k++) {
        const tok = tf.tensor1d(k === 0 ? [V, V] : [xs[k - 1]!, xs[N + k - 1]!], 'int32'); // BOS, then x_k
        const r = lm.step(tok, state);
        tok.dispose();
        lm.disposeState(state); // step returns a fresh state
        state = r.state;
        steps.push(r.logits);
      }
      lm.disposeState(state);
      const [d1, d2] = tf.tidy(() => {
        const decoded = tf.stack(steps, 1); // (2, N, V)
        // The view's uncached forward is the model's forward without the BOS column.
        const inp = tf.concat([tf.fill([2, 1], V, 'int32'), tf.slice(x, [0, 0], [2, N - 1])], 1) as tf.Tensor2D;
        const full = tf.slice(model.forward(inp), [0, 0, 0], [2, N, V]);
        return [tf.max(tf.abs(tf.sub(decoded, forced))), tf.max(tf.abs(tf.sub(lm.forward(inp), full)))];
      });
      expect((await d1!.data())[0]).toBeLessThan(1e-4);
      expect((await d2!.data())[0]).toBe(0);
      tf.dispose([x, forced, d1!, d2!, ...steps]);
    }, 'bos view');
    model.dispose();
  });
});
