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
      // Every family beats a model of no context; AR and SSM (exact NLL, fast learners) by more than a bit.
      expect(m.bitsPerChar, m.name).toBeLessThan(r.corpus.unigramEntropyBitsPerChar);
      if (m.boundKind === 'nll') expect(m.bitsPerChar, m.name).toBeLessThan(r.corpus.unigramEntropyBitsPerChar - 1);
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
    // Coarse steps cost bits: the 4-step bound is not below the 256-step one (beyond their noise), and the
    // 256-step bound is near the continuous-time NELBO. (At this budget the model uses little context, so the
    // T-dependence is small: the check is about the direction and the limit, not the size.)
    const [b4, b256] = [bound[0]!, bound[bound.length - 1]!];
    expect(b4.bitsPerChar).toBeGreaterThan(b256.bitsPerChar - 2 * Math.hypot(b4.stdErr, b256.stdErr));
    expect(Math.abs(b256.bitsPerChar - mdm.bitsPerChar)).toBeLessThan(3 * Math.hypot(b256.stdErr, mdm.stdErr) + 0.05);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Sample text');
    expect(md).toContain('Generative perplexity');
    expect(existsSync(join(out, 'gen-perplexity-vs-nfe.svg'))).toBe(true);
    expect(existsSync(join(out, 'entropy-vs-nfe.svg'))).toBe(true);
  }, 1_200_000);
});
