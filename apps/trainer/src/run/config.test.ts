import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@altar/backend';
import { rmSync } from 'node:fs';
import { tempDir } from '../../test/helpers.js';
import { applySet, loadRunConfig, resolveModelConfig, validateRunConfig } from './config.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bad = (input: unknown): string => {
  try {
    validateRunConfig(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('run config validation', () => {
  it('names the path of an unknown key and lists what is allowed', () => {
    expect(bad({ family: 'ar', trian: {} })).toMatch(/^trian: unknown key; expected one of: name, family, backend, data/);
    expect(bad({ family: 'ar', train: { lrr: 1 } })).toMatch(/^train\.lrr: unknown key; expected one of: .*\blr\b/);
    expect(bad({ family: 'ar', data: { gmm: { presett: 'x' } } })).toMatch(/^data\.gmm\.presett: unknown key/);
    expect(bad({ family: 'ar', model: { type: 'ar-transformer', dModell: 3 } })).toMatch(/^model\.dModell: unknown key/);
    expect(bad({ family: 'ar', data: { hmm: { vocabSise: 3 } } })).toMatch(/^data\.hmm\.vocabSise/);
  });

  it('names the path of a wrong type and says what was expected', () => {
    expect(bad({ family: 'ar', train: { lr: 'fast' } })).toMatch(/^train\.lr: expected a number, got 'fast'/);
    expect(bad({ family: 'ar', train: { steps: 2.5 } })).toMatch(/^train\.steps: expected an integer ≥ 0, got 2\.5/);
    expect(bad({ family: 'ar', data: { batchSize: 0 } })).toMatch(/^data\.batchSize: expected an integer ≥ 1, got 0/);
    expect(bad({ family: 'ar', data: 'hmm' })).toMatch(/^data: expected an object, got 'hmm'/);
    expect(bad({ family: 'ar', model: { type: 'ar-transformer', nLayers: 'two' } })).toMatch(/^model\.nLayers: expected an integer ≥ 1, got "two"/);
    expect(bad({ family: 'dragon' })).toMatch(/^family: expected one of ar, ssm, masked-diffusion, d3pm, gaussian, got 'dragon'/);
    expect(bad({ family: 'masked-diffusion', diffusion: { schedule: 'jsd' } })).toMatch(/^diffusion\.schedule: expected one of log-linear, linear, cosine for process 'masked'/);
    expect(bad({ family: 'ar', data: { source: 'gmm' } })).toMatch(/^data\.source: expected one of hmm for family 'ar'/);
    expect(bad([1])).toMatch(/must be an object/);
  });

  it('fills defaults and the data-dependent model sizes (AR: V + 1 for BOS)', () => {
    const c = validateRunConfig({ family: 'ar' });
    expect(c.train.steps).toBeGreaterThan(0);
    expect(c.model['type']).toBe('ar-transformer');
    const m = resolveModelConfig(c, 32, 16);
    expect(m).toMatchObject({ type: 'ar-transformer', vocabSize: 33, maxLen: 16 });
    const d = resolveModelConfig(validateRunConfig({ family: 'masked-diffusion' }), 32, 16);
    expect(d).toMatchObject({ type: 'diffusion-transformer', vocabSize: 32, maxLen: 16 });
  });

  it('--set parses JSON values, creates sections and rejects bad assignments', () => {
    const o: Record<string, unknown> = { family: 'ar' };
    applySet(o, 'train.steps=12');
    applySet(o, 'name=hello world');
    applySet(o, 'model.attention="linear"');
    expect(o).toEqual({ family: 'ar', name: 'hello world', train: { steps: 12 }, model: { attention: 'linear' } });
    expect(() => applySet(o, 'nokey')).toThrow(/expected key\.path=value/);
    expect(() => applySet(o, 'name.x=1')).toThrow(/'name' is not an object/);
  });

  it('reads YAML and JSON; errors name the file', () => {
    const y = join(dir, 'c.yaml');
    writeFileSync(y, 'family: ar\ntrain:\n  steps: 7\n  lr: 0.002\nmodel:\n  type: ar-transformer\n  dModel: 32\n');
    const c = loadRunConfig(y, ['train.seed=5']);
    expect(c.train).toMatchObject({ steps: 7, lr: 0.002, seed: 5 });
    expect(c.model['dModel']).toBe(32);
    const j = join(dir, 'bad.json');
    writeFileSync(j, '{"family": "ar", "train": {"lr": -1}}');
    expect(() => loadRunConfig(j)).toThrow(new RegExp(`^${j.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: train\\.lr: expected a positive number, got -1`));
    writeFileSync(j, '{"family": ');
    expect(() => loadRunConfig(j)).toThrow(/bad\.json: not valid JSON/);
    expect(() => loadRunConfig(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read \(ENOENT\)/);
  });

  it('every shipped preset validates', () => {
    const presets = join(import.meta.dirname, '..', '..', 'configs');
    const files = readdirSync(presets).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(() => loadRunConfig(join(presets, f)), f).not.toThrow();
  });
});
