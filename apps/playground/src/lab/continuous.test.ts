/**
 * Continuous diffusion in the playground (continuous.ts, through the Lab the worker runs):
 * - the points bound in bits/dim adds back log2(scale): the same model on a mixture divided by s
 *   (scale 1) and on the mixture itself (scale s) differs by exactly log2 s;
 * - the image family (tiny U-Net) learns on wasm: its v-MSE and its NELBO in bits per 8-bit pixel fall,
 *   and sampling returns one frame per model call plus the samples;
 * - checkpoints of both continuous families round-trip through export/load (same samples bit for bit),
 *   `altar train`-style configs load, and wrong data is refused with a message naming the field.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { GaussianMixtureSource, gmmPreset } from '@altar/data';
import { createModel, validateModelConfig } from '@altar/models';
import { Lab } from './lab.js';
import * as tf from '@tensorflow/tfjs-core';
import { GaussianProcess } from '@altar/noise';
import { buildContinuousRuntime, hostX0, imageModelConfig, imageSource, IMAGE_TRAIN } from './continuous.js';
import { GAUSSIAN_PROCESS } from './families.js';

describe('continuous families on wasm', () => {
  beforeAll(async () => {
    expect(await useBackend('wasm')).not.toBeNull();
  });

  it("hostX0 agrees with @altar/noise's GaussianProcess.toX0 for every prediction kind (then clips and scales)", async () => {
    const proc = new GaussianProcess('vp-cosine');
    const rng = new Rng(11);
    const z = Float32Array.from(rng.normalArray(64));
    const pred = Float32Array.from(rng.normalArray(64));
    for (const t of [0.05, 0.5, 0.93]) {
      for (const kind of ['eps', 'x0', 'v'] as const) {
        const ref = tf.tidy(() =>
          proc.toX0(kind, tf.tensor2d(pred, [8, 8]), tf.tensor2d(z, [8, 8]), Array<number>(8).fill(t)),
        );
        const want = (await ref.data()) as Float32Array;
        ref.dispose();
        const got = hostX0(kind, z, pred, proc.alpha(t), proc.sigma(t), [-1e9, 1e9], 1);
        for (let i = 0; i < 64; i++) expect(got[i]!).toBeCloseTo(want[i]!, 3);
        const clipped = hostX0(kind, z, pred, proc.alpha(t), proc.sigma(t), [-1, 1], 2.5);
        for (let i = 0; i < 64; i++) expect(clipped[i]!).toBeCloseTo(2.5 * Math.min(1, Math.max(-1, want[i]!)), 3);
      }
    }
  });

  it('the points bound adds back log2(scale) for data the model sees divided by the scale', async () => {
    const g = gmmPreset('moons');
    const s = 1.7;
    const K = g.weights.length;
    const d = g.dim;
    // The same mixture divided by s: means / s, variances / s².
    const shrunk = new GaussianMixtureSource({
      weights: Array.from(g.weights),
      means: Array.from({ length: K }, (_, k) => Array.from(g.means.subarray(k * d, k * d + d), (m) => m / s)),
      variances: Array.from({ length: K }, (_, k) =>
        Array.from(g.variances.subarray(k * d, k * d + d), (v) => v / (s * s)),
      ),
    });
    await expectNoLeaks(async () => {
      const model = createModel(
        validateModelConfig({ type: 'mlp-denoiser', dim: 2, hidden: 32, nLayers: 2, prediction: 'v', seed: 1 }),
      );
      const opts = { process: GAUSSIAN_PROCESS, sampler: 'ddim' } as const;
      const a = buildContinuousRuntime('gaussian', model, { kind: 'points', gmm: g, scale: s }, opts);
      const b = buildContinuousRuntime('gaussian', model, { kind: 'points', gmm: shrunk, scale: 1 }, opts);
      const ba = await a.boundBits!(new Rng(5), 256);
      const bb = await b.boundBits!(new Rng(5), 256);
      model.dispose();
      expect(Number.isFinite(ba.bits)).toBe(true);
      expect(ba.bits - bb.bits).toBeCloseTo(Math.log2(s), 3);
      expect(ba.stdErr).toBeCloseTo(bb.stdErr, 4); // the spread is in nats of the model's own units: unchanged
    }, 'points bound');
  });

  it('the image family learns: v-MSE and bits per pixel fall, sampling returns T + 1 frames of 16×16 images', async () => {
    await expectNoLeaks(async () => {
      const cfg = {
        family: 'gaussian-image' as const,
        size: 'tiny' as const,
        source: 'shapes' as const,
        lr: IMAGE_TRAIN.lr,
        batch: IMAGE_TRAIN.batch,
        seed: 0,
      };
      const losses: number[] = [];
      const bounds: number[] = [];
      const lab2 = new Lab((e) => {
        if (e.type !== 'train') return;
        losses.push(e.bits);
        if (e.bound && e.bound.bits !== bounds[bounds.length - 1]) bounds.push(e.bound.bits);
      });
      await lab2.trainSteps(cfg, 80);
      // Events every 5 steps; the bound at step 1 (untrained) and every 25 steps after.
      expect(bounds.length).toBeGreaterThanOrEqual(3);
      const first = losses[0]!;
      const last = losses.slice(-3).reduce((x, y) => x + y, 0) / 3;
      console.log(
        `image family: v-MSE ${first.toFixed(3)} → ${last.toFixed(3)}, NELBO ${bounds.map((b) => b.toFixed(3)).join(' → ')} bits/pixel`,
      );
      expect(first).toBeGreaterThan(0.5); // v has unit variance: an untrained U-Net is near 1
      expect(last).toBeLessThan(0.75 * first);
      expect(bounds[bounds.length - 1]!).toBeLessThan(bounds[0]! - 0.3);
      expect(bounds[bounds.length - 1]!).toBeGreaterThan(0); // bits per 8-bit pixel: in (0, 8]
      const r = await lab2.sample('gaussian-image', 6, 3, 4, 'tiny');
      expect(r.images).toBeDefined();
      const im = r.images!;
      expect(im.frames.length).toBe(7); // z before each of the 6 calls + the samples
      expect(im.frames.every((f) => f.length === 4 * 16 * 16)).toBe(true);
      // The model's x̂0 per call: as many frames, inside the pixel range, ending on the samples themselves.
      expect(im.x0Frames.length).toBe(7);
      expect(im.x0Frames.every((f) => f.every((v) => Math.abs(v) <= 1 + 1e-6))).toBe(true);
      expect(im.x0Frames[6]).toEqual(im.frames[6]);
      expect(r.cost.nfe).toBe(6);
      const final = im.frames[6]!;
      expect(Math.max(...final.map(Math.abs))).toBeLessThanOrEqual(1 + 1e-5); // x̂0 clipped to the pixel range
      lab2.trainReset('gaussian-image');
      await new Promise((res) => setTimeout(res, 10)); // the reset disposes once the lock is free
    }, 'image family');
  }, 120_000);

  it('continuous checkpoints round-trip; altar-train configs load; wrong data is refused', async () => {
    const lab = new Lab(() => undefined);
    await lab.trainSteps({ family: 'gaussian', size: 'tiny', source: 'grid', lr: 0.01, batch: 64, seed: 2 }, 6);
    await lab.trainSteps(
      { family: 'gaussian-image', size: 'tiny', source: 'shapes', lr: IMAGE_TRAIN.lr, batch: 4, seed: 2 },
      2,
    );
    for (const f of ['gaussian', 'gaussian-image'] as const) {
      const ck = await lab.exportCheckpoint(f);
      const run = JSON.parse(ck.config) as { family: string; data: { source: string } };
      expect(run.family).toBe('gaussian'); // `altar train`'s name for both
      expect(run.data.source).toBe(f === 'gaussian' ? 'gmm' : 'images');
      const other = new Lab(() => undefined);
      const sum = await other.loadCheckpoint(ck.config, ck.safetensors);
      expect(sum.family).toBe(f);
      const a = await lab.sample(f, 4, 9, 8, 'tiny');
      const b = await other.sample(f, 4, 9, 8, 'tiny');
      const fa = a.points?.frames ?? a.images!.frames;
      const fb = b.points?.frames ?? b.images!.frames;
      expect(fb[fb.length - 1]).toEqual(fa[fa.length - 1]);
      other.trainReset(f);
    }
    // An `altar train` image config (no playground metadata) loads; a 32×32 one is refused by name.
    const unet = createModel(imageModelConfig('tiny', 4));
    const { tensorsToSafetensors } = await import('@altar/models');
    const bytes = await tensorsToSafetensors(unet.getWeights(), {
      format: 'altar',
      step: '7',
      'altar.config': JSON.stringify(unet.config),
      'altar.family': 'gaussian',
    });
    const ok = {
      family: 'gaussian',
      data: { source: 'images', images: { size: 16, channels: 1 } },
      model: { ...unet.config },
      diffusion: { process: 'vp-cosine' },
    };
    unet.dispose();
    const other = new Lab(() => undefined);
    expect((await other.loadCheckpoint(JSON.stringify(ok), bytes)).step).toBe(7);
    await expect(
      other.loadCheckpoint(
        JSON.stringify({ ...ok, data: { source: 'images', images: { size: 32, channels: 1 } } }),
        bytes,
      ),
    ).rejects.toThrow(/data\.images.*32×32/);
    await expect(
      other.loadCheckpoint(JSON.stringify({ ...ok, diffusion: { process: 'vp-quadratic' } }), bytes),
    ).rejects.toThrow(/diffusion\.process.*vp-quadratic/);
    // The shared schema checks the model against the data before the playground looks at the preset.
    await expect(
      other.loadCheckpoint(JSON.stringify({ ...ok, data: { source: 'gmm', gmm: { preset: 'random' } } }), bytes),
    ).rejects.toThrow(/^config\.json\.model\.type: data\.source 'gmm' needs a 'mlp-denoiser' model, got 'unet'/);
    await expect(
      other.loadCheckpoint(
        JSON.stringify({ ...ok, data: { source: 'gmm', gmm: { preset: 'random' } }, model: { type: 'mlp-denoiser' } }),
        bytes,
      ),
    ).rejects.toThrow(/^config\.json\.data\.gmm\.preset: .*'random'/);
    other.trainReset('gaussian-image');
    lab.trainReset('gaussian');
    lab.trainReset('gaussian-image');
    expect(imageSource().dim).toBe(256);
  }, 120_000);
});
