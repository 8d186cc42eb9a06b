/**
 * Text runs through the CLI: train on a corpus file (char tokenizer saved with the checkpoint), evaluate
 * in bits per character, sample with --prompt / --infill as text (--json carries the strings), and the
 * errors a user meets first: a missing corpus, an empty one, invalid UTF-8, AR asked to infill.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIO, tempDir } from '../../test/helpers.js';
import { main } from '../main.js';

const dir = tempDir('altar-text-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const corpusDir = join(dir, 'corpus');
mkdirSync(corpusDir);
const corpus = join(corpusDir, 'poem.txt');
writeFileSync(corpus, 'To be, or not to be, that is the question. Ça va — naïve café. '.repeat(60));

function textConfig(family: string, extra: Record<string, unknown> = {}, path = corpus): string {
  const diffusion = family !== 'ar' && family !== 'ssm';
  const cfg = {
    name: `text-${family}`,
    family,
    backend: 'cpu',
    data: { source: 'text', text: { path, tokenizer: 'char', seqLen: 24 }, batchSize: 4 },
    model: family === 'ssm' ? { dModel: 16, nLayers: 1 } : { dModel: 16, nLayers: 1, nHeads: 2 },
    train: { steps: 4, lr: 0.01, warmupSteps: 1, evalEvery: 4, seed: 1 },
    checkpoint: { every: 4, keepLast: 1 },
    eval: { batches: 1, batchSize: 8, samples: 1, ...(diffusion ? { sampleSteps: 4 } : {}) },
    ...extra,
  };
  const f = join(dir, `${family}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(cfg));
  return f;
}

async function run(argv: string[]) {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('altar train / eval / sample on a text corpus', () => {
  it('trains masked diffusion on a file, saves the char tokenizer, reports bits/char, infills keeping the text', async () => {
    const out = join(dir, 'mdm');
    const t = await run(['train', textConfig('masked-diffusion'), '--out', out]);
    expect(t.code, t.err).toBe(0);
    const res = JSON.parse(t.out.trim().split('\n').pop()!);
    expect(res.bitsPerChar).toBeGreaterThan(0);
    expect(res.bitsPerChar).toBeCloseTo(res.bitsPerToken, 9); // char tokens: one token per character
    expect(existsSync(join(out, 'step-00000004', 'tokenizer.json'))).toBe(true);
    expect(existsSync(join(corpusDir, '.altar-cache'))).toBe(true); // tokenized once, cached beside the corpus

    const e = await run(['eval', out, '--json', '--batches', '2', '--batch-size', '4', '--T', '4,16']);
    expect(e.code, e.err).toBe(0);
    const ej = JSON.parse(e.out);
    expect(ej.bitsPerToken).toBeGreaterThan(0);
    expect(ej.bitsPerChar).toBeCloseTo(ej.bitsPerToken, 9);
    expect(ej.unigramEntropyBitsPerChar).toBeGreaterThan(2);
    expect(ej.boundVsT.map((b: { T: number; bitsPerChar: number }) => [b.T, b.bitsPerChar > 0])).toEqual([
      [4, true],
      [16, true],
    ]);

    const s = await run(['sample', out, '--infill', 'To be, or ___ to be', '--n', '2', '--steps', '6', '--json']);
    expect(s.code, s.err).toBe(0);
    const j = JSON.parse(s.out);
    expect(j.samples).toHaveLength(2);
    for (const row of j.samples as string[]) {
      expect(row.slice(0, 10)).toBe('To be, or ');
      expect(row.slice(13, 19)).toBe(' to be');
    }
    expect(j.sampleUnigramEntropyBits).toBeGreaterThan(0);
    expect(j.repeated4gramShare).toBeGreaterThanOrEqual(0);

    const p = await run(['sample', out, '--prompt', 'Ça va', '--n', '1', '--steps', '4']);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toContain('"Ça va');
  }, 120_000);

  it('AR continues a prompt, refuses to infill (exit 2, saying why), and scores samples with --ref', async () => {
    const out = join(dir, 'ar');
    const t = await run(['train', textConfig('ar'), '--out', out]);
    expect(t.code, t.err).toBe(0);
    const s = await run(['sample', out, '--prompt', 'To be', '--n', '2', '--json', '--ref', out]);
    expect(s.code, s.err).toBe(0);
    const j = JSON.parse(s.out);
    for (const row of j.samples as string[]) expect(row.startsWith('To be')).toBe(true);
    expect(j.generativePerplexity).toBeCloseTo(2 ** j.generativeBitsPerToken, 6);
    const i = await run(['sample', out, '--infill', 'To ___ or', '--n', '1']);
    expect(i.code).toBe(2);
    expect(i.err).toMatch(/cannot infill: it generates left to right/);
  }, 120_000);

  it('bad corpora fail with one line naming the file and the problem, and leave no partial cache', async () => {
    const missing = await run(['train', textConfig('ar', {}, join(dir, 'nope.txt')), '--out', join(dir, 'x1')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/nope\.txt/);
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const e = await run(['train', textConfig('ar', {}, empty), '--out', join(dir, 'x2')]);
    expect(e.code).toBe(1);
    expect(e.err).toMatch(/empty\.txt/);
    const badDir = join(dir, 'bad');
    mkdirSync(badDir);
    const bad = join(badDir, 'latin1.txt');
    writeFileSync(bad, Buffer.from([0x61, 0x62, 0xe9, 0x63])); // 'abéc' in Latin-1: 0xE9 is not UTF-8 here
    const u = await run(['train', textConfig('ar', {}, bad), '--out', join(dir, 'x3')]);
    expect(u.code).toBe(1);
    expect(u.err).toMatch(/latin1\.txt.*(byte|offset) 2/i);
    expect(u.err).not.toMatch(/\n\s+at /); // no stack trace
    const cache = join(badDir, '.altar-cache');
    if (existsSync(cache)) {
      const { readdirSync } = await import('node:fs');
      expect(readdirSync(cache).filter((f) => !f.startsWith('.'))).toEqual([]);
    }
    const short = await run([
      'train',
      textConfig('ar', { data: { source: 'text', text: { path: corpus, seqLen: 4096 }, batchSize: 2 } }),
      '--out',
      join(dir, 'x4'),
    ]);
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/4096/);
  }, 120_000);

  it('--prompt on a synthetic-data checkpoint is a usage error', async () => {
    const out = join(dir, 'mdm');
    const s = await run(['sample', '--oracle', 'hmm', '--prompt', 'x']);
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/--prompt: applies to a text checkpoint/);
    expect(existsSync(out)).toBe(true);
  });
});
