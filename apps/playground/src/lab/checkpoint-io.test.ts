/**
 * Export and import go through the shared run-config schema: an export is a valid run config (the one
 * `altar eval` reads) and loads back with the same weights; configs saved by older versions still load;
 * a bad config names config.json and the key path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@altar/backend/testing';
import { parseRunConfig } from '@altar/recipes';
import { Lab } from './lab.js';

describe('playground checkpoints through the run-config schema', () => {
  beforeAll(async () => {
    expect(await useBackend('cpu')).not.toBeNull();
  });

  it.each(['ar', 'masked-diffusion', 'd3pm'] as const)(
    '%s: the export is a valid run config and loads back to the same samples',
    async (family) => {
      const lab = new Lab(() => undefined);
      await lab.trainSteps({ family, size: 'tiny', source: 'hmm', lr: 0.003, batch: 4, seed: 2 }, 1);
      const ck = await lab.exportCheckpoint(family);
      const run = parseRunConfig(JSON.parse(ck.config));
      expect(run).toMatchObject({ family, data: { source: 'hmm' }, train: { lr: 0.003, seed: 2, steps: 1 } });
      if (run.family === 'd3pm') expect(run.diffusion).toMatchObject({ process: 'uniform', schedule: 'cosine', T: 32 });
      if (run.family === 'masked-diffusion')
        expect(run.diffusion).toMatchObject({ process: 'masked', schedule: 'linear' });
      const a = await lab.sample(family, 8, 5, 3, 'tiny');
      const other = new Lab(() => undefined);
      const sum = await other.loadCheckpoint(ck.config, ck.safetensors, 'test');
      expect(sum.family).toBe(family);
      const b = await other.sample(family, 8, 5, 3, 'tiny');
      expect(b.samples).toEqual(a.samples);
      lab.trainReset(family, false);
      other.trainReset(family, false);
    },
  );

  it('a config saved by an older version (inert keys) still loads; a bad key is named with its path', async () => {
    const lab = new Lab(() => undefined);
    await lab.trainSteps({ family: 'ar', size: 'tiny', source: 'hmm', lr: 0.003, batch: 4, seed: 2 }, 1);
    const ck = await lab.exportCheckpoint('ar');
    const old = {
      ...JSON.parse(ck.config),
      diffusion: { process: 'none' },
      data: { source: 'hmm', hmm: {}, gmm: { preset: 'rings', dim: 2 } },
      train: { lr: 0, seed: 0, steps: 1 },
    };
    const other = new Lab(() => undefined);
    expect((await other.loadCheckpoint(JSON.stringify(old), ck.safetensors, 'test')).family).toBe('ar');
    const bad = { ...JSON.parse(ck.config), train: { lr: 'fast' } };
    await expect(other.loadCheckpoint(JSON.stringify(bad), ck.safetensors, 'test')).rejects.toThrow(
      /^config\.json\.train\.lr: expected a positive number, got 'fast'/,
    );
    const hmm = { ...JSON.parse(ck.config), data: { hmm: { seqLen: 16 } } };
    await expect(other.loadCheckpoint(JSON.stringify(hmm), ck.safetensors, 'test')).rejects.toThrow(
      /config\.json\.data\.hmm: the checkpoint used a non-default HMM/,
    );
    lab.trainReset('ar', false);
    other.trainReset('ar', false);
  });

  it("gaussian: the export names the playground's recipe (loss 'mse', timePower 2, standardised data), so the CLI rebuilds it", async () => {
    const lab = new Lab(() => undefined);
    await lab.trainSteps({ family: 'gaussian', size: 'tiny', source: 'moons', lr: 0.01, batch: 16, seed: 3 }, 1);
    const run = parseRunConfig(JSON.parse((await lab.exportCheckpoint('gaussian')).config));
    expect(run).toMatchObject({
      family: 'gaussian',
      data: { source: 'gmm', gmm: { preset: 'moons', standardise: true } },
      diffusion: { process: 'vp-cosine', loss: 'mse', timePower: 2 },
      train: { lr: 0.01, seed: 3, steps: 1 },
    });
    lab.trainReset('gaussian', false);
  });
});
