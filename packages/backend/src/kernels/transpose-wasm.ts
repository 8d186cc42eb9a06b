/**
 * Batched transpose of the last two axes on wasm as a WebAssembly SIMD module (assembled at first use with
 * fused/wasm-asm.ts, working on tfjs's heap in place): 4×4 blocks, each loaded as four 4-lane rows, turned by
 * eight lane shuffles and stored as four columns. Rows stream in order; the written columns stay in cache
 * across consecutive row blocks. For 4-byte elements (float32, int32) with both sides a multiple of 4.
 */
import { assembleModule, Body, I32, OP, perMemory, SIMD, V128, type WasmMemorySource } from '../fused/wasm-asm.js';

/** i8x16.shuffle immediates from 32-bit lane indices (0–3: first operand, 4–7: second). */
const lanes = (...ls: number[]): number[] => ls.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);

// t(src, dst, batch, rows, cols): byte offsets; out[b][j][i] = in[b][i][j]
function body(): number[] {
  const [src, dst, batch, rows, cols] = [0, 1, 2, 3, 4];
  // i32 locals
  const [bb, i, j, rowB, colB, sp, dp, base] = [5, 6, 7, 8, 9, 10, 11, 12];
  // v128 locals: the four loaded rows, then the four half-turned pairs
  const [a, b, c, d, t0, t1, t2, t3] = [13, 14, 15, 16, 17, 18, 19, 20];
  const k = new Body();
  k.get(cols).i32(2).e(OP.i32Shl).set(rowB); // bytes per input row
  k.get(rows).i32(2).e(OP.i32Shl).set(colB); // bytes per output row
  k.i32(0).set(bb).i32(0).set(base);
  k.e(OP.block, 0x40, OP.loop, 0x40); // batch
  k.get(bb, batch).e(OP.i32GeU, OP.brIf, 1);
  k.i32(0).set(i);
  k.e(OP.loop, 0x40); // row blocks
  k.i32(0).set(j);
  k.e(OP.loop, 0x40); // column blocks
  // sp = src + base + i·rowB + 4j;  dp = dst + base + j·colB + 4i
  k.get(src, base).e(OP.i32Add).get(i, rowB).e(OP.i32Mul, OP.i32Add).get(j).i32(2).e(OP.i32Shl, OP.i32Add).set(sp);
  k.get(dst, base).e(OP.i32Add).get(j, colB).e(OP.i32Mul, OP.i32Add).get(i).i32(2).e(OP.i32Shl, OP.i32Add).set(dp);
  for (const [r, l] of [a, b, c, d].entries()) {
    k.get(sp);
    for (let q = 0; q < r; q++) k.get(rowB).e(OP.i32Add);
    k.simd(SIMD.load, 0, 0).set(l);
  }
  k.get(a, b)
    .simd(SIMD.shuffle, ...lanes(0, 4, 1, 5))
    .set(t0); // a0 b0 a1 b1
  k.get(a, b)
    .simd(SIMD.shuffle, ...lanes(2, 6, 3, 7))
    .set(t1); // a2 b2 a3 b3
  k.get(c, d)
    .simd(SIMD.shuffle, ...lanes(0, 4, 1, 5))
    .set(t2); // c0 d0 c1 d1
  k.get(c, d)
    .simd(SIMD.shuffle, ...lanes(2, 6, 3, 7))
    .set(t3); // c2 d2 c3 d3
  const cols4: Array<[number, number, number[]]> = [
    [t0, t2, [0, 1, 4, 5]], // a0 b0 c0 d0
    [t0, t2, [2, 3, 6, 7]], // a1 b1 c1 d1
    [t1, t3, [0, 1, 4, 5]], // a2 b2 c2 d2
    [t1, t3, [2, 3, 6, 7]], // a3 b3 c3 d3
  ];
  for (const [r, [p, q, ls]] of cols4.entries()) {
    k.get(dp);
    for (let s = 0; s < r; s++) k.get(colB).e(OP.i32Add);
    k.get(p, q)
      .simd(SIMD.shuffle, ...lanes(...ls))
      .simd(SIMD.store, 0, 0);
  }
  k.get(j).i32(4).e(OP.i32Add).tee(j).get(cols).e(OP.i32LtU, OP.brIf, 0, OP.end);
  k.get(i).i32(4).e(OP.i32Add).tee(i).get(rows).e(OP.i32LtU, OP.brIf, 0, OP.end);
  k.get(base, rows, rowB).e(OP.i32Mul, OP.i32Add).set(base);
  k.get(bb).i32(1).e(OP.i32Add).set(bb).e(OP.br, 0, OP.end, OP.end);
  return k.code;
}

type TransposeFn = (src: number, dst: number, batch: number, rows: number, cols: number) => void;

const transposeModule = perMemory<{ t: TransposeFn }>(() =>
  assembleModule([
    {
      name: 't',
      params: new Array<number>(5).fill(I32),
      locals: [
        [8, I32],
        [8, V128],
      ],
      body: body(),
    },
  ]),
);

/**
 * The SIMD transpose bound to a wasm memory (compiled once, instantiated once per memory); null where
 * WebAssembly SIMD is unavailable. Rows and columns must be multiples of 4 (and ≥ 4).
 *
 * @example
 * ```ts
 * transposeWasm(memory)?.(srcByteOffset, dstByteOffset, batch, rows, cols);
 * ```
 */
export function transposeWasm(heap: WasmMemorySource): TransposeFn | null {
  return transposeModule(heap)?.t ?? null;
}
