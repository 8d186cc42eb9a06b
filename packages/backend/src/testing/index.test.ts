import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError } from '../errors.js';
import { useBackend } from './index.js';

// cuda needs the optional peer @tensorflow/tfjs-node-gpu, which the workspace never installs: a
// backend that cannot start here, on every machine the tests run on.
const saved = process.env['ALTAR_REQUIRE_BACKENDS'];
afterEach(() => {
  if (saved === undefined) delete process.env['ALTAR_REQUIRE_BACKENDS'];
  else process.env['ALTAR_REQUIRE_BACKENDS'] = saved;
});

describe('useBackend', () => {
  it('starts a backend by name and makes it current', async () => {
    const info = await useBackend('cpu');
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('fails loudly for a backend that cannot start, with the reason, and does not switch', async () => {
    delete process.env['ALTAR_REQUIRE_BACKENDS'];
    await useBackend('cpu');
    await expect(useBackend('cuda')).rejects.toBeInstanceOf(BackendUnavailableError);
    // Twice: the remembered failure is reported again, never turned into a silent fallback.
    await expect(useBackend('cuda')).rejects.toThrow(/cuda/);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('resolves to null only when marked optional', async () => {
    delete process.env['ALTAR_REQUIRE_BACKENDS'];
    expect(await useBackend('cuda', { optional: true })).toBeNull();
  });

  it('throws even when optional if ALTAR_REQUIRE_BACKENDS names the backend', async () => {
    process.env['ALTAR_REQUIRE_BACKENDS'] = 'cpu,cuda';
    await expect(useBackend('cuda', { optional: true })).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
