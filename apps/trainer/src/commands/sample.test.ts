import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@altar/backend';
import { HmmSource, hmmOracleCausalLM } from '@altar/data';
import { sampleAr } from '@altar/samplers';
import type { CommandIO } from '../io.js';
import { main } from '../main.js';
import { runOracleSampling } from '../run/oracle-sampling.js';
import { decodeTokens } from './sample.js';

function captureIO(): CommandIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return { out: (t) => void (o += t), err: (t) => void (e += t), isTTY: false, stdout: () => o, stderr: () => e };
}

const dir = mkdtempSync(join(tmpdir(), 'altar-sample-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('altar sample', () => {
  it('--json for the HMM with masked-cached: the documented keys, NLL near the source entropy', async () => {
    const io = captureIO();
    const code = await main(
      [
        'sample',
        '--oracle',
        'hmm',
        '--sampler',
        'masked-cached',
        '--steps',
        '128',
        '--n',
        '24',
        '--seq-len',
        '16',
        '--seed',
        '3',
        '--json',
        '--backend',
        'cpu',
      ],
      io,
    );
    expect(io.stderr()).toBe('');
    expect(code).toBe(0);
    const j = JSON.parse(io.stdout());
    expect(Object.keys(j).sort()).toEqual(
      [
        'n',
        'nfe',
        'samplesNllBitsPerToken',
        'sampler',
        'sourceEntropyBitsPerToken',
        'steps',
        'tokensPerSec',
        'wallMs',
        'weightBytesLoaded',
      ].sort(),
    );
    expect(j).toMatchObject({ sampler: 'masked-cached', steps: 128, n: 24, weightBytesLoaded: 0 });
    expect(j.nfe).toBeLessThanOrEqual(128);
    expect(j.nfe).toBeGreaterThan(0);
    // 24 × 16 tokens: per-token NLL has sampling noise ~0.1 bits; a broken sampler is off by > 1 bit
    expect(Math.abs(j.samplesNllBitsPerToken - j.sourceEntropyBitsPerToken)).toBeLessThan(0.35);
  });

  it('prints decoded token text and the cost record; --params accounts weight bytes', async () => {
    const io = captureIO();
    expect(
      await main(
        [
          'sample',
          '--oracle',
          'hmm',
          '--sampler',
          'd3pm',
          '--process',
          'uniform',
          '--steps',
          '16',
          '--n',
          '3',
          '--seq-len',
          '12',
          '--params',
          '1000',
          '--bpw',
          '2',
          '--backend',
          'cpu',
        ],
        io,
      ),
    ).toBe(0);
    const lines = io.stdout().split('\n');
    const sampleLines = lines.filter((l) => /^ {2}[a-zA-Z0-9]{12}$/.test(l));
    expect(sampleLines).toHaveLength(3);
    expect(io.stdout()).toMatch(/NFE 16, weight bytes loaded 32\.00 KB/); // 16 × 1000 × 2
    expect(io.stdout()).toMatch(/true NLL of the samples: [0-9.]+ bits\/token \(source entropy [0-9.]+\)/);
  });

  it('d3pm with step skipping: a T = 64 process sampled in 8 steps costs 8 NFE', async () => {
    const io = captureIO();
    expect(
      await main(
        [
          'sample',
          '--oracle',
          'hmm',
          '--sampler',
          'd3pm',
          '--steps',
          '8',
          '--process-T',
          '64',
          '--n',
          '4',
          '--seq-len',
          '8',
          '--json',
          '--backend',
          'cpu',
        ],
        io,
      ),
    ).toBe(0);
    expect(JSON.parse(io.stdout())).toMatchObject({ sampler: 'd3pm', steps: 8, nfe: 8 });
    const io2 = captureIO();
    expect(
      await main(
        ['sample', '--oracle', 'hmm', '--sampler', 'd3pm', '--steps', '8', '--process-T', '4', '--backend', 'cpu'],
        io2,
      ),
    ).toBe(2);
    expect(io2.stderr()).toMatch(/--process-T: 4 is below --steps 8/);
  });

  it('ar on the HMM: exact next-token conditionals, one call per token (+ BOS)', async () => {
    const r = await runOracleSampling({ oracle: 'hmm', sampler: 'ar', steps: 1, n: 64, seed: 1, seqLen: 16 });
    expect(r.nfe).toBe(16);
    expect(r.steps).toBe(16);
    expect(Math.abs(r.samplesNllBitsPerToken - r.sourceEntropyBitsPerToken)).toBeLessThan(0.25);
  });

  it("the HMM's exact causal LM (@altar/data): forward agrees with step; sampleAr decodes it", async () => {
    const src = new HmmSource({ seqLen: 6 });
    const lm = hmmOracleCausalLM(src);
    const toks = tf.tensor2d([[src.vocabSize, 1, 2, 3]], [1, 4], 'int32');
    const f = lm.forward(toks);
    const fd = await f.data();
    let st = lm.initState(1);
    for (let i = 0; i < 4; i++) {
      const col = tf.tensor1d([[src.vocabSize, 1, 2, 3][i]!], 'int32');
      const r = lm.step(col, st);
      st = r.state;
      const sd = await r.logits.data();
      for (let v = 0; v < src.vocabSize; v++) expect(sd[v]).toBeCloseTo(fd[i * src.vocabSize + v]!, 5);
      tf.dispose([col, r.logits]);
    }
    tf.dispose([toks, f]);
    const a = await sampleAr(lm, { prompt: [[src.vocabSize]], length: 6, rng: new Rng(2) });
    expect(decodeTokens(a.samples, src.vocabSize)).toMatch(/^[a-zA-Z0-9]{6}$/);
  });

  it('gmm with ode-heun writes an SVG scatter and reports NLL per dimension', async () => {
    const out = join(dir, 's.svg');
    const io = captureIO();
    expect(
      await main(
        [
          'sample',
          '--oracle',
          'gmm',
          '--sampler',
          'ode-heun',
          '--steps',
          '20',
          '--n',
          '300',
          '--out',
          out,
          '--backend',
          'cpu',
        ],
        io,
      ),
    ).toBe(0);
    const svg = readFileSync(out, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/<circle/g) ?? []).length).toBe(300);
    expect(io.stdout()).toMatch(/NFE 39/); // Heun: 2 per step, the last step (σ = 0) Euler
    const m = /true NLL of the samples: (-?[0-9.]+) bits\/dim \(source differential entropy (-?[0-9.]+)\)/.exec(
      io.stdout(),
    );
    expect(m).not.toBeNull();
    expect(Math.abs(Number(m![1]) - Number(m![2]))).toBeLessThan(0.3);
  });

  it('rejects a sampler that does not fit the oracle, and a missing --oracle', async () => {
    const io = captureIO();
    expect(await main(['sample', '--oracle', 'hmm', '--sampler', 'ddpm', '--backend', 'cpu'], io)).toBe(2);
    expect(io.stderr()).toMatch(/--sampler: 'ddpm' samples vectors/);
    const io2 = captureIO();
    expect(await main(['sample', '--sampler', 'ddpm'], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/--oracle: required/);
    const io3 = captureIO();
    expect(await main(['sample', '--oracle', 'gmm', '--sampler', 'nope'], io3)).toBe(2);
    expect(io3.stderr()).toMatch(/--sampler: expected one of ar, d3pm/);
  });
});
