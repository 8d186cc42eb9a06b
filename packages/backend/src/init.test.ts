import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { initBackend, parseBackendChoice } from './init.js';
import { expectNoLeaks } from './memory.js';
import { testBackends, useBackend } from './testing/index.js';

describe('initBackend', () => {
  it('starts cpu and describes it', async () => {
    const info = await initBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(info.isGpu).toBe(false);
    expect(info.floatPrecision).toBe(32);
    expect(info.version).toBe(tf.version_core);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an unknown backend with a message naming it', () => {
    expect(() => parseBackendChoice('tpu')).toThrow(ConfigError);
    expect(() => parseBackendChoice('tpu')).toThrow(/'tpu'/);
  });

  it('refuses a named backend that cannot start instead of falling back', async () => {
    // webgl never exists in Node; cuda needs an optional peer that is not installed here.
    await expect(initBackend('webgl')).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(initBackend('cuda')).rejects.toThrow(/tfjs-node-gpu/);
    await initBackend('cpu');
  });

  it('rejects ALTAR_DAWN_FLAGS that are not name=value, naming the flag', async () => {
    const saved = process.env['ALTAR_DAWN_FLAGS'];
    process.env['ALTAR_DAWN_FLAGS'] = 'backend=null verbose';
    try {
      await expect(initBackend('webgpu')).rejects.toThrow(/ALTAR_DAWN_FLAGS.*'verbose'/);
    } finally {
      if (saved === undefined) delete process.env['ALTAR_DAWN_FLAGS'];
      else process.env['ALTAR_DAWN_FLAGS'] = saved;
    }
    await initBackend('cpu');
  });

  it('auto picks a backend and logs why', async () => {
    const lines: string[] = [];
    const info = await initBackend('auto', { logger: { info: (m) => lines.push(m), warn: (m) => lines.push(m) } });
    expect(['webgpu', 'wasm', 'cpu']).toContain(info.name);
    expect(lines.join('\n')).toMatch(/auto chose/);
    expect(info.reason).toMatch(/skipped cuda/);
    await initBackend('cpu');
  });
});

describe.each(testBackends(['cpu', 'wasm', 'webgpu']))('gradients on %s', (name) => {
  it('trains through gather (embedding) and gatherNd', async (ctx) => {
    // Only WebGPU may be absent (no Vulkan driver): optional, so it skips (unless ALTAR_REQUIRE_BACKENDS names it).
    const info = await useBackend(name, { optional: name === 'webgpu' });
    if (!info) return ctx.skip();
    await expectNoLeaks(async () => {
      const table = tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      const ids = tf.tensor1d([0, 2, 2, 1], 'int32');
      const g = tf.grad((t: tf.Tensor) =>
        tf
          .gather(t, ids)
          .mul(tf.tensor1d([1, 10]))
          .sum(),
      )(table);
      // Each row's gradient counts how often it was gathered, times [1, 10].
      expect(Array.from(await g.data())).toEqual([1, 10, 1, 10, 2, 20]);
      const idx = tf.tensor2d(
        [
          [0, 1],
          [2, 0],
        ],
        [2, 2],
        'int32',
      );
      const g2 = tf.grad((t: tf.Tensor) => tf.gatherND(t, idx).sum())(table);
      expect(Array.from(await g2.data())).toEqual([0, 1, 0, 0, 1, 0]);
      tf.dispose([table, ids, g, idx, g2]);
    }, `gather gradients on ${name}`);
  });
});
