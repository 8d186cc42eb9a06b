/**
 * Batched matrix products for attention on wasm as a WebAssembly SIMD module (assembled at first use with
 * wasm-asm.ts, working on tfjs's heap in place): C[b] = A[b] · B[b] for row-major A (M, K), B (K, N),
 * C (M, N), with M a multiple of 4 and N a multiple of 8. A 4 × 8 tile of C stays in eight 4-lane registers
 * while k runs: per k, one 8-wide row of B and four broadcast elements of A (the broadcast kernel shape of
 * XNNPACK's wasm GEMMs, without the packing of B: attention's operands are new at every call, and B's rows
 * of 8 are already contiguous).
 *
 * Causal attention needs only half of each product; `mode` says which half:
 *   0 full
 *   1 lower output: tiles entirely above the diagonal (j0 ≥ i0 + 4) are written as 0 (S = Q Kᵀ, dP = dO Vᵀ,
 *     whose upper triangle the softmax masks or multiplies by P = 0)
 *   2 lower A: A is lower triangular (M = K): k runs to i0 + 3 (O = P V, dQ = dS K)
 *   3 upper A: A is upper triangular: k starts at i0 (dV = Pᵀ dO, dK = dSᵀ Q)
 */
import { assembleModule, Body, I32, OP, SIMD, V128 } from './wasm-asm.js';

const LOAD32_SPLAT = 9;

// bmm(a, b, c, batch, m, k, n, mode)
function body(): number[] {
  const [a, b, c, batch, m, kk, n, mode] = [0, 1, 2, 3, 4, 5, 6, 7];
  // i32 locals
  const [bt, i0, j0, k, kLo, kHi, pa, pb, pc, rowA, rowB, rowC] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  // v128 locals: eight accumulators, two B halves
  const ACC = [20, 21, 22, 23, 24, 25, 26, 27];
  const [b0, b1] = [28, 29];
  const x = new Body();
  x.get(kk).i32(2).e(OP.i32Shl).set(rowA); // bytes per row of A
  x.get(n).i32(2).e(OP.i32Shl).set(rowB); // bytes per row of B (and C)
  x.get(n).i32(2).e(OP.i32Shl).set(rowC);
  x.i32(0).set(bt);
  x.e(OP.block, 0x40, OP.loop, 0x40); // batch
  x.get(bt, batch).e(OP.i32GeU, OP.brIf, 1);
  x.i32(0).set(i0);
  x.e(OP.loop, 0x40); // row tiles
  // k range by mode: lower A → [0, min(K, i0 + 4)); upper A → [i0, K); else [0, K)
  x.get(i0).i32(0).get(mode).i32(3).e(0x46 /* i32.eq */, OP.select).set(kLo);
  x.get(i0).i32(4).e(OP.i32Add).get(kk).get(i0).i32(4).e(OP.i32Add).get(kk).e(0x48 /* i32.lt_s */, OP.select);
  x.get(kk).get(mode).i32(2).e(0x46, OP.select).set(kHi);
  x.i32(0).set(j0);
  x.e(OP.loop, 0x40); // column tiles
  // pc = c + ((bt·M + i0)·N + j0)·4
  x.get(c).get(bt, m).e(OP.i32Mul).get(i0).e(OP.i32Add).get(rowC).e(OP.i32Mul, OP.i32Add);
  x.get(j0).i32(2).e(OP.i32Shl, OP.i32Add).set(pc);
  for (const acc of ACC) x.zero().set(acc);
  // skip: lower output and j0 ≥ i0 + 4 (the tile is stored as zeros)
  x.get(mode).i32(1).e(0x46).get(j0).get(i0).i32(4).e(OP.i32Add).e(0x4e /* i32.ge_s */, OP.i32And);
  x.e(OP.i32Eqz, OP.if, 0x40);
  // pa = a + ((bt·M + i0)·K + kLo)·4;  pb = b + ((bt·K + kLo)·N + j0)·4
  x.get(a).get(bt, m).e(OP.i32Mul).get(i0).e(OP.i32Add).get(rowA).e(OP.i32Mul, OP.i32Add);
  x.get(kLo).i32(2).e(OP.i32Shl, OP.i32Add).set(pa);
  x.get(b).get(bt, kk).e(OP.i32Mul).get(kLo).e(OP.i32Add).get(rowB).e(OP.i32Mul, OP.i32Add);
  x.get(j0).i32(2).e(OP.i32Shl, OP.i32Add).set(pb);
  x.get(kLo).set(k);
  x.e(OP.block, 0x40, OP.loop, 0x40); // k
  x.get(k, kHi).e(OP.i32GeU, OP.brIf, 1);
  x.get(pb).simd(SIMD.load, 0, 0).set(b0);
  x.get(pb).simd(SIMD.load, 0, 16).set(b1);
  for (let r = 0; r < 4; r++) {
    // a_r = A[i0 + r, k] in every lane
    x.get(pa);
    for (let q = 0; q < r; q++) x.get(rowA).e(OP.i32Add);
    x.simd(LOAD32_SPLAT, 2, 0);
    x.e(OP.tee, 30 /* scratch */);
    x.get(b0)
      .simd(SIMD.f32x4Mul)
      .get(ACC[2 * r]!)
      .simd(SIMD.f32x4Add)
      .set(ACC[2 * r]!);
    x.get(30)
      .get(b1)
      .simd(SIMD.f32x4Mul)
      .get(ACC[2 * r + 1]!)
      .simd(SIMD.f32x4Add)
      .set(ACC[2 * r + 1]!);
  }
  x.get(pa).i32(4).e(OP.i32Add).set(pa);
  x.get(pb, rowB).e(OP.i32Add).set(pb);
  x.get(k).i32(1).e(OP.i32Add).set(k).e(OP.br, 0, OP.end, OP.end);
  x.e(OP.end); // if
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) {
      x.get(pc);
      for (let q = 0; q < r; q++) x.get(rowC).e(OP.i32Add);
      x.get(ACC[2 * r + h]!).simd(SIMD.store, 0, 16 * h);
    }
  }
  x.get(j0).i32(8).e(OP.i32Add).tee(j0).get(n).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.get(i0).i32(4).e(OP.i32Add).tee(i0).get(m).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.get(bt).i32(1).e(OP.i32Add).set(bt).e(OP.br, 0, OP.end, OP.end);
  return x.code;
}

/** The kernel over byte offsets into the memory it was instantiated with. */
export type BmmWasm = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  mode: number,
) => void;

const instances = new WeakMap<WebAssembly.Memory, BmmWasm>();
let compiled: WebAssembly.Module | null = null;

/**
 * The batched product bound to a wasm memory (compiled once, instantiated once per memory); null where
 * WebAssembly SIMD is unavailable. M must be a positive multiple of 4 and N of 8.
 *
 * @example
 * ```ts
 * bmmWasm(memory)?.(aPtr, bPtr, cPtr, batch, m, k, n, 0);
 * ```
 */
export function bmmWasm(memory: WebAssembly.Memory): BmmWasm | null {
  const have = instances.get(memory);
  if (have) return have;
  compiled ??= new WebAssembly.Module(
    assembleModule([
      {
        name: 'bmm',
        params: new Array<number>(8).fill(I32),
        locals: [
          [12, I32],
          [11, V128],
        ],
        body: body(),
      },
    ]),
  );
  const f = (new WebAssembly.Instance(compiled, { env: { memory } }).exports as { bmm: BmmWasm }).bmm;
  instances.set(memory, f);
  return f;
}
