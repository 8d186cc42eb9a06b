/**
 * ALTAR_DAWN_FLAGS=backend=null starts WebGPU on Dawn's null adapter, which validates every command and runs
 * none: the way to measure the host's own cost of a step without a GPU (bench:reference uses it). Its own file:
 * the adapter is chosen once per process. Skipped where the optional `webgpu` package is missing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from './init.js';
import { expectNoLeaks } from './memory.js';

const saved = process.env['ALTAR_DAWN_FLAGS'];
afterAll(() => {
  if (saved === undefined) delete process.env['ALTAR_DAWN_FLAGS'];
  else process.env['ALTAR_DAWN_FLAGS'] = saved;
});

describe("Dawn's null adapter", () => {
  it('starts webgpu on it, says it is no GPU, and runs kernels without leaks', async (ctx) => {
    process.env['ALTAR_DAWN_FLAGS'] = 'backend=null';
    let info;
    try {
      info = await initBackend('webgpu');
    } catch (e) {
      if (/not installed/.test(String(e))) return ctx.skip();
      throw e;
    }
    expect(info.adapter).toMatch(/null/);
    expect(info.isGpu).toBe(false);
    expect(info.reason).toMatch(/null adapter.*host cost only/);
    await expectNoLeaks(async () => {
      const a = tf.ones([64, 64]);
      const y = tf.matMul(a, a);
      expect(y.shape).toEqual([64, 64]);
      await y.data(); // a value nothing computed: the null adapter drops the dispatch
      tf.dispose([a, y]);
    });
  });
});
