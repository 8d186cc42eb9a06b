import { describe, expect, it } from 'vitest';
import {
  DEFAULTS,
  FAMILIES,
  SAMPLERS_BY_FAMILY,
  SAMPLER_NAMES,
  parseState,
  samplerFor,
  serializeState,
} from './state.js';

describe('URL state', () => {
  it('defaults serialise to an empty query and parse back to the defaults', () => {
    expect(serializeState(DEFAULTS)).toBe('');
    expect(parseState('').state).toEqual(DEFAULTS);
  });

  it('round-trips every field', () => {
    const s = {
      ...DEFAULTS,
      view: 'race',
      backend: 'wasm',
      source: 'rings',
      process: 'gauss',
      t: 0.25,
      family: 'masked-diffusion',
      size: 'small',
      seed: 42,
      T: 7,
      sampler: 'uncached',
      lr: 0.02,
      batch: 8,
      corpus: 'mine',
      tokenizer: 'byte',
    } as const;
    const { state, warnings } = parseState(serializeState(s));
    expect(warnings).toEqual([]);
    expect(state).toEqual(s);
  });

  it('rejects unknown values and clamps ranges, saying why', () => {
    const { state, warnings } = parseState('?view=nope&T=1000&seed=1.5&t=-1');
    expect(state.view).toBe(DEFAULTS.view);
    expect(state.T).toBe(256);
    expect(state.seed).toBe(DEFAULTS.seed);
    expect(state.t).toBe(0);
    expect(warnings.join('\n')).toMatch(/view='nope'/);
    expect(warnings.join('\n')).toMatch(/T=1000 is outside/);
    expect(warnings.join('\n')).toMatch(/seed='1.5' is not an integer/);
  });

  it("samplers: every family's list is known to the URL; 'auto' or a foreign name gives the family's default", () => {
    for (const f of FAMILIES) for (const n of SAMPLERS_BY_FAMILY[f]) expect(SAMPLER_NAMES).toContain(n);
    expect(samplerFor('gaussian-image', 'auto')).toBe('ddim');
    expect(samplerFor('gaussian', 'ode-heun')).toBe('ode-heun');
    expect(samplerFor('ar', 'ddpm')).toBe('cached');
    expect(parseState('?sampler=leapfrog').warnings.join()).toMatch(/sampler='leapfrog'/);
  });
});
