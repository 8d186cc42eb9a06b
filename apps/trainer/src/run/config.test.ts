import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers.js';
import { applySet, loadRunConfig } from './config.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('run config files and --set', () => {
  it('--set parses JSON values, creates sections and rejects bad assignments', () => {
    const o: Record<string, unknown> = { family: 'ar' };
    applySet(o, 'train.steps=12');
    applySet(o, 'name=hello world');
    applySet(o, 'model.attention="linear"');
    expect(o).toEqual({ family: 'ar', name: 'hello world', train: { steps: 12 }, model: { attention: 'linear' } });
    expect(() => applySet(o, 'nokey')).toThrow(/expected key\.path=value/);
    expect(() => applySet(o, 'name.x=1')).toThrow(/'name' is not an object/);
    expect(() => applySet(o, 'train..steps=1')).toThrow(/empty key/);
  });

  it('--set refuses __proto__, constructor and prototype path segments and leaves Object.prototype alone', () => {
    for (const a of [
      '__proto__.x=1',
      'train.__proto__.steps=1',
      'constructor.prototype.x=1',
      'train.prototype=1',
      'data.constructor=1',
    ]) {
      const o: Record<string, unknown> = { family: 'ar' };
      expect(() => applySet(o, a), a).toThrow(/'(__proto__|constructor|prototype)' is not a config key/);
      expect(o).toEqual({ family: 'ar' });
    }
    expect(Reflect.get({}, 'x')).toBeUndefined();
    expect(Reflect.get({}, 'steps')).toBeUndefined();
  });

  it('a __proto__ key in a file is a config error naming it', () => {
    const j = join(dir, 'proto.json');
    writeFileSync(j, '{"family": "ar", "train": {"__proto__": {"steps": 1}}}');
    expect(() => loadRunConfig(j)).toThrow(/proto\.json: train\.__proto__: '__proto__' is not a config key/);
    expect(Reflect.get({}, 'steps')).toBeUndefined();
  });

  it('NaN and ±Infinity from YAML, JSON and --set are reported as such, not as null', () => {
    const y = join(dir, 'nan.yaml');
    writeFileSync(y, 'family: ar\ntrain:\n  lr: .nan\n');
    expect(() => loadRunConfig(y)).toThrow(/train\.lr: expected a finite number, got NaN/);
    writeFileSync(y, 'family: ar\ntrain:\n  steps: -.inf\n');
    expect(() => loadRunConfig(y)).toThrow(/train\.steps: expected a finite number, got -Infinity/);
    const j = join(dir, 'inf.json');
    writeFileSync(j, '{"family": "d3pm", "diffusion": {"T": 1e400}}');
    expect(() => loadRunConfig(j)).toThrow(/diffusion\.T: expected a finite number, got Infinity/);
    writeFileSync(j, '{"family": "ar"}');
    expect(() => loadRunConfig(j, ['model.dModel=1e400'])).toThrow(
      /model\.dModel: expected a finite number, got Infinity/,
    );
  });

  it('steps: 1e12 is refused with the bound', () => {
    const j = join(dir, 'big.json');
    writeFileSync(j, '{"family": "ar", "train": {"steps": 1e12}}');
    expect(() => loadRunConfig(j)).toThrow(
      /train\.steps: expected an integer in 0\.\.10000000 \(the sane bound for this key\), got 1000000000000/,
    );
  });

  it('reads YAML and JSON; errors name the file', () => {
    const y = join(dir, 'c.yaml');
    writeFileSync(y, 'family: ar\ntrain:\n  steps: 7\n  lr: 0.002\nmodel:\n  type: ar-transformer\n  dModel: 32\n');
    const c = loadRunConfig(y, ['train.seed=5']);
    expect(c.train).toMatchObject({ steps: 7, lr: 0.002, seed: 5 });
    expect(c.model['dModel']).toBe(32);
    const j = join(dir, 'bad.json');
    writeFileSync(j, '{"family": "ar", "train": {"lr": -1}}');
    expect(() => loadRunConfig(j)).toThrow(new RegExp(`^${esc(j)}: train\\.lr: expected a positive number, got -1`));
    writeFileSync(j, '{"family": ');
    expect(() => loadRunConfig(j)).toThrow(/bad\.json: not valid JSON/);
    expect(() => loadRunConfig(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read \(ENOENT\)/);
  });

  it('every shipped preset validates, and re-validating its output changes nothing', async () => {
    const { parseRunConfig } = await import('@altar/recipes');
    const presets = join(import.meta.dirname, '..', '..', 'configs');
    const files = readdirSync(presets).filter((f) => /\.(json|ya?ml)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) {
      const c = loadRunConfig(join(presets, f));
      expect(parseRunConfig(JSON.parse(JSON.stringify(c))), f).toEqual(c);
    }
  });
});
