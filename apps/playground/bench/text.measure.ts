/**
 * The Text view's training, measured in Node on wasm (`pnpm --filter @altar/playground bench:text`):
 * the worker's TextLab (the same recipe, Trainer and validation the page drives) trains each token family
 * on Tiny Shakespeare with char tokens at the `tiny` size, batch 32, lr 0.01, seed 0, and reports the
 * validation bits/char (held-out last 10 %, 32 windows of 64) beside the unigram entropy, wall time and
 * chars/s. Env: TEXT_BENCH_STEPS (default 300), TEXT_BENCH_FAMILIES (default ar,masked-diffusion,ssm,d3pm).
 * Results in bench/results/text.json.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { useBackend } from '@altar/backend/testing';
import { formatTable, writeBenchResult } from '@altar/tooling/bench';
import type { TextTrainEvent } from '../src/protocol.js';
import type { Family } from '../src/state.js';
import { TextLab } from '../src/lab/text-lab.js';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = join(here, '..', '..', '..', 'packages', 'data', 'corpora', 'tinyshakespeare.txt.gz');
const STEPS = Number(process.env['TEXT_BENCH_STEPS'] ?? 300);
const FAMILIES = (process.env['TEXT_BENCH_FAMILIES'] ?? 'ar,masked-diffusion,ssm,d3pm').split(',') as Family[];

it('text families on Tiny Shakespeare (wasm)', async () => {
  expect(await useBackend('wasm')).not.toBeNull();
  const text = gunzipSync(readFileSync(corpus)).toString('utf8');
  const rows: Array<Record<string, unknown>> = [];
  for (const family of FAMILIES) {
    let last: TextTrainEvent | null = null;
    const lab = new TextLab((e) => {
      if (e.type === 'text-train') last = e;
    });
    const t0 = performance.now();
    const req = { corpus: 'mine', name: 'tinyshakespeare', text, tokenizer: 'char', family, size: 'tiny' } as const;
    await lab.trainStart({ ...req, lr: 0.01, batch: 32, seed: 0 });
    while (((last as TextTrainEvent | null)?.step ?? 0) < STEPS) await new Promise((r) => setTimeout(r, 20));
    await lab.trainPause(family);
    const e = last as unknown as TextTrainEvent;
    rows.push({
      family,
      steps: e.step,
      'val bits/char': e.val!.bitsPerChar.toFixed(3),
      '± se': e.val!.stdErr.toFixed(3),
      'unigram bits/char': e.unigramBitsPerChar.toFixed(3),
      'wall s': ((performance.now() - t0) / 1000).toFixed(1),
      'chars/s': Math.round(e.charsPerSec),
      params: e.paramCount,
    });
    await lab.reset(family);
  }
  process.stdout.write(`${formatTable(rows)}\n`);
  process.stdout.write(`wrote ${writeBenchResult(join(here, '..'), 'text', rows)}\n`);
});
