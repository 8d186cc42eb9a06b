/**
 * The safetensors reader under a seeded mutation fuzzer (@altar/backend/testing `fuzzSafetensors`, 18 kinds
 * of mutation, listed in its safetensors-mutations.ts) applied to a real checkpoint written by `saveModel`.
 * Every mutant must be rejected with a SafetensorsError or decode to exactly what its header says; accepted
 * files are then loaded into the model, which may refuse them only with BAD_WEIGHTS (a renamed tensor, a
 * float relabelled I32: never a silent cast).
 *
 * Timing: a case is a hang when its decode takes over 50 ms in the best of three tries (a GC pause or a
 * busy neighbour on a shared 2-core runner can stall one try; a quadratic parse is slow every time), and
 * the median decode must stay under 5 ms.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect } from 'vitest';
import { SAFETENSORS_MUTATIONS, fuzzSafetensors, useBackend } from '@altar/backend/testing';
import { createModel } from '../factory.js';
import { saveModel } from './checkpoint.js';

describe('safetensors fuzz', () => {
  it('2,000 mutants of a real checkpoint: SafetensorsError or an exact decode; no crash, hang or leak', async () => {
    await useBackend('cpu');
    const model = createModel({
      type: 'ar-transformer',
      vocabSize: 9,
      dModel: 8,
      nLayers: 1,
      nHeads: 2,
      maxLen: 8,
      seed: 3,
    });
    const { weights } = await saveModel(model);
    const tensorsBefore = tf.memory().numTensors;
    fuzzSafetensors({ file: weights, n: 200, seed: 99 }); // warm-up: let the JIT compile the reader
    const rssBefore = process.resourceUsage().maxRSS * 1024;
    const r = fuzzSafetensors({
      file: weights,
      n: 2000,
      seed: 1,
      onAccepted: (tensors) => model.setWeights(tensors),
      refuseCodes: ['BAD_WEIGHTS'],
    });
    expect(r.failures).toEqual([]);
    expect([r.crashes, r.wrong, r.hangs, r.leaks]).toEqual([0, 0, 0, 0]);
    expect(r.tried).toBe(2000);
    expect(r.rejected + r.acceptedValid).toBe(2000);
    // the mix exercises both sides of the contract and every kind of mutation
    expect(r.rejected).toBeGreaterThan(1000);
    expect(r.acceptedValid).toBeGreaterThan(100);
    expect(r.refused).toBeGreaterThan(10); // relabelled or renamed tensors, refused by the model
    for (const kind of SAFETENSORS_MUTATIONS) expect(r.byKind[kind].tried).toBeGreaterThan(60);
    expect(r.medianMs).toBeLessThan(5);
    expect(r.maxBestMs).toBeLessThan(50);
    // memory: a header that lies about sizes never makes the reader allocate more than a few times the file
    expect(r.maxBufferGrowth).toBeLessThan(16 * r.maxFileBytes + 2 ** 20);
    expect(r.peakRssBytes - rssBefore).toBeLessThan(256 * 2 ** 20);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    model.dispose();
  });
});
