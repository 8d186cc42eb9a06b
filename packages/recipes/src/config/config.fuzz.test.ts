/**
 * The run-config schema under a seeded mutation fuzzer (config-fuzz.ts, 14 kinds) applied to the shipped
 * configs (apps/trainer/configs, JSON and YAML): every mutant that still parses as JSON/YAML is a valid
 * config or a ConfigError naming its key path. A case is slow when parseRunConfig takes over 50 ms in the
 * best of three tries (one try can be stalled by a GC pause on a shared runner; a pathological parse is
 * slow every time).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_MUTATIONS, fuzzRunConfigs, type ConfigSeed } from './config-fuzz.js';
import { parseRunConfig } from './schema.js';

const dir = fileURLToPath(new URL('../../../../apps/trainer/configs/', import.meta.url));

function shippedConfigs(): ConfigSeed[] {
  return readdirSync(dir)
    .filter((f) => /\.(json|ya?ml)$/.test(f))
    .sort()
    .map((name) => ({
      name,
      text: readFileSync(join(dir, name), 'utf8'),
      parse: name.endsWith('.json') ? (t: string): unknown => JSON.parse(t) : (t: string): unknown => parseYaml(t),
    }));
}

describe('run-config fuzz', () => {
  it('the shipped configs are valid (the seeds of the fuzzer)', () => {
    const seeds = shippedConfigs();
    expect(seeds.length).toBeGreaterThanOrEqual(8);
    expect(seeds.some((s) => s.name.endsWith('.yaml'))).toBe(true);
    for (const s of seeds) expect(() => parseRunConfig(s.parse(s.text)), s.name).not.toThrow();
  });

  it('found by the fuzzer: a value nested 10,000 deep is a ConfigError, not a stack overflow; an empty key is named', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const base = JSON.parse(shippedConfigs().find((s) => s.name === 'ar-transformer.json')!.text) as Record<
      string,
      unknown
    >;
    const nested = { ...base, train: { ...(base['train'] as object), lr: deep } };
    expect(() => parseRunConfig(nested)).toThrow(/^train\.lr(\[0\]){30}: nested deeper than 32 levels$/);
    const empty = { ...base, '': 1 };
    expect(() => parseRunConfig(empty)).toThrow(/^\[""\]: unknown key/);
  });

  it('3,000 mutants: a valid config or a ConfigError with a key path; nothing else, nothing slow', () => {
    const seeds = shippedConfigs();
    fuzzRunConfigs(seeds, { n: 200, seed: 99 }); // warm-up: let the JIT compile zod's parsers
    const r = fuzzRunConfigs(seeds, { n: 3000, seed: 1 });
    expect(r.failures).toEqual([]);
    expect([r.crashes, r.wrong, r.hangs]).toEqual([0, 0, 0]);
    expect(r.unparseable + r.rejected + r.acceptedValid).toBe(3000);
    expect(r.rejected).toBeGreaterThan(1000);
    expect(r.acceptedValid).toBeGreaterThan(100);
    for (const kind of CONFIG_MUTATIONS) expect(r.byKind[kind].tried).toBeGreaterThan(120);
    expect(r.medianMs).toBeLessThan(5);
  });
});
