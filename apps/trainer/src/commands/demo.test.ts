import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIO, tempDir } from '../../test/helpers.js';
import { main } from '../main.js';

const dir = tempDir('altar-demo-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODEL_KEYS = [
  'name',
  'family',
  'params',
  'bytesPerWeight',
  'trainSteps',
  'trainSeconds',
  'bitsPerToken',
  'boundKind',
  'sampling',
].sort();
const SAMPLING_KEYS = [
  'sampler',
  'steps',
  'nfe',
  'weightBytesLoaded',
  'wallMs',
  'tokensPerSec',
  'samplesNllBitsPerToken',
].sort();

describe('altar demo --quick (test-size override)', () => {
  it('writes report.json with exactly the documented schema, report.md with the trade-off, and SVG plots', async () => {
    const out = join(dir, 'demo');
    const io = captureIO();
    const t0 = Date.now();
    const code = await main(
      ['demo', '--quick', '--out', out, '--backend', 'wasm', '--steps', '3', '--samples', '4', '--eval-seqs', '16'],
      io,
    );
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(150_000);
    const r = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(Object.keys(r).sort()).toEqual(['backend', 'models', 'source']);
    expect(r.backend).toBe('wasm');
    expect(Object.keys(r.source).sort()).toEqual(['entropyBitsPerToken', 'name']);
    expect(r.source.name).toBe('hmm-default');
    expect(r.source.entropyBitsPerToken).toBeGreaterThan(1);
    expect(r.models.map((m: { family: string }) => m.family)).toEqual(['ar', 'masked-diffusion', 'ssm']);
    for (const m of r.models) {
      expect(Object.keys(m).sort()).toEqual(MODEL_KEYS);
      expect(m.boundKind).toBe(m.family === 'masked-diffusion' ? 'nelbo' : 'nll');
      expect(m.trainSteps).toBe(3);
      expect(m.bytesPerWeight).toBe(4);
      expect(m.params).toBeGreaterThan(10_000);
      expect(Number.isFinite(m.bitsPerToken)).toBe(true);
      // No model of the source can beat its entropy (a 3-step model is far above it).
      expect(m.bitsPerToken).toBeGreaterThan(r.source.entropyBitsPerToken);
      for (const s of m.sampling) {
        expect(Object.keys(s).sort()).toEqual(SAMPLING_KEYS);
        expect(s.nfe).toBeGreaterThan(0);
        // weight bytes loaded = NFE × params × bytes per weight
        expect(s.weightBytesLoaded).toBe(s.nfe * m.params * m.bytesPerWeight);
      }
    }
    const [ar, mdm, ssm] = r.models;
    expect(ar.sampling.map((s: { steps: number; nfe: number }) => [s.steps, s.nfe])).toEqual([[32, 32]]);
    expect(mdm.sampling.map((s: { sampler: string; steps: number }) => `${s.sampler}@${s.steps}`)).toEqual([
      'masked@8',
      'masked@32',
      'masked@128',
      'masked-cached@8',
      'masked-cached@32',
      'masked-cached@128',
    ]);
    for (const s of mdm.sampling) if (s.sampler === 'masked') expect(s.nfe).toBe(s.steps);
    for (const s of mdm.sampling) if (s.sampler === 'masked-cached') expect(s.nfe).toBeLessThanOrEqual(s.steps);
    expect(ssm.sampling[0].sampler).toBe('ssm-recurrent');
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/## The trade-off, in plain words/);
    expect(md).toMatch(/Closest to the true entropy/);
    expect(md).toMatch(/Diffusion's bound costs/);
    expect(md).toMatch(/NELBO \(full\)/);
    expect(md).toMatch(/\d\.\d{4} ± \d\.\d{4}/); // standard errors
    for (const f of ['loss.svg', 'quality-vs-nfe.svg', 'quality-vs-wall.svg', 'quality-vs-steps.svg', 'bound-vs-T.svg'])
      expect(readFileSync(join(out, f), 'utf8')).toMatch(/^<svg /);
    // Bound vs T for the diffusion model: every T-step NELBO estimates E[−log p_model] + slack ≥ H (the source
    // entropy), so each must sit above H within 4 standard errors of its own estimate.
    const det = JSON.parse(readFileSync(join(out, 'details.json'), 'utf8'));
    const bvt = det.models.find((m: { name: string }) => m.name === 'masked-diffusion').boundVsT as {
      T: number;
      nelboBitsPerToken: number;
      stdErr: number;
    }[];
    expect(bvt.map((b) => b.T)).toEqual([2, 8, 32, 128]);
    for (const b of bvt) {
      expect(b.stdErr).toBeGreaterThan(0);
      expect(b.nelboBitsPerToken).toBeGreaterThan(r.source.entropyBitsPerToken - 4 * b.stdErr);
    }
    expect(md).toMatch(/## The bound against T/);
    const details = JSON.parse(readFileSync(join(out, 'details.json'), 'utf8'));
    expect(details.models).toHaveLength(3);
    expect(details.models[1].stdErr).toBeGreaterThan(0);
    expect(existsSync(join(out, 'models', 'ar-transformer', 'latest.json'))).toBe(true);
    expect(io.stderr()).toMatch(/\[1\/3\] ar-transformer/);
    expect(io.stderr()).toMatch(/NELBO [\d.]+ ± [\d.]+ bits\/token/);
  });
});
