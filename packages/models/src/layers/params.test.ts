import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect } from 'vitest';
import { AltarError, Rng, decodeSafetensors, encodeSafetensors } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { ParamStore } from './params.js';
import { createModel } from '../factory.js';
import { loadModel, saveModel } from '../io/checkpoint.js';

/** The AltarError `fn` throws (or a failure if it throws nothing or something else). */
function thrown(fn: () => unknown): AltarError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AltarError);
    return e as AltarError;
  }
  throw new Error('expected an AltarError, nothing was thrown');
}

describe('ParamStore.setWeights', () => {
  it('refuses a tensor of another dtype (never casts), naming the parameter and both dtypes', async () => {
    await useBackend('cpu');
    await expectNoLeaks(async () => {
      const store = new ParamStore(new Rng(0));
      store.add('w', [2], { kind: 'values', values: Float32Array.from([0.5, -0.25]) });
      store.add('b', [1], { kind: 'zeros' });
      // an int32 tensor, as a float relabelled I32/U32 in a checkpoint decodes: it used to be cast to -1.1e9
      const ints = { w: tf.tensor1d([-1100000000, 5], 'int32'), b: tf.tensor1d([0]) };
      const e = thrown(() => store.setWeights(ints));
      expect(e.code).toBe('BAD_WEIGHTS');
      expect(e.message).toBe("setWeights: 'w' has dtype int32, expected float32");
      const bools = { w: tf.tensor1d([1, 0]), b: tf.tensor1d([true], 'bool') };
      expect(thrown(() => store.setWeights(bools)).message).toBe("setWeights: 'b' has dtype bool, expected float32");
      // nothing was assigned: the check comes before any variable changes
      expect(Array.from(await store.get('w')!.data())).toEqual([0.5, -0.25]);
      // the right dtype is taken as is
      const ok = { w: tf.tensor1d([3, 4]), b: tf.tensor1d([7]) };
      store.setWeights(ok);
      expect(Array.from(await store.get('w')!.data())).toEqual([3, 4]);
      tf.dispose([...Object.values(ints), ...Object.values(bools), ...Object.values(ok)]);
      store.dispose();
    });
  });

  it('a checkpoint whose float weight is relabelled I32 fails to load with BAD_WEIGHTS naming the tensor', async () => {
    await useBackend('cpu');
    const model = createModel({ type: 'ssm-lm', vocabSize: 5, dModel: 4, nLayers: 1, dState: 2, seed: 1 });
    const { config, weights } = await saveModel(model);
    model.dispose();
    await expectNoLeaks(() => {
      const file = decodeSafetensors(weights);
      const name = Object.keys(file.tensors).sort()[0]!;
      const relabelled = { ...file.tensors, [name]: { ...file.tensors[name]!, dtype: 'I32' as const } };
      const e = thrown(() => loadModel({ config, weights: encodeSafetensors(relabelled, file.metadata) }));
      expect(e.code).toBe('BAD_WEIGHTS');
      expect(e.message).toBe(`setWeights: '${name}' has dtype int32, expected float32`);
    });
  });
});
