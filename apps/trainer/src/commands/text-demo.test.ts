/**
 * `altar demo --data shakespeare` at its default budget: every family's preset, trained 250 steps,
 * beats the corpus's unigram entropy on the validation split (the level of a model that learned no
 * context), and the report carries samples as text, generative perplexity, entropy over T and the bound
 * against T.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIO, tempDir } from '../../test/helpers.js';
import { main } from '../main.js';
import type { TextReport } from '../run/text-demo-report.js';

const dir = tempDir('altar-text-demo-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('altar demo --data shakespeare', () => {
  it('the default budget (250 steps of each preset) beats the unigram entropy; the report has samples and the bound vs T', async () => {
    const out = join(dir, 'demo');
    const io = captureIO();
    const code = await main(['demo', '--data', 'shakespeare', '--out', out, '--backend', 'wasm', '--samples', '4'], io);
    expect(code, io.stderr()).toBe(0);
    const r = JSON.parse(readFileSync(join(out, 'text-report.json'), 'utf8')) as TextReport;
    expect(r.corpus.vocabSize).toBe(65); // tinyshakespeare's 65 characters
    expect(r.corpus.unigramEntropyBitsPerChar).toBeGreaterThan(4.5);
    expect(r.corpus.unigramEntropyBitsPerChar).toBeLessThan(5);
    expect(r.models.map((m) => m.family)).toEqual(['ar', 'masked-diffusion', 'd3pm', 'ssm']);
    for (const m of r.models) {
      expect(m.trainSteps).toBe(250);
      expect(m.bitsPerChar + 2 * m.stdErr, m.name).toBeLessThan(r.corpus.unigramEntropyBitsPerChar);
      for (const s of m.sampling) {
        expect(s.samples.length).toBeGreaterThan(0);
        expect(s.samples[0]!.length).toBe(64);
        expect(s.generativePerplexity).toBeGreaterThan(1);
        expect(s.generativePerplexity).toBeLessThan(65);
        expect(s.unigramEntropyBits).toBeGreaterThan(2);
      }
    }
    const mdm = r.models.find((m) => m.family === 'masked-diffusion')!;
    expect(mdm.sampling.map((s) => s.steps)).toEqual([8, 16, 64]);
    const bound = mdm.boundVsT!;
    // Coarse steps cost bits: the 4-step bound is above the 256-step one, which is near the continuous NELBO.
    expect(bound[0]!.bitsPerChar).toBeGreaterThan(bound[bound.length - 1]!.bitsPerChar);
    expect(Math.abs(bound[bound.length - 1]!.bitsPerChar - mdm.bitsPerChar)).toBeLessThan(0.3);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Sample text');
    expect(md).toContain('Generative perplexity');
    expect(existsSync(join(out, 'gen-perplexity-vs-nfe.svg'))).toBe(true);
    expect(existsSync(join(out, 'entropy-vs-nfe.svg'))).toBe(true);
  }, 1_200_000);
});
