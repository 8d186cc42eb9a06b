#!/usr/bin/env node
// The long fuzz run: the same seeded mutation engines as the test suite, with a larger n.
//   safetensors  @altar/backend/testing fuzzSafetensors (18 kinds) on a real checkpoint: a small AR transformer
//                written by @altar/models saveModel; accepted files are loaded into the model (setWeights).
//   config       @altar/recipes src/config/config-fuzz.ts (14 kinds) on apps/trainer/configs/*.json|yaml.
// Prints, per suite: mutations tried, rejections, accepted-valid, crashes, wrong decodes, hangs (> 50 ms in the
// best of three tries), leaked tensors, decode times and peak RSS. Exits 1 on any crash, wrong decode, hang or leak.
// Usage: pnpm fuzz -- [--n 100000] [--seed 1] [--suite safetensors|config|all] [--json]
// (runs the TypeScript sources through tsx with the @altar/source condition: no build needed)
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { root } from './lib/workspace.mjs';

const parseYaml = createRequire(join(root, 'packages', 'recipes', 'package.json'))('yaml').parse;

const args = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const n = Number(flag('n', '100000'));
const seed = Number(flag('seed', '1'));
const suite = flag('suite', 'all');
const asJson = args.includes('--json');
if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`fuzz: --n must be a positive integer, got ${flag('n')}`);
if (!['safetensors', 'config', 'all'].includes(suite)) throw new Error(`fuzz: unknown --suite ${suite}`);

const { initBackend } = await import('../../packages/backend/src/index.ts');
const { fuzzSafetensors } = await import('../../packages/backend/src/testing/index.ts');
const { createModel, saveModel } = await import('../../packages/models/src/index.ts');
const { fuzzRunConfigs } = await import('../../packages/recipes/src/config/config-fuzz.ts');

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const out = {};
let bad = 0;

if (suite !== 'config') {
  await initBackend('cpu');
  const model = createModel({
    type: 'ar-transformer',
    vocabSize: 9,
    dModel: 8,
    nLayers: 1,
    nHeads: 2,
    maxLen: 8,
    seed: 3,
  });
  const { weights } = await saveModel(model);
  const t0 = performance.now();
  const r = fuzzSafetensors({
    file: weights,
    n,
    seed,
    onAccepted: (tensors) => model.setWeights(tensors),
    refuseCodes: ['BAD_WEIGHTS'],
  });
  model.dispose();
  out.safetensors = { ...r, seedFileBytes: weights.length, wallS: (performance.now() - t0) / 1000 };
  bad += r.crashes + r.wrong + r.hangs + r.leaks;
}

if (suite !== 'safetensors') {
  const dir = join(root, 'apps', 'trainer', 'configs');
  const seeds = readdirSync(dir)
    .filter((f) => /\.(json|ya?ml)$/.test(f))
    .sort()
    .map((name) => ({
      name,
      text: readFileSync(join(dir, name), 'utf8'),
      parse: name.endsWith('.json') ? (t) => JSON.parse(t) : (t) => parseYaml(t),
    }));
  const t0 = performance.now();
  const r = fuzzRunConfigs(seeds, { n, seed });
  out.config = { ...r, seeds: seeds.length, wallS: (performance.now() - t0) / 1000 };
  bad += r.crashes + r.wrong + r.hangs;
}

const peakRss = process.resourceUsage().maxRSS * 1024;
if (asJson) {
  process.stdout.write(`${JSON.stringify({ n, seed, peakRssBytes: peakRss, ...out }, null, 2)}\n`);
} else {
  const lines = [`fuzz: n = ${n} per suite, seed ${seed}`];
  const s = out.safetensors;
  if (s) {
    lines.push(
      `safetensors (checkpoint of ${s.seedFileBytes} bytes, 18 kinds, ${s.wallS.toFixed(1)} s):`,
      `  mutations tried ${s.tried}, rejected (SafetensorsError) ${s.rejected}, accepted-valid ${s.acceptedValid}` +
        ` (of which refused by the model with BAD_WEIGHTS ${s.refused})`,
      `  crashes ${s.crashes}, wrong decodes ${s.wrong}, hangs (> 50 ms, best of 3) ${s.hangs}, leaked tensors ${s.leaks}`,
      `  decode ms: median ${s.medianMs.toFixed(3)}, p99 ${s.p99Ms.toFixed(3)}, max first try ${s.maxMs.toFixed(1)},` +
        ` max best of 3 ${s.maxBestMs.toFixed(1)}`,
      `  largest mutant ${s.maxFileBytes} bytes, largest buffer growth in one decode ${s.maxBufferGrowth} bytes`,
    );
  }
  const c = out.config;
  if (c) {
    lines.push(
      `config (${c.seeds} shipped configs, 14 kinds, ${c.wallS.toFixed(1)} s):`,
      `  mutations tried ${c.tried}, not JSON/YAML any more ${c.unparseable}, rejected (ConfigError with a path)` +
        ` ${c.rejected}, accepted-valid ${c.acceptedValid}`,
      `  crashes ${c.crashes}, wrong ${c.wrong}, hangs (> 50 ms, best of 3) ${c.hangs};` +
        ` parse ms: median ${c.medianMs.toFixed(3)}, max best of 3 ${c.maxBestMs.toFixed(1)}`,
    );
  }
  lines.push(`peak RSS ${mb(peakRss)}`);
  for (const f of [...(s?.failures ?? []), ...(c?.failures ?? [])].slice(0, 20))
    lines.push(`  FAIL #${f.index} ${f.seed ?? ''} ${f.kind} ${f.what}: ${f.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
process.exit(bad > 0 ? 1 : 0);
