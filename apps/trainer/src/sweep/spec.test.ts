import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRunConfig } from '@altar/recipes';
import { captureIO, tempDir, tinyConfig } from '../../test/helpers.js';
import { main } from '../main.js';
import { canonicalJson, loadSweep, pointId } from './spec.js';

const dir = tempDir('altar-sweep-spec-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
tinyConfig(dir, {}, 'base.json');

function sweepFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function errorOf(file: string): string {
  try {
    loadSweep(file);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${file}: expected an error`);
}

describe('loadSweep', () => {
  it('expands grid × seeds in order, applies set, and ids are stable hashes of the config', () => {
    const f = sweepFile(
      'ok.yaml',
      'base: base.json\nset:\n  train.steps: 9\n  model.nHeads: 4\ngrid:\n  model.dModel: [8, 16]\n  train.lr: [0.01, 0.001]\nseeds: [3, 4]\n',
    );
    const s = loadSweep(f);
    expect(s.name).toBe('ok');
    expect(s.gridKeys).toEqual(['model.dModel', 'train.lr']);
    expect(s.points.map((p) => p.label)).toEqual([
      'model.dModel=8 train.lr=0.01 seed=3',
      'model.dModel=8 train.lr=0.01 seed=4',
      'model.dModel=8 train.lr=0.001 seed=3',
      'model.dModel=8 train.lr=0.001 seed=4',
      'model.dModel=16 train.lr=0.01 seed=3',
      'model.dModel=16 train.lr=0.01 seed=4',
      'model.dModel=16 train.lr=0.001 seed=3',
      'model.dModel=16 train.lr=0.001 seed=4',
    ]);
    const p = s.points[6]!;
    expect(p.config.train.steps).toBe(9);
    expect(p.config.train.lr).toBe(0.001);
    expect(p.config.train.seed).toBe(3);
    expect(p.config.model).toMatchObject({ dModel: 16, nHeads: 4 });
    expect(p.dirName).toBe(`dModel-16_lr-0.001_seed-3_${p.id.slice(0, 8)}`);
    // all distinct, 16 hex digits, and the same on a second read (the BullMQ job id)
    expect(new Set(s.points.map((q) => q.id)).size).toBe(8);
    for (const q of s.points) expect(q.id).toMatch(/^[0-9a-f]{16}$/);
    expect(loadSweep(f).points.map((q) => q.id)).toEqual(s.points.map((q) => q.id));
  });

  it('a point id depends on the config only, not on key order', () => {
    const a = parseRunConfig({ family: 'ar', train: { lr: 0.01, steps: 5 } });
    const b = parseRunConfig({ train: { steps: 5, lr: 0.01 }, family: 'ar' });
    const c = parseRunConfig({ family: 'ar', train: { lr: 0.02, steps: 5 } });
    expect(pointId(a)).toBe(pointId(b));
    expect(pointId(a)).not.toBe(pointId(c));
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it('no grid and no seeds: one point, the base config', () => {
    const s = loadSweep(sweepFile('one.json', JSON.stringify({ base: 'base.json' })));
    expect(s.points.map((p) => p.label)).toEqual(['base']);
    expect(s.points[0]!.config.train.seed).toBe(1);
  });

  it('errors name the file and the key path', () => {
    expect(errorOf(sweepFile('bad.yaml', 'base: base.json\ngrid: [1, 2\n'))).toMatch(/bad\.yaml: not valid YAML/);
    expect(errorOf(sweepFile('k.yaml', 'base: base.json\ngird: {}\n'))).toMatch(
      /k\.yaml: gird: unknown key; expected one of: base, set, grid, seeds/,
    );
    expect(errorOf(sweepFile('nb.yaml', 'grid: {}\n'))).toMatch(/nb\.yaml: base: expected the path of a run config/);
    expect(errorOf(sweepFile('mb.yaml', 'base: nope.json\n'))).toMatch(/nope\.json: cannot read \(ENOENT\)/);
    expect(errorOf(sweepFile('g.yaml', 'base: base.json\ngrid:\n  model.dModeel: [8, 16]\n'))).toMatch(
      /g\.yaml: grid\.model\.dModeel \(point model\.dModeel=8\): model\.dModeel: unknown key.*\bdModel\b/,
    );
    expect(errorOf(sweepFile('g2.yaml', 'base: base.json\ngrid:\n  modl.dModel: [8]\n'))).toMatch(
      /grid\.modl\.dModel \(point modl\.dModel=8\): modl: unknown key/,
    );
    expect(errorOf(sweepFile('v.yaml', "base: base.json\ngrid:\n  train.lr: [0.1, 'fast']\n"))).toMatch(
      /v\.yaml: grid\.train\.lr \(point train\.lr=fast\): train\.lr: expected a positive number, got 'fast'/,
    );
    expect(errorOf(sweepFile('e.yaml', 'base: base.json\ngrid:\n  train.lr: []\n'))).toMatch(
      /grid\.train\.lr: expected a non-empty list of values, got a list/,
    );
    expect(errorOf(sweepFile('s.yaml', 'base: base.json\nseeds: [1, -2]\n'))).toMatch(
      /s\.yaml: seeds\[1\]: expected a non-negative integer, got -2/,
    );
    expect(errorOf(sweepFile('set.yaml', 'base: base.json\nset:\n  train.stepz: 3\n'))).toMatch(
      /set\.yaml: set: train\.stepz: unknown key/,
    );
    expect(errorOf(sweepFile('p.yaml', 'base: base.json\ngrid:\n  __proto__.x: [1]\n'))).toMatch(
      /grid\.__proto__\.x: '__proto__' is not a config key/,
    );
    expect(errorOf(sweepFile('d.yaml', 'base: base.json\ngrid:\n  train.lr: [0.01, 0.010]\n'))).toMatch(
      /points 'train\.lr=0\.01' and 'train\.lr=0\.01' give the same config/,
    );
  });

  it('altar sweep exits 2 on a malformed sweep file and on an unknown grid key, before touching Redis', async () => {
    for (const [f, re] of [
      [sweepFile('m.yaml', 'base: [\n'), /m\.yaml: not valid YAML/],
      [
        sweepFile('u.yaml', 'base: base.json\ngrid:\n  model.width: [8]\n'),
        /grid\.model\.width .*model\.width: unknown key/,
      ],
    ] as const) {
      const io = captureIO();
      // Port 1 is closed: were Redis contacted first, this would be exit 1 instead.
      expect(await main(['sweep', f, '--queue', 'redis://127.0.0.1:1', '--out', join(dir, 'root')], io)).toBe(2);
      expect(io.stderr()).toMatch(re);
      expect(io.stderr()).toMatch(/Run 'altar sweep --help' for usage/);
    }
    const io = captureIO();
    expect(await main(['sweep', join(dir, 'one.json'), '--queue', 'http://x', '--out', dir], io)).toBe(2);
    expect(io.stderr()).toMatch(/--queue: expected a redis:\/\/ or rediss:\/\/ URL, got 'http:\/\/x'/);
  });
});
