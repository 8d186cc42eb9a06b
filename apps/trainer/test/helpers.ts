import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandIO } from '../src/io.js';

export function captureIO(
  onErr?: (text: string, all: string) => void,
): CommandIO & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return {
    out: (t) => void (o += t),
    err: (t) => {
      e += t;
      onErr?.(t, e);
    },
    isTTY: false,
    stdout: () => o,
    stderr: () => e,
  };
}

export function tempDir(prefix = 'altar-trainer-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A tiny AR run on a small HMM: seconds on cpu. */
export function tinyConfig(dir: string, overrides: Record<string, unknown> = {}, name = 'tiny.json'): string {
  // AR and SSM sample in exactly n steps: only diffusion families take eval.sampleSteps.
  const diffusion = overrides['family'] !== undefined && overrides['family'] !== 'ar' && overrides['family'] !== 'ssm';
  const cfg = {
    name: 'tiny',
    family: 'ar',
    backend: 'cpu',
    data: {
      source: 'hmm',
      hmm: { vocabSize: 6, numStates: 2, seqLen: 8, tokensPerState: 3, overlap: 0 },
      batchSize: 4,
    },
    model: { type: 'ar-transformer', dModel: 16, nLayers: 1, nHeads: 2 },
    train: { steps: 6, lr: 0.01, warmupSteps: 2, emaDecay: 0.9, evalEvery: 3, seed: 1 },
    checkpoint: { every: 2, keepLast: 2 },
    eval: { batches: 1, batchSize: 8, samples: 2, ...(diffusion ? { sampleSteps: 4 } : {}) },
    ...overrides,
  };
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(cfg));
  return f;
}
