/**
 * altar's WGSL programs compile once per kind, not once per size: sizes reach the shaders as uniforms. A size
 * baked into the shader text (the grid stride, once) made cached decoding compile two pipelines per token as
 * the cache grew, which on a GPU costs milliseconds each. Runs on WebGPU where it starts (SwiftShader in CI,
 * where ALTAR_REQUIRE_BACKENDS lists webgpu); skipped on a machine without it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, useBackend } from '../testing/index.js';
import { decodeAttention } from './decode-attention.js';
import { biasGelu } from './gelu.js';
import { adamwUpdateControlled } from './ops.js';

function pipelineKeys(): string[] {
  const cache = (tf.backend() as unknown as { pipelineCache?: Record<string, unknown> }).pipelineCache ?? {};
  return Object.keys(cache);
}

/** altar's GELU (the tanh approximation, Hendrycks & Gimpel 2016) in float64. */
function geluRef(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
}

describe('WGSL pipelines on webgpu', () => {
  it('cached decode attention compiles nothing new as the cache grows', async (ctx) => {
    if (!(await useBackend('webgpu', { optional: true }))) return ctx.skip();
    const rng = new Rng(5);
    const [b, h, dh] = [1, 2, 16];
    const d = h * dh;
    const step = (p: number) =>
      tf.tidy(() => {
        const qkv = tf.tensor2d(rng.normalArray(b * 3 * d), [b, 3 * d]);
        const k = tf.tensor4d(rng.normalArray(b * h * p * dh), [b, h, p, dh]);
        const v = tf.tensor4d(rng.normalArray(b * h * p * dh), [b, h, p, dh]);
        return decodeAttention(qkv, k, v, { nHeads: h, rope: true, ropeBase: 10000 });
      });
    await expectNoLeaks(async () => {
      // Warm: p = 2 (p ≤ 1 has its own broadcast pattern in tfjs's shader key, compiled once per process).
      const warm = step(2);
      await warm[0]!.data();
      tf.dispose(warm);
      const before = pipelineKeys().length;
      // Each size is another grid: ⌈b·h·(p+1)·dh / 64⌉ = 2, 5, 17, 66 and 258 workgroups.
      for (const p of [3, 8, 33, 130, 515]) {
        const out = step(p);
        expect(out[1]!.shape).toEqual([b, h, p + 1, dh]);
        await out[0]!.data();
        tf.dispose(out);
      }
      expect(pipelineKeys().length - before).toBe(0);
    });
  });

  it('a loop program past 4,096 workgroups (grid stride as a uniform) matches float64, one pipeline for both sizes', async (ctx) => {
    if (!(await useBackend('webgpu', { optional: true }))) return ctx.skip();
    const rng = new Rng(9);
    const D = 512;
    await expectNoLeaks(async () => {
      const keysAfter: number[] = [];
      // 40 rows: 20,480 threads (one pass); 1,031 rows: 527,872 threads = 2.01 grid strides of 4,096 × 64.
      for (const rows of [40, 1031]) {
        const xs = Float32Array.from(rng.normalArray(rows * D), (u) => 2 * u);
        const bs = Float32Array.from(rng.normalArray(D));
        const y = tf.tidy(() => biasGelu(tf.tensor2d(xs, [rows, D]), tf.tensor1d(bs)));
        const got = await y.data();
        y.dispose();
        let worst = 0;
        for (let i = 0; i < got.length; i++) {
          const want = geluRef(xs[i]! + bs[i % D]!);
          worst = Math.max(worst, Math.abs(got[i]! - want) / (1e-3 + Math.abs(want)));
        }
        expect(worst, `rows ${rows}`).toBeLessThan(2e-4);
        keysAfter.push(pipelineKeys().length);
      }
      expect(keysAfter[1]).toBe(keysAfter[0]);
    });
  });

  it('AdamW takes one dispatch per parameter and leaves no backend data behind', async (ctx) => {
    if (!(await useBackend('webgpu', { optional: true }))) return ctx.skip();
    const be = tf.backend() as unknown as {
      runWebGPUProgram: (...a: unknown[]) => unknown;
      numDataIds(): number;
    };
    const rng = new Rng(3);
    const n = 1000;
    const vals = [rng.normalArray(n), rng.normalArray(n), rng.normalArray(n).map((x) => x * x), rng.normalArray(n)];
    const [p, m, v, g] = vals.map((x) => tf.tensor1d(x));
    const ctl = tf.tensor1d([1, 1, 1]);
    const step = { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 0 };
    const orig = be.runWebGPUProgram;
    let programs = 0;
    be.runWebGPUProgram = function (this: unknown, ...a: unknown[]) {
      programs++;
      return orig.apply(this, a);
    };
    try {
      const warm = adamwUpdateControlled(p!, m!, v!, g!, ctl, step);
      await warm[2].data();
      tf.dispose(warm);
      const ids = be.numDataIds();
      programs = 0;
      const outs = adamwUpdateControlled(p!, m!, v!, g!, ctl, step);
      expect(programs).toBe(1);
      // t = 1: m' = 0.9m + 0.1g, v' = 0.99v + 0.01g², checked at both ends of each copied part
      const [mo, vo] = [await outs[1].data(), await outs[2].data()];
      for (const i of [0, n - 1]) {
        expect(mo[i]).toBeCloseTo(0.9 * vals[1]![i]! + 0.1 * vals[3]![i]!, 5);
        expect(vo[i]).toBeCloseTo(0.99 * vals[2]![i]! + 0.01 * vals[3]![i]! ** 2, 5);
      }
      tf.dispose(outs);
      const one = tf.ones([1]);
      await one.data(); // a submit, after which the packed buffer's release is done
      one.dispose();
      expect(be.numDataIds()).toBe(ids);
    } finally {
      be.runWebGPUProgram = orig;
      tf.dispose([p!, m!, v!, g!, ctl]);
    }
  });
});
