import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { FUSED_KERNELS, Rng, setFusedKernels, useFused } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { createModel } from '../index.js';

afterAll(() => setFusedKernels(true));

/** Loss (mean token NLL) and the gradient of every parameter, of a selective SSM LM on fixed tokens. */
async function lossAndGrads(): Promise<{ loss: number; grads: Map<string, number[]> }> {
  const m = createModel({
    type: 'ssm-lm',
    vocabSize: 17,
    dModel: 16,
    nLayers: 2,
    mixer: 'selective',
    dState: 4,
    expand: 2,
    seed: 3,
  } as never) as unknown as { forward(t: tf.Tensor): tf.Tensor; variables(): tf.Variable[]; dispose(): void };
  // seq 11: not a multiple of the composition's chunk (8); batch 2
  const seq = new Rng(4).randint([2, 12], 0, 17);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const inp = tf.slice(seq, [0, 0], [2, 11]);
      const tgt = tf.slice(seq, [0, 1], [2, 11]);
      const lp = tf.logSoftmax(m.forward(inp));
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tgt, 17), lp), -1))) as tf.Scalar;
    }),
  );
  const out = new Map<string, number[]>();
  // Keyed by parameter name without the variable's unique suffix, so two models' keys match.
  for (const v of m.variables()) out.set(v.name.replace(/_\d+$/, ''), Array.from(await grads[v.name]!.data()));
  const loss = (await value.data())[0]!;
  tf.dispose([value, seq, ...Object.values(grads)]);
  m.dispose();
  return { loss, grads: out };
}

describe.each(testBackends())('selective SSM LM with the fused scan on %s', (backend) => {
  it('loss and every parameter gradient equal the composition (ALTAR_FUSED=0)', async () => {
    expect(await useBackend(backend)).not.toBeNull();
    await expectNoLeaks(async () => {
      setFusedKernels(false);
      expect(useFused(FUSED_KERNELS.selectiveScan)).toBe(false);
      const off = await lossAndGrads();
      setFusedKernels(true);
      if (backend === 'cpu' || backend === 'wasm') expect(useFused(FUSED_KERNELS.selectiveScan)).toBe(true);
      const on = await lossAndGrads();
      expect(Math.abs(on.loss - off.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(off.loss)));
      expect(on.grads.size).toBe(off.grads.size);
      const aLogs = [...off.grads.keys()].filter((k) => k.includes('A_log'));
      expect(aLogs.length).toBe(2); // the scan's own parameter is among those compared
      for (const [k, ref] of off.grads) {
        const got = on.grads.get(k)!;
        const scale = Math.max(1e-3, ...ref.map(Math.abs));
        const worst = Math.max(...got.map((v, i) => Math.abs(v - ref[i]!)));
        expect(worst / scale, k).toBeLessThan(1e-4);
      }
    });
  });
});
