import { describe, expect, it } from 'vitest';
import { ConfigError } from '@altar/backend';
import { defaultRunConfig, parseRunConfig, resolveModelConfig, type TokenRunConfig } from './schema.js';

const bad = (input: unknown): string => {
  try {
    parseRunConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(input)}`);
};

describe('run config schema: errors name the key path, what was expected and what was given', () => {
  it('unknown keys list the allowed ones', () => {
    expect(bad({ family: 'ar', trian: {} })).toMatch(
      /^trian: unknown key; expected one of: name, family, backend, train, checkpoint, data, model, diffusion, eval/,
    );
    expect(bad({ family: 'ar', train: { lrr: 1 } })).toMatch(/^train\.lrr: unknown key; expected one of: .*\blr\b/);
    expect(bad({ family: 'gaussian', data: { gmm: { presett: 'x' } } })).toMatch(
      /^data\.gmm\.presett: unknown key; expected one of: preset, dim/,
    );
    expect(bad({ family: 'ar', model: { type: 'ar-transformer', dModell: 3 } })).toMatch(
      /^model\.dModell: unknown key/,
    );
    expect(bad({ family: 'ar', data: { hmm: { vocabSise: 3 } } })).toMatch(/^data\.hmm\.vocabSise: unknown key/);
  });

  it('wrong types and values', () => {
    expect(bad({ family: 'ar', train: { lr: 'fast' } })).toMatch(/^train\.lr: expected a positive number, got 'fast'/);
    expect(bad({ family: 'ar', train: { steps: 2.5 } })).toMatch(
      /^train\.steps: expected an integer ≥ 0 and ≤ 10000000, got 2\.5/,
    );
    expect(bad({ family: 'ar', data: { batchSize: 0 } })).toMatch(
      /^data\.batchSize: expected an integer ≥ 1 and ≤ 16384, got 0/,
    );
    expect(bad({ family: 'ar', data: 'hmm' })).toMatch(/^data: expected an object, got 'hmm'/);
    expect(bad({ family: 'ar', model: { type: 'ar-transformer', nLayers: 'two' } })).toMatch(
      /^model\.nLayers: expected an integer ≥ 1, got "two"/,
    );
    expect(bad({ family: 'dragon' })).toMatch(
      /^family: expected one of ar, ssm, masked-diffusion, d3pm, gaussian, got 'dragon'/,
    );
    expect(bad({ family: 'masked-diffusion', diffusion: { schedule: 'jsd' } })).toMatch(
      /^diffusion\.schedule: expected one of log-linear, linear, cosine for process 'masked', got 'jsd'/,
    );
    expect(bad({ family: 'd3pm', diffusion: { timesteps: 'sometimes' } })).toMatch(
      /^diffusion\.timesteps: expected one of uniform, stratified, antithetic, importance, got 'sometimes'/,
    );
    expect(bad({ family: 'ar', data: { source: 'gmm' } })).toMatch(
      /^data\.source: expected one of hmm, text for a token family, got 'gmm'/,
    );
    expect(bad({ family: 'ar', model: { type: 'unet' } })).toMatch(
      /^model\.type: expected one of ar-transformer for family 'ar', got 'unet'/,
    );
    expect(bad({ family: 'ar', data: { hmm: { stayProb: 0.9, advanceProb: 0.5 } } })).toMatch(
      /^data\.hmm\.advanceProb: stayProb \+ advanceProb must be <= 1/,
    );
    expect(bad([1])).toMatch(/must be an object, got an array/);
  });

  it('non-finite numbers are named as NaN / Infinity, never null', () => {
    expect(bad({ family: 'ar', train: { lr: NaN } })).toBe('train.lr: expected a finite number, got NaN');
    expect(bad({ family: 'gaussian', model: { hidden: -Infinity } })).toBe(
      'model.hidden: expected a finite number, got -Infinity',
    );
    expect(bad({ family: 'gaussian', model: { type: 'unet', channelMults: [1, Infinity] } })).toBe(
      'model.channelMults[1]: expected a finite number, got Infinity',
    );
  });

  it('prototype keys are refused wherever they appear', () => {
    expect(bad(JSON.parse('{"family": "ar", "__proto__": {"x": 1}}'))).toBe(
      "__proto__: '__proto__' is not a config key",
    );
    expect(bad({ family: 'ar', model: { constructor: 1 } })).toBe(
      "model.constructor: 'constructor' is not a config key",
    );
    expect(bad({ family: 'ar', data: { hmm: { prototype: 1 } } })).toBe(
      "data.hmm.prototype: 'prototype' is not a config key",
    );
  });

  it('values are bounded, and the bound is in the message', () => {
    expect(bad({ family: 'ar', train: { steps: 1e12 } })).toBe(
      'train.steps: expected an integer in 0..10000000 (the sane bound for this key), got 1000000000000',
    );
    expect(bad({ family: 'd3pm', diffusion: { T: 1e9 } })).toMatch(/^diffusion\.T: expected an integer in 1\.\.100000/);
    expect(bad({ family: 'ar', data: { batchSize: 1e6 } })).toMatch(
      /^data\.batchSize: expected an integer in 1\.\.16384/,
    );
    expect(bad({ family: 'ar', train: { accumSteps: 5000 } })).toMatch(
      /^train\.accumSteps: expected an integer in 1\.\.1024/,
    );
    expect(bad({ family: 'ar', train: { syncEvery: 0 } })).toMatch(
      /^train\.syncEvery: expected an integer ≥ 1 or 'auto', got 0/,
    );
    expect(bad({ family: 'ar', train: { syncEvery: 'never' } })).toMatch(
      /^train\.syncEvery: expected an integer ≥ 1 or 'auto', got 'never'/,
    );
  });

  it('options that could not take effect are rejected', () => {
    expect(bad({ family: 'ar', diffusion: { process: 'none' } })).toMatch(
      /^diffusion: family 'ar' has no diffusion process/,
    );
    expect(bad({ family: 'ssm', eval: { sampleSteps: 8 } })).toMatch(/^eval\.sampleSteps: unknown key/);
    expect(bad({ family: 'masked-diffusion', diffusion: { T: 64 } })).toMatch(
      /^diffusion\.T: unknown key; expected one of: process, schedule, timesteps/,
    );
    expect(bad({ family: 'masked-diffusion', diffusion: { timesteps: 'importance' } })).toMatch(
      /^diffusion\.timesteps: expected one of uniform, stratified for the continuous-time masked NELBO/,
    );
    expect(bad({ family: 'gaussian', diffusion: { schedule: 'cosine' } })).toMatch(
      /^diffusion\.schedule: unknown key; expected one of: process, loss, timePower, T, timesteps/,
    );
    expect(bad({ family: 'gaussian', diffusion: { timePower: 2 } })).toMatch(
      /^diffusion\.timePower: applies to loss 'mse' only, got 2/,
    );
    expect(bad({ family: 'gaussian', diffusion: { loss: 'mse', T: 100 } })).toMatch(
      /^diffusion\.T: applies to loss 'nelbo' only/,
    );
    expect(bad({ family: 'gaussian', diffusion: { loss: 'mse', timesteps: 'uniform' } })).toMatch(
      /^diffusion\.timesteps: applies to loss 'nelbo' only/,
    );
    expect(bad({ family: 'gaussian', diffusion: { loss: 'mse', timePower: 0.5 } })).toMatch(
      /^diffusion\.timePower: expected a number in \[1, 16\], got 0\.5/,
    );
    expect(bad({ family: 'gaussian', diffusion: { timesteps: 'antithetic' } })).toMatch(
      /^diffusion\.timesteps: expected uniform or stratified for continuous time/,
    );
    expect(bad({ family: 'gaussian', diffusion: { T: 100, timesteps: 'importance' } })).toMatch(
      /^diffusion\.timesteps: .*'importance' is implemented for family 'd3pm' only/,
    );
    expect(bad({ family: 'gaussian', data: { source: 'gmm', images: { size: 16 } } })).toMatch(
      /^data\.images: applies to data\.source 'images' only/,
    );
    expect(bad({ family: 'gaussian', data: { gmm: { preset: 'rings', dim: 8 } } })).toMatch(
      /^data\.gmm\.dim: preset 'rings' is 2-D/,
    );
    expect(bad({ family: 'gaussian', data: { source: 'images' } })).toMatch(
      /^model\.type: data\.source 'images' needs a 'unet' model, got 'mlp-denoiser'/,
    );
    expect(bad({ family: 'd3pm', diffusion: { T: 16 }, eval: { sampleSteps: 32 } })).toMatch(
      /^eval\.sampleSteps: expected at most diffusion\.T = 16/,
    );
  });

  it('fills defaults per family; the output parses to itself', () => {
    for (const f of ['ar', 'ssm', 'masked-diffusion', 'd3pm', 'gaussian'] as const) {
      const c = defaultRunConfig(f);
      expect(c.family).toBe(f);
      expect(parseRunConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    }
    const d = defaultRunConfig('d3pm');
    expect(d.family === 'd3pm' && d.diffusion).toEqual({
      process: 'absorbing',
      schedule: 'jsd',
      T: 64,
      timesteps: 'stratified',
    });
    const g = parseRunConfig({ family: 'gaussian', data: { source: 'images' }, model: { type: 'unet' } });
    expect(g.data).toEqual({ source: 'images', images: { size: 16, channels: 1 }, batchSize: 256 });
  });

  it('fills the data-dependent model sizes (AR: V + 1 for BOS)', () => {
    const tok = (c: unknown): TokenRunConfig => {
      const r = parseRunConfig(c);
      if (r.family === 'gaussian') throw new Error('not a token config');
      return r;
    };
    expect(resolveModelConfig(tok({ family: 'ar' }), 32, 16)).toMatchObject({
      type: 'ar-transformer',
      vocabSize: 33,
      maxLen: 16,
    });
    expect(resolveModelConfig(tok({ family: 'masked-diffusion' }), 32, 16)).toMatchObject({
      type: 'diffusion-transformer',
      vocabSize: 32,
      maxLen: 16,
    });
  });
});

describe('saved configs from before the schema', () => {
  it('keys that never took effect are dropped; a current config passes unchanged', async () => {
    const { parseSavedRunConfig } = await import('./saved.js');
    const oldAr = {
      name: 'ar',
      family: 'ar',
      backend: 'auto',
      data: {
        source: 'hmm',
        hmm: {},
        gmm: { preset: 'rings', dim: 2 },
        images: { size: 16, channels: 1 },
        batchSize: 32,
      },
      model: { type: 'ar-transformer', dModel: 64, nLayers: 2, nHeads: 4 },
      diffusion: { process: 'none', schedule: 'cosine', T: 1000, timesteps: 'stratified' },
      eval: { batches: 4, batchSize: 64, samples: 4, sampleSteps: 32 },
    };
    expect(() => parseRunConfig(oldAr)).toThrow(ConfigError);
    expect(parseSavedRunConfig(oldAr)).toEqual(
      parseRunConfig({ family: 'ar', model: oldAr.model, eval: { batches: 4, batchSize: 64, samples: 4 } }),
    );
    const oldGauss = {
      family: 'gaussian',
      data: { source: 'gmm', hmm: {}, gmm: { preset: 'rings', dim: 2 }, images: { size: 16, channels: 1 } },
      diffusion: { process: 'vp-linear', schedule: 'cosine', T: 1000, timesteps: 'stratified' },
    };
    const g = parseSavedRunConfig(oldGauss);
    expect(g.family === 'gaussian' && g.diffusion).toEqual({
      process: 'vp-linear',
      loss: 'nelbo',
      timesteps: 'stratified',
    });
    const oldMasked = {
      family: 'masked-diffusion',
      diffusion: { process: 'masked', schedule: 'linear', T: 1000 },
      train: { lr: 0, seed: 3 },
    };
    expect(parseSavedRunConfig(oldMasked)).toEqual(
      parseRunConfig({ family: 'masked-diffusion', diffusion: { schedule: 'linear' }, train: { seed: 3 } }),
    );
    for (const c of [
      parseRunConfig({ family: 'gaussian', diffusion: { T: 100, timesteps: 'antithetic' } }),
      parseRunConfig({ family: 'd3pm' }),
    ]) {
      expect(parseSavedRunConfig(JSON.parse(JSON.stringify(c)))).toEqual(c);
    }
  });
});
