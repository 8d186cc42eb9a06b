import * as tf from '@tensorflow/tfjs-core';
import { describe, it, expect } from 'vitest';
import { ConfigError, Rng } from '@altar/backend';
import { expectNoLeaks, testBackends, useBackend } from '@altar/backend/testing';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel, type AnyModel } from '../factory.js';
import { validateModelConfig } from '../config.js';
import { loadModel, saveModel } from './checkpoint.js';
import { decodeSafetensors } from './safetensors.js';
import { loadModelFiles, saveModelFiles } from '../node.js';

const CONFIGS: Array<Record<string, unknown>> = [
  { type: 'ar-transformer', vocabSize: 9, dModel: 8, nLayers: 1, nHeads: 2, maxLen: 8, attention: 'linear', seed: 2 },
  { type: 'ssm-lm', vocabSize: 9, dModel: 8, nLayers: 1, dState: 3, seed: 2 },
  { type: 'ssm-lm', vocabSize: 9, dModel: 8, nLayers: 1, dState: 3, mixer: 's4d', seed: 2 },
  { type: 'diffusion-transformer', vocabSize: 9, dModel: 8, nLayers: 1, nHeads: 2, maxLen: 8, seed: 2 },
  { type: 'mlp-denoiser', dim: 2, hidden: 8, nLayers: 1, prediction: 'x0', seed: 2 },
  { type: 'unet', imageSize: 8, channels: 3, baseChannels: 4, channelMults: [1, 2], prediction: 'v', seed: 2 },
];

/** Run the model's main function on fixed inputs; host values. */
async function outputs(m: AnyModel): Promise<Float32Array> {
  const rng = new Rng(11);
  const y = tf.tidy(() => {
    if ('forward' in m) return m.forward(rng.randint([2, 5], 0, 9));
    if ('predictX0Logits' in m) return m.predictX0Logits(rng.randint([2, 5], 0, 10), tf.tensor1d([0.2, 0.9]));
    if (m.config.type === 'unet') return m.predict(rng.normal([2, 8, 8, 3]), tf.tensor1d([0.2, 0.9]));
    return m.predict(rng.normal([2, 2]), tf.tensor1d([0.2, 0.9]));
  });
  const v = (await y.data()) as Float32Array;
  y.dispose();
  return v;
}

describe('checkpoints', () => {
  const backends = testBackends();
  it.each(CONFIGS.map((c) => [(c['type'] as string) + (c['mixer'] ? `/${c['mixer'] as string}` : ''), c] as const))(
    '%s: written on one backend, loaded on another, same weights (bit-exact) and same outputs',
    async (_name, cfg) => {
      const [src, dst] = [backends[0] ?? 'cpu', backends[backends.length - 1] ?? 'cpu'];
      await useBackend(src);
      const m = createModel(cfg);
      // perturb weights so zero-initialised adaLN gates do not hide mistakes
      const noisy = tf.tidy(() =>
        Object.fromEntries(
          Object.entries(m.getWeights()).map(([k, t]) => [k, tf.add(t, new Rng(3).normal(t.shape, 0, 0.1))]),
        ),
      );
      m.setWeights(noisy);
      tf.dispose(Object.values(noisy));
      const want = await outputs(m);
      const ckpt = await saveModel(m);
      const wantWeights = Object.fromEntries(
        await Promise.all(
          Object.entries(m.getWeights()).map(
            async ([k, t]) =>
              [k, Array.from(new Uint32Array(((await t.data()) as Float32Array).slice().buffer))] as const,
          ),
        ),
      );
      m.dispose();
      expect(JSON.parse(ckpt.config)).toEqual(validateModelConfig(cfg));
      expect(decodeSafetensors(ckpt.weights).metadata['altar.config']).toBe(ckpt.config);

      await useBackend(dst);
      await expectNoLeaks(async () => {
        const m2 = loadModel(ckpt);
        expect(m2.config).toEqual(validateModelConfig(cfg));
        for (const [k, t] of Object.entries(m2.getWeights())) {
          expect(Array.from(new Uint32Array(((await t.data()) as Float32Array).slice().buffer)), k).toEqual(
            wantWeights[k],
          );
        }
        const got = await outputs(m2);
        let worst = 0;
        got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (want[i] as number)))));
        expect(worst).toBeLessThan(1e-4);
        // the config embedded in the metadata is enough on its own
        const m3 = loadModel({ weights: ckpt.weights });
        expect(m3.paramCount()).toBe(m2.paramCount());
        m3.dispose();
        m2.dispose();
      }, 'load');
    },
  );

  it('rejects checkpoints that do not match the config', async () => {
    await useBackend('cpu');
    await expectNoLeaks(async () => {
      const m = createModel(CONFIGS[0] as unknown);
      const ckpt = await saveModel(m);
      m.dispose();
      const other = { ...CONFIGS[0], dModel: 16 };
      expect(() => loadModel({ config: JSON.stringify(other), weights: ckpt.weights })).toThrow(/shape/);
      expect(() => loadModel({ config: '{not json', weights: ckpt.weights })).toThrow(/not valid JSON/);
      expect(() => loadModel({ config: { ...CONFIGS[1] }, weights: ckpt.weights })).toThrow(
        /unknown parameter|missing parameter/,
      );
    });
  });

  it('node helpers write <name>.json + <name>.safetensors and read them back', async () => {
    await useBackend('cpu');
    const dir = await mkdtemp(join(tmpdir(), 'altar-models-'));
    try {
      await expectNoLeaks(async () => {
        const m = createModel(CONFIGS[1] as unknown);
        const want = await outputs(m);
        await saveModelFiles(m, dir, 'ssm');
        m.dispose();
        const m2 = await loadModelFiles(dir, 'ssm');
        expect(Array.from(await outputs(m2))).toEqual(Array.from(want));
        m2.dispose();
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('configs', () => {
  it('fills defaults, names the bad key in ConfigError', () => {
    const c = validateModelConfig({ type: 'ar-transformer' });
    expect(c).toMatchObject({ type: 'ar-transformer', vocabSize: 256, attention: 'full', positions: 'rope' });
    const bad: Array<[unknown, string]> = [
      [{ type: 'gpt5' }, 'model.type'],
      [{ type: 'ar-transformer', dmodel: 8 }, 'model.dmodel'],
      [{ type: 'ar-transformer', dModel: 8.5 }, 'model.dModel'],
      [{ type: 'ar-transformer', attention: 'sparse' }, 'model.attention'],
      [{ type: 'ar-transformer', dModel: 10, nHeads: 4 }, 'model.nHeads'],
      [{ type: 'ar-transformer', dropout: 1 }, 'model.dropout'],
      [{ type: 'ssm-lm', convKernel: 1 }, 'model.convKernel'],
      [{ type: 'ssm-lm', scanChunk: 16 }, 'model.scanChunk'],
      [{ type: 'unet', channels: 2 }, 'model.channels'],
      [{ type: 'unet', channelMults: [1, 0] }, 'model.channelMults[1]'],
      [{ type: 'unet', imageSize: 10, channelMults: [1, 2, 2] }, 'model.imageSize'],
      [{ type: 'mlp-denoiser', prediction: 'score' }, 'model.prediction'],
      ['ar', 'model'],
    ];
    for (const [cfg, path] of bad) {
      let err: unknown;
      try {
        validateModelConfig(cfg);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(cfg)).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).path).toBe(path);
    }
  });

  it('paramCount matches the closed form; bytesPerWeight is 4', async () => {
    await useBackend('cpu');
    const [v, d, l] = [13, 8, 3];
    const m = createModel({
      type: 'ar-transformer',
      vocabSize: v,
      dModel: d,
      nLayers: l,
      nHeads: 2,
      positions: 'learned',
      maxLen: 5,
    });
    const h = 4 * d;
    const perLayer = 2 * (2 * d) + 3 * d * d + d * d + (d * h + h) + (h * d + d);
    expect(m.paramCount()).toBe(v * d + 5 * d + l * perLayer + 2 * d);
    expect(m.bytesPerWeight).toBe(4);
    m.dispose();
  });
});
