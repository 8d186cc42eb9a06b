import { describe, expect, it } from 'vitest';
import type { CommandIO } from '../io.js';
import { main } from '../main.js';

function captureIO(): CommandIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return { out: (t) => void (o += t), err: (t) => void (e += t), isTTY: false, stdout: () => o, stderr: () => e };
}

describe('altar cost', () => {
  it('h100: 7B bf16, n = 1024, T = 64 — AR is memory-bound at n·P·bpw/BW, diffusion wins', async () => {
    const io = captureIO();
    expect(await main(['cost', '--params', '7B', '--bpw', '2', '--n', '1024', '--T', '64', '--json'], io)).toBe(0);
    const r = JSON.parse(io.stdout());
    expect(r.ar.seconds).toBeCloseTo((1024 * 7e9 * 2) / 3.35e12, 9);
    expect(r.ar.bound).toBe('memory');
    // diffusion: 64 calls over 1024 tokens, above the ridge (≈295 tokens): compute-bound at 2·P·n FLOPs
    expect(r.diffusion.bound).toBe('compute');
    expect(r.diffusion.seconds).toBeCloseTo((64 * 2 * 7e9 * 1024) / 989e12, 9);
    expect(r.ratio).toBeLessThan(1);
    expect(r.crossoverN).toBe(65);
    expect(r.ar.weightBytesLoaded).toBe(1024 * 14e9);
  });

  it('prints a readable table for h200 with the crossover', async () => {
    const io = captureIO();
    expect(
      await main(['cost', '--params', '125M', '--bpw', '4', '--n', '256', '--T', '512', '--hardware', 'h200'], io),
    ).toBe(0);
    expect(io.stdout()).toMatch(/hardware: h200/);
    expect(io.stdout()).toMatch(/AR: +256 calls/);
    expect(io.stdout()).toMatch(/diffusion: 512 calls/);
    expect(io.stdout()).toMatch(/AR is faster/);
    // fp32 on H200: diffusion over 256 tokens is compute-bound (ridge 4·67e12/(2·4.8e12) ≈ 28 tokens), so
    // T* = AR time / one diffusion step = (256 · 5e8 / 4.8e12) / (2 · 1.25e8 · 256 / 67e12) ≈ 27.9
    const tStar = Math.floor((256 * 5e8) / 4.8e12 / ((2 * 1.25e8 * 256) / 67e12));
    expect(tStar).toBe(27);
    expect(io.stdout()).toMatch(
      new RegExp(`crossover: at n = 256, diffusion wins for T ≤ ${tStar}; at T = 512, diffusion wins for n ≥ never`),
    );
  });

  it('local: calibrates on the cpu backend', async () => {
    const io = captureIO();
    expect(
      await main(
        [
          'cost',
          '--params',
          '1M',
          '--n',
          '64',
          '--T',
          '8',
          '--hardware',
          'local',
          '--backend',
          'cpu',
          '--ops',
          '30',
          '--json',
        ],
        io,
      ),
    ).toBe(0);
    const r = JSON.parse(io.stdout());
    expect(r.hardware.name).toBe('local');
    expect(r.hardware.memBandwidth).toBeGreaterThan(0);
    expect(r.ar.dispatchSeconds).toBeCloseTo(30 * r.hardware.dispatchSec, 12);
  });

  it('rejects missing and malformed sizes', async () => {
    const io = captureIO();
    expect(await main(['cost', '--n', '4', '--T', '2'], io)).toBe(2);
    expect(io.stderr()).toMatch(/--params: required/);
    const io2 = captureIO();
    expect(await main(['cost', '--params', '7Q', '--n', '4', '--T', '2'], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/--params: expected a number like/);
  });
});
