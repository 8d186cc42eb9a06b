/**
 * Matrix products on wasm as a WebAssembly SIMD module (assembled at first use with wasm-asm.ts, working on
 * tfjs's heap in place): C[b] = A[b] · B[b] for row-major A (M, K), B (K, N), C (M, N), M a multiple of 4 and N
 * of 8, every batch entry in one call. A 4 × 8 tile of C stays in eight 4-lane registers while k runs: per k,
 * one 8-wide row of B and four broadcast elements of A (the broadcast kernel shape of XNNPACK's wasm GEMMs).
 * Each entry's B is first packed into contiguous (K, 8) panels (B's rows, often a power of two bytes long,
 * alias in cache otherwise; a transposed B is gathered into the same panels), and A's rows are taken in chunks
 * of ~128 KiB that stay in cache while every panel passes. Where the engine validates relaxed SIMD the tile
 * uses f32x4.relaxed_madd (one fused multiply-add on x86 with FMA); otherwise multiply then add, in
 * XNNPACK's order.
 *
 * Causal attention needs only half of each product; `mode` says which half:
 *   0 full
 *   1 lower output: tiles entirely above the diagonal (j0 ≥ i0 + 4) are written as 0 (S = Q Kᵀ, dP = dO Vᵀ,
 *     whose upper triangle the softmax masks or multiplies by P = 0)
 *   2 lower A: A is lower triangular (M = K): k runs to i0 + 3 (O = P V, dQ = dS K)
 *   3 upper A: A is upper triangular: k starts at i0 (dV = Pᵀ dO, dK = dSᵀ Q)
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { envVar } from '../env.js';
import { assembleModule, Body, I32, OP, perMemory, SIMD, V128 } from './wasm-asm.js';

const LOAD32_SPLAT = 9;
const F32X4_REPLACE_LANE = 32;
/** f32x4.relaxed_madd (relaxed SIMD): a·b + c, one fused multiply-add where the CPU has it. */
const RELAXED_MADD = 0x105;

// bmm(a, b, c, batch, m, k, n, mode, mc, panels). ta: A is stored transposed, (batch, K, M); tb: B is stored
// transposed, (batch, N, K).
function body(fma: boolean, ta: boolean, tb: boolean): number[] {
  const [a, b, c, batch, m, kk, n, mode, mc, panels] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  // i32 locals
  const [bt, ic, iEnd, i0, j0, k, kLo, kHi, pa, pb, pc, rowA, rowB, src] = [
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
  ];
  // v128 locals: eight accumulators, two B halves, the broadcast A element
  const ACC = [24, 25, 26, 27, 28, 29, 30, 31];
  const [b0, b1, av, splat] = [32, 33, 34, 35];
  const x = new Body();
  x.get(ta ? m : kk)
    .i32(2)
    .e(OP.i32Shl)
    .set(rowA); // bytes per stored row of A
  x.get(n).i32(2).e(OP.i32Shl).set(rowB); // bytes per row of B (stored untransposed) and of C
  x.i32(0).set(bt);
  x.e(OP.block, 0x40, OP.loop, 0x40); // batch
  x.get(bt, batch).e(OP.i32GeU, OP.brIf, 1);
  // Pack this entry's B as N/8 contiguous (K, 8) panels, panel j0/8 at panels + j0·K·4: each k's 8 values
  // 32 bytes after the last, not a row of B after (rows of a power-of-two length alias in cache).
  x.i32(0).set(j0);
  x.e(OP.loop, 0x40);
  if (tb) {
    // src = b + (bt·N + j0)·K·4: row j0 of Bᵀ (B[k, j0 + c] = Bᵀ[j0 + c, k], rows K·4 bytes apart)
    x.get(b).get(bt, n).e(OP.i32Mul).get(j0).e(OP.i32Add).get(kk).e(OP.i32Mul).i32(2).e(OP.i32Shl, OP.i32Add);
  } else {
    x.get(b).get(bt, kk).e(OP.i32Mul).get(rowB).e(OP.i32Mul, OP.i32Add).get(j0).i32(2).e(OP.i32Shl, OP.i32Add);
  }
  x.set(src);
  x.get(panels).get(j0, kk).e(OP.i32Mul).i32(2).e(OP.i32Shl, OP.i32Add).set(pb);
  x.i32(0).set(k);
  x.e(OP.block, 0x40, OP.loop, 0x40);
  x.get(k, kk).e(OP.i32GeU, OP.brIf, 1);
  if (tb) {
    // the panel's 8 values for this k, gathered from 8 rows of Bᵀ into two vectors
    for (let h = 0; h < 2; h++) {
      x.get(pb).zero();
      for (let lane = 0; lane < 4; lane++) {
        x.get(src);
        const row = 4 * h + lane;
        if (row > 0)
          x.get(kk)
            .i32(4 * row)
            .e(OP.i32Mul, OP.i32Add);
        x.e(OP.f32Load, 2, 0).simd(F32X4_REPLACE_LANE, lane);
      }
      x.simd(SIMD.store, 0, 16 * h);
    }
    x.get(src).i32(4).e(OP.i32Add).set(src);
  } else {
    x.get(pb).get(src).simd(SIMD.load, 0, 0).simd(SIMD.store, 0, 0);
    x.get(pb).get(src).simd(SIMD.load, 0, 16).simd(SIMD.store, 0, 16);
    x.get(src, rowB).e(OP.i32Add).set(src);
  }
  x.get(pb).i32(32).e(OP.i32Add).set(pb);
  x.get(k).i32(1).e(OP.i32Add).set(k).e(OP.br, 0, OP.end, OP.end);
  x.get(j0).i32(8).e(OP.i32Add).tee(j0).get(n).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.i32(0).set(ic);
  x.e(OP.loop, 0x40); // chunks of mc rows of A (kept in cache while every column tile passes)
  x.get(ic, mc).e(OP.i32Add).get(m).get(ic, mc).e(OP.i32Add).get(m).e(0x48 /* i32.lt_s */, OP.select).set(iEnd);
  x.i32(0).set(j0);
  x.e(OP.loop, 0x40); // column tiles (a K × 8 panel of B, kept in cache while the chunk's row tiles pass)
  x.get(ic).set(i0);
  x.e(OP.loop, 0x40); // row tiles
  // k range by mode: lower A → [0, min(K, i0 + 4)); upper A → [i0, K); else [0, K)
  x.get(i0).i32(0).get(mode).i32(3).e(0x46 /* i32.eq */, OP.select).set(kLo);
  x.get(i0).i32(4).e(OP.i32Add).get(kk).get(i0).i32(4).e(OP.i32Add).get(kk).e(0x48, OP.select);
  x.get(kk).get(mode).i32(2).e(0x46, OP.select).set(kHi);
  // pc = c + ((bt·M + i0)·N + j0)·4
  x.get(c).get(bt, m).e(OP.i32Mul).get(i0).e(OP.i32Add).get(rowB).e(OP.i32Mul, OP.i32Add);
  x.get(j0).i32(2).e(OP.i32Shl, OP.i32Add).set(pc);
  for (const acc of ACC) x.zero().set(acc);
  // skip: lower output and j0 ≥ i0 + 4 (the tile is stored as zeros)
  x.get(mode).i32(1).e(0x46).get(j0).get(i0).i32(4).e(OP.i32Add).e(0x4e /* i32.ge_s */, OP.i32And);
  x.e(OP.i32Eqz, OP.if, 0x40);
  // pa = a + ((bt·M + i0)·K + kLo)·4 (ta: a + ((bt·K + kLo)·M + i0)·4);  pb = panels + (j0·K + 8·kLo)·4
  if (ta) {
    x.get(a).get(bt, kk).e(OP.i32Mul).get(kLo).e(OP.i32Add).get(rowA).e(OP.i32Mul, OP.i32Add);
    x.get(i0).i32(2).e(OP.i32Shl, OP.i32Add).set(pa);
  } else {
    x.get(a).get(bt, m).e(OP.i32Mul).get(i0).e(OP.i32Add).get(rowA).e(OP.i32Mul, OP.i32Add);
    x.get(kLo).i32(2).e(OP.i32Shl, OP.i32Add).set(pa);
  }
  x.get(panels).get(j0, kk).e(OP.i32Mul).get(kLo).i32(3).e(OP.i32Shl, OP.i32Add).i32(2).e(OP.i32Shl, OP.i32Add).set(pb);
  x.get(kLo).set(k);
  x.e(OP.block, 0x40, OP.loop, 0x40); // k
  x.get(k, kHi).e(OP.i32GeU, OP.brIf, 1);
  x.get(pb).simd(SIMD.load, 0, 0).set(b0);
  x.get(pb).simd(SIMD.load, 0, 16).set(b1);
  // ta: A[i0..i0+3, k] are neighbours in row k of Aᵀ: one load, then a lane broadcast for each
  if (ta) x.get(pa).simd(SIMD.load, 0, 0).set(av);
  for (let r = 0; r < 4; r++) {
    // splat = A[i0 + r, k] in every lane; acc += splat · b
    if (ta) {
      x.get(av, av).simd(SIMD.shuffle, ...[0, 1, 2, 3].flatMap(() => [4 * r, 4 * r + 1, 4 * r + 2, 4 * r + 3]));
    } else {
      x.get(pa);
      for (let q = 0; q < r; q++) x.get(rowA).e(OP.i32Add);
      x.simd(LOAD32_SPLAT, 2, 0);
    }
    x.set(splat);
    for (const [h, bv] of [b0, b1].entries()) {
      const acc = ACC[2 * r + h]!;
      if (fma) x.get(splat, bv, acc).simd(RELAXED_MADD).set(acc);
      else x.get(splat, bv).simd(SIMD.f32x4Mul).get(acc).simd(SIMD.f32x4Add).set(acc);
    }
  }
  if (ta) x.get(pa, rowA).e(OP.i32Add).set(pa);
  else x.get(pa).i32(4).e(OP.i32Add).set(pa);
  x.get(pb).i32(32).e(OP.i32Add).set(pb);
  x.get(k).i32(1).e(OP.i32Add).set(k).e(OP.br, 0, OP.end, OP.end);
  x.e(OP.end); // if
  for (let r = 0; r < 4; r++) {
    for (let h = 0; h < 2; h++) {
      x.get(pc);
      for (let q = 0; q < r; q++) x.get(rowB).e(OP.i32Add);
      x.get(ACC[2 * r + h]!).simd(SIMD.store, 0, 16 * h);
    }
  }
  x.get(i0).i32(4).e(OP.i32Add).tee(i0).get(iEnd).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.get(j0).i32(8).e(OP.i32Add).tee(j0).get(n).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.get(ic, mc).e(OP.i32Add).tee(ic).get(m).e(OP.i32LtU, OP.brIf, 0, OP.end);
  x.get(bt).i32(1).e(OP.i32Add).set(bt).e(OP.br, 0, OP.end, OP.end);
  return x.code;
}

/** The four storage variants of the product: [export name, A transposed, B transposed]. */
const VARIANTS: Array<[string, boolean, boolean]> = [
  ['bmm', false, false],
  ['bmm_ta', true, false],
  ['bmm_tb', false, true],
  ['bmm_tatb', true, true],
];

function moduleBytes(fma: boolean): Uint8Array<ArrayBuffer> {
  return assembleModule(
    VARIANTS.map(([name, ta, tb]) => ({
      name,
      params: new Array<number>(10).fill(I32),
      locals: [
        [14, I32],
        [12, V128],
      ],
      body: body(fma, ta, tb),
    })),
  );
}

type Raw = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  mode: number,
  mc: number,
  panels: number,
) => void;

/**
 * The slice of tfjs-wasm's backend the product needs.
 *
 * @example
 * ```ts
 * const heap = tf.backend() as unknown as WasmHeap; // after initBackend('wasm')
 * ```
 */
export interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): { byteOffset: number };
  disposeData(dataId: object): unknown;
  wasm?: { asm?: { memory?: unknown } };
}

/**
 * Triangle modes of {@link bmmWasm}: 0 full; 1 lower output (tiles above the diagonal written as 0); 2 A lower
 * triangular; 3 A upper triangular.
 *
 * @example
 * ```ts
 * const mode: BmmMode = 2; // O = P V with causal P
 * ```
 */
export type BmmMode = 0 | 1 | 2 | 3;

/**
 * C (batch, M, N) = A (batch, M, K) · B (batch, K, N) for float32 tensors on the wasm heap; `ta` / `tb`: A is
 * stored as Aᵀ (batch, K, M) / B as Bᵀ (batch, N, K) (read in place: no transposed copy).
 *
 * @example
 * ```ts
 * const product: BmmWasm | null = bmmWasm(heap);
 * const c = product?.(a, b, [4096, 1024]); // a (4096, 256), b (256, 1024): a TensorInfo on the heap
 * ```
 */
export type BmmWasm = (
  a: TensorInfo,
  b: TensorInfo,
  outShape: number[],
  mode?: BmmMode,
  ta?: boolean,
  tb?: boolean,
) => TensorInfo;

let fmaAllowed = true;
/** Whether the module uses fused multiply-adds: decided at first use (relaxed SIMD validated by the engine). */
let fma: boolean | null = null;
/** The FMA module's bytes, assembled once: validated first, then compiled when valid. */
let fmaBytes: Uint8Array<ArrayBuffer> | null = null;
function useFma(): boolean {
  fma ??= fmaAllowed && envVar('ALTAR_WASM_FMA') !== '0' && WebAssembly.validate((fmaBytes ??= moduleBytes(true)));
  return fma;
}
const factory = () => perMemory<Record<string, Raw>>(() => (useFma() ? fmaBytes! : moduleBytes(false)));
let kernelsOf = factory();

/**
 * Forbid (false) or allow (true, the default) the fused multiply-add module from the next product on; returns
 * whether the products use fused multiply-adds now. For tests and benchmarks.
 *
 * @example
 * ```ts
 * setBmmFma(false); // plain f32x4 multiply + add from here on
 * ```
 */
export function setBmmFma(allow: boolean): boolean {
  if (allow !== fmaAllowed) {
    fmaAllowed = allow;
    fma = null;
    kernelsOf = factory();
  }
  return bmmUsesFma();
}

/**
 * The batched product on a wasm backend's heap, or null where WebAssembly SIMD is unavailable. A is
 * (batch, M, K) and B (batch, K, N) (any leading shape with that many entries), M a positive multiple of 4 and
 * N of 8; `outShape` has batch·M·N elements. B is packed into (K, 8) panels in a scratch tensor first; rows of
 * A are taken in chunks of ~128 KiB, which stay in cache while every panel passes over them.
 *
 * @example
 * ```ts
 * const c = bmmWasm(backend)?.(a, b, [16, 4, 256, 64]); // a (16, 4, 256, 256), b (16, 4, 256, 64)
 * ```
 */
export function bmmWasm(backend: WasmHeap): BmmWasm | null {
  const kernels = kernelsOf(backend);
  if (!kernels) return null; // no WebAssembly SIMD
  return (a, b, outShape, mode = 0, ta = false, tb = false) => {
    const r = a.shape.length;
    const [m, k] = ta ? [a.shape[r - 1]!, a.shape[r - 2]!] : [a.shape[r - 2]!, a.shape[r - 1]!];
    const n = b.shape[b.shape.length - (tb ? 2 : 1)]!;
    const run = kernels[`bmm${ta || tb ? '_' : ''}${ta ? 'ta' : ''}${tb ? 'tb' : ''}`]!;
    const batch = m * n > 0 ? tf.util.sizeFromShape(outShape) / (m * n) : 0;
    const out = backend.makeOutput(outShape, 'float32');
    const panels = backend.makeOutput([Math.max(1, k * n)], 'float32');
    try {
      const ptr = (t: TensorInfo) => backend.typedArrayFromHeap(t).byteOffset; // after the last allocation
      const mc = Math.max(4, Math.floor(Math.min(m, 32768 / Math.max(1, k)) / 4) * 4);
      run(ptr(a), ptr(b), ptr(out), batch, m, k, n, mode, mc, ptr(panels));
    } finally {
      backend.disposeData(panels.dataId);
    }
    return out;
  };
}

/**
 * Whether the batched products use fused multiply-adds (relaxed SIMD validated by the engine).
 *
 * @example
 * ```ts
 * bmmUsesFma(); // true where the engine has relaxed SIMD (browsers, Node ≥ 22; Node 20 after initBackend('wasm'))
 * ```
 */
export function bmmUsesFma(): boolean {
  try {
    return useFma();
  } catch {
    return false; // no WebAssembly at all
  }
}
