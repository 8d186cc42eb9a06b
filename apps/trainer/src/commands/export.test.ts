import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from '@altar/backend';
import { useBackend } from '@altar/backend/testing';
import { ArTransformer, loadModel } from '@altar/models';
import { CHECKPOINT_FILES } from '@altar/train';
import { loadCheckpoint } from '@altar/train/node';
import { main } from '../main.js';
import { captureIO, tempDir, tinyConfig } from '../../test/helpers.js';
import { requireTorch, runTorch } from '../../test/torch-harness.js';

const dir = tempDir('altar-export-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = join(dir, 'run');

describe('altar export --to pytorch', () => {
  beforeAll(async () => {
    requireTorch();
    await useBackend('cpu');
    const cfg = tinyConfig(dir);
    const io = captureIO();
    expect(await main(['train', cfg, '--out', run, '--backend', 'cpu'], io), io.stderr()).toBe(0);
  });

  it('exports a trained checkpoint whose PyTorch logits match altar (EMA weights) to 1e-4', async () => {
    const out = join(dir, 'torch');
    const io = captureIO();
    expect(await main(['export', run, '--to', 'pytorch', out, '--json'], io), io.stderr()).toBe(0);
    const r = JSON.parse(io.stdout());
    expect(r).toMatchObject({ step: 6, weights: 'ema', modelType: 'ar-transformer', className: 'GPT' });
    expect(readdirSync(out).sort()).toEqual(['README.md', 'model.py', 'model.safetensors']);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toMatch(/optimizer state/);
    const meta = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors')))).metadata;
    expect(meta).toMatchObject({ format: 'pt', 'altar.step': '6', 'altar.weights': 'ema' });

    // altar's side: the checkpoint's EMA weights through @altar/models (independent of the exporter).
    const ck = loadCheckpoint(run);
    const model = loadModel({ weights: ck.files[CHECKPOINT_FILES.ema]! }) as ArTransformer;
    expect(r.params).toBe(model.paramCount());
    const tokens = [
      [6, 0, 1, 2, 3, 4, 5, 0],
      [6, 5, 5, 4, 1, 0, 2, 3],
    ];
    const y = tf.tidy(() => model.forward(tf.tensor2d(tokens, undefined, 'int32')));
    const want = (await y.data()) as Float32Array;
    y.dispose();
    model.dispose();
    const [[got]] = runTorch(dir, [
      { modelPy: join(out, 'model.py'), weights: join(out, 'model.safetensors'), cases: [{ tokens }] },
    ]) as unknown as [[{ shape: number[]; values: number[] }]];
    expect(got.shape).toEqual([2, 8, 7]);
    const diff = Math.max(...got.values.map((v, i) => Math.abs(v - (want[i] as number))));
    expect(diff).toBeLessThan(1e-4);
  });

  it('refuses a non-empty OUT unless --overwrite; --raw exports the raw weights', async () => {
    const out = join(dir, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    const io = captureIO();
    expect(await main(['export', run, '--to', 'pytorch', out], io)).toBe(2);
    expect(io.stderr()).toMatch(/busy: exists and is not empty \(pass --overwrite/);
    expect(existsSync(join(out, 'model.py'))).toBe(false);
    const ok = captureIO();
    expect(await main(['export', run, '--to', 'pytorch', out, '--overwrite', '--raw'], ok), ok.stderr()).toBe(0);
    expect(ok.stdout()).toMatch(/exported ar-transformer \(\d+ parameters, step 6, raw weights\)/);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });

  it('usage errors exit 2 with a message; a corrupt checkpoint exits 1', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['export', join(dir, 'nope'), '--to', 'pytorch', join(dir, 'o1')], /nope: no such checkpoint directory/],
      [['export', run, '--to', 'onnx', join(dir, 'o2')], /--to: expected one of pytorch, got 'onnx'/],
      [['export', run, join(dir, 'o3')], /--to: required/],
      [['export', run, '--to', 'pytorch'], /expected a checkpoint directory and an output directory/],
      [['export', run, '--to', 'pytorch', join(dir, 'o4'), '--bogus'], /bogus/],
    ];
    for (const [argv, msg] of cases) {
      const io = captureIO();
      expect(await main(argv, io), argv.join(' ')).toBe(2);
      expect(io.stderr()).toMatch(msg);
      expect(io.stderr()).not.toMatch(/\n\s+at /); // no stack trace
    }
    // A checkpoint whose weights file is cut short.
    const bad = join(dir, 'bad');
    cpSync(loadCheckpoint(run).dir, bad, { recursive: true });
    for (const f of [CHECKPOINT_FILES.ema, CHECKPOINT_FILES.model]) {
      const p = join(bad, f);
      if (existsSync(p)) writeFileSync(p, readFileSync(p).subarray(0, 40));
    }
    const io = captureIO();
    expect(await main(['export', bad, '--to', 'pytorch', join(dir, 'o5')], io)).toBe(1);
    expect(io.stderr()).toMatch(/bad\/ema\.safetensors/);
    // A text run's checkpoint carries its tokenizer; the export copies it.
    const withTok = join(dir, 'with-tokenizer');
    cpSync(loadCheckpoint(run).dir, withTok, { recursive: true });
    writeFileSync(join(withTok, 'tokenizer.json'), '{"kind":"char","chars":"abc"}\n');
    const tio = captureIO();
    expect(await main(['export', withTok, '--to', 'pytorch', join(dir, 'o6'), '--json'], tio), tio.stderr()).toBe(0);
    expect(JSON.parse(tio.stdout()).files).toContain(join(dir, 'o6', 'tokenizer.json'));
    expect(readFileSync(join(dir, 'o6', 'tokenizer.json'), 'utf8')).toBe('{"kind":"char","chars":"abc"}\n');
    // Weights files without the recorded model config (older runs): the config is rebuilt from the run config.
    const old = join(dir, 'no-meta');
    cpSync(loadCheckpoint(run).dir, old, { recursive: true });
    for (const f of [CHECKPOINT_FILES.ema, CHECKPOINT_FILES.model]) {
      const file = decodeSafetensors(new Uint8Array(readFileSync(join(old, f))));
      writeFileSync(join(old, f), encodeSafetensors(file.tensors, { format: 'altar' }));
    }
    const oio = captureIO();
    expect(await main(['export', old, '--to', 'pytorch', join(dir, 'o7')], oio), oio.stderr()).toBe(0);
    expect(readFileSync(join(dir, 'o7', 'model.py'), 'utf8')).toBe(
      readFileSync(join(dir, 'torch', 'model.py'), 'utf8'),
    );
    const help = captureIO();
    expect(await main(['export', '--help'], help)).toBe(0);
    expect(help.stdout()).toMatch(/altar export DIR --to pytorch OUT/);
  });
});
