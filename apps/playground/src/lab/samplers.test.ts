/**
 * The Sample view's sampler choice, through the Lab the worker runs (untrained tiny models on wasm: the
 * properties hold for any weights): a cache changes the cost, never the samples; DDIM is deterministic
 * given z_1, the stochastic samplers are not; Heun pays two calls a step; a sampler a family lacks is refused.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@altar/backend/testing';
import { Lab } from './lab.js';

describe('sampler choice on wasm', () => {
  beforeAll(async () => {
    expect(await useBackend('wasm')).not.toBeNull();
  });

  it('AR and masked diffusion: cached and uncached draw the same tokens; uncached masked calls the model every step', async () => {
    const lab = new Lab(() => undefined);
    const a = await lab.sample('ar', 8, 3, 4, 'tiny', 'cached');
    const b = await lab.sample('ar', 8, 3, 4, 'tiny', 'uncached');
    expect(b.samples).toEqual(a.samples);
    expect([a.cost.nfe, b.cost.nfe]).toEqual([32, 32]);
    const c = await lab.sample('masked-diffusion', 64, 3, 4, 'tiny', 'cached');
    const u = await lab.sample('masked-diffusion', 64, 3, 4, 'tiny', 'uncached');
    expect(u.samples).toEqual(c.samples);
    expect(u.cost.nfe).toBe(64);
    // A step is free when no sequence of the batch reveals a token: with 4 × 32 positions over 64 steps
    // some steps still reveal nothing.
    expect(c.cost.nfe).toBeLessThan(64);
    lab.trainReset('ar');
    lab.trainReset('masked-diffusion');
  });

  it('Gaussian: DDIM, DDPM, ODE (Euler, Heun) and SDE run; Heun takes 2T − 1 calls; unknown samplers are refused by name', async () => {
    const lab = new Lab(() => undefined);
    const nfe: Record<string, number> = {};
    for (const s of ['ddim', 'ddpm', 'ode-euler', 'ode-heun', 'sde']) {
      const r = await lab.sample('gaussian', 6, 1, 400, 'tiny', s);
      nfe[s] = r.cost.nfe;
      expect(r.sampler.startsWith(s)).toBe(true);
      const last = r.points!.frames[r.points!.frames.length - 1]!;
      expect(last.every(Number.isFinite)).toBe(true);
    }
    expect(nfe).toEqual({ ddim: 6, ddpm: 6, 'ode-euler': 6, 'ode-heun': 11, sde: 6 });
    await expect(lab.sample('d3pm', 4, 1, 2, 'tiny', 'ddim')).rejects.toThrow(
      /'ddim' does not apply to d3pm \(use ancestral\)/,
    );
    lab.trainReset('gaussian');
  });
});
