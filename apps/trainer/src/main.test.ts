import { describe, expect, it } from 'vitest';
import type { CommandIO } from './io.js';
import { main } from './main.js';

export function captureIO(): CommandIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return { out: (t) => void (o += t), err: (t) => void (e += t), isTTY: false, stdout: () => o, stderr: () => e };
}

describe('altar main', () => {
  it('lists commands on --help and rejects an unknown one with exit 2', async () => {
    const io = captureIO();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.stdout()).toMatch(/backend/);
    const io2 = captureIO();
    expect(await main(['frobnicate'], io2)).toBe(2);
    expect(io2.stderr()).toMatch(/unknown command 'frobnicate'/);
  });

  it('turns a bad flag into a usage error without a stack trace', async () => {
    const io = captureIO();
    expect(await main(['backend', '--backend', 'tpu'], io)).toBe(2);
    expect(io.stderr()).toMatch(/--backend: expected one of .* got 'tpu'/);
    expect(io.stderr()).not.toMatch(/at .*\.ts/);
  });

  it('backend --json describes the cpu backend', async () => {
    const io = captureIO();
    expect(await main(['backend', '--backend', 'cpu', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout())).toMatchObject({ name: 'cpu', isGpu: false, floatPrecision: 32 });
  });
});
