import * as tf from '@tensorflow/tfjs-core';
import { transposeWasm } from './transpose-wasm.js';
import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { expectNoLeaks, useBackend } from '../testing/index.js';
import { sliceInto } from './wasm-fast-paths.js';

/** Naive reference: out[i…] = x[begin + i…], element by element through multi-indices. */
function sliceNaive(x: Float32Array, shape: number[], begin: number[], size: number[]): Float32Array {
  const out = new Float32Array(size.reduce((a, b) => a * b, 1));
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    let off = 0;
    for (let d = size.length - 1; d >= 0; d--) {
      off += (begin[d]! + (rem % size[d]!)) * strides[d]!;
      rem = Math.floor(rem / size[d]!);
    }
    out[o] = x[off]!;
  }
  return out;
}

describe('sliceInto (the wasm Slice / SplitV / Unpack fast path)', () => {
  it('matches an element-by-element reference for every kind of slice', () => {
    const rng = new Rng(3);
    const cases: Array<[number[], number[], number[]]> = [
      [[5], [1], [3]],
      [
        [4, 6],
        [1, 2],
        [2, 3],
      ],
      [
        [4, 6],
        [0, 0],
        [4, 6],
      ], // whole tensor
      [
        [4, 6],
        [2, 0],
        [2, 6],
      ], // contiguous rows
      [
        [3, 4, 5],
        [1, 0, 0],
        [1, 4, 5],
      ],
      [
        [3, 4, 5],
        [0, 1, 2],
        [3, 2, 3],
      ],
      [
        [2, 3, 4, 5],
        [1, 0, 1, 0],
        [1, 3, 2, 5],
      ],
      [
        [2, 3, 4, 5, 2],
        [0, 1, 0, 2, 1],
        [2, 2, 4, 3, 1],
      ],
    ];
    for (const [shape, begin, size] of cases) {
      const x = rng.normalArray(shape.reduce((a, b) => a * b, 1));
      const out = new Float32Array(size.reduce((a, b) => a * b, 1));
      sliceInto(x, shape, begin, size, out);
      expect(Array.from(out)).toEqual(Array.from(sliceNaive(x, shape, begin, size)));
    }
  });

  it('slice, split, unstack and batched / rank-4 matMul on wasm equal the cpu backend', async () => {
    expect(await useBackend('wasm')).not.toBeNull();
    const rng = new Rng(5);
    const x = rng.normalArray(2 * 3 * 40 * 24);
    const a = rng.normalArray(2 * 3 * 40 * 24);
    const b = rng.normalArray(2 * 3 * 24 * 40);
    const ops = () => {
      const t = tf.tensor4d(x, [2, 3, 40, 24]);
      const ta = tf.tensor4d(a, [2, 3, 40, 24]);
      const tb = tf.tensor4d(b, [2, 3, 24, 40]);
      return [
        tf.slice(t, [1, 0, 5, 2], [1, 3, 30, 20]),
        ...tf.split(t, [10, 14], 3),
        ...tf.unstack(t, 1),
        tf.matMul(ta, tb), // (2, 3, 40, 40): per-entry products
        tf.matMul(ta, ta, false, true), // transposeB
        tf.matMul(ta, ta, true, false), // transposeA: (2, 3, 24, 24)
        tf.transpose(ta, [0, 1, 3, 2]), // the blocked last-two-axes transpose
        tf.transpose(tf.reshape(ta, [240, 24])),
        tf.transpose(ta, [0, 2, 1, 3]), // native
      ];
    };
    const run = async () => {
      const outs = tf.tidy(ops);
      const vals = await Promise.all(outs.map(async (o) => ({ shape: o.shape, v: Array.from(await o.data()) })));
      tf.dispose(outs);
      return vals;
    };
    await useBackend('cpu');
    const ref = await run();
    await useBackend('wasm');
    await expectNoLeaks(async () => {
      const got = await run();
      expect(got.length).toBe(ref.length);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(ref[i]!.shape);
        g.v.forEach((val, j) => expect(val).toBeCloseTo(ref[i]!.v[j]!, 3));
      });
    });
  });

  it('transposes the last two axes exactly: the SIMD module (sides multiples of 4) and the blocked JS loop', async () => {
    expect(await useBackend('wasm')).not.toBeNull();
    const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
    expect(transposeWasm(memory)).not.toBeNull(); // the module assembles and instantiates on this heap
    const cases: Array<[number[], 'float32' | 'int32']> = [
      [[3, 64, 100], 'float32'], // SIMD, batch 3
      [[4, 4], 'int32'], // SIMD, one block
      [[2, 36, 132], 'int32'],
      [[3, 42, 26], 'float32'], // JS (not multiples of 4)
      [[130, 61], 'float32'],
    ];
    await expectNoLeaks(async () => {
      for (const [shape, dtype] of cases) {
        const [rows, cols] = shape.slice(-2) as [number, number];
        const batch = shape.length === 3 ? shape[0]! : 1;
        const n = batch * rows * cols;
        const vals = Array.from({ length: n }, (_, i) => (dtype === 'int32' ? i - 7 : i * 0.5 - 3.25));
        const perm = shape.length === 3 ? [0, 2, 1] : [1, 0];
        const t = tf.tensor(vals, shape, dtype);
        const out = tf.transpose(t, perm);
        const got = await out.data();
        tf.dispose([t, out]);
        expect(out.shape, `${shape}`).toEqual([...shape.slice(0, -2), cols, rows]);
        let bad = 0;
        for (let b = 0; b < batch; b++)
          for (let i = 0; i < rows; i++)
            for (let j = 0; j < cols; j++)
              if (got[b * rows * cols + j * rows + i] !== vals[b * rows * cols + i * cols + j]) bad++;
        expect(bad, `${shape} ${dtype}`).toBe(0);
      }
    });
  });
});
