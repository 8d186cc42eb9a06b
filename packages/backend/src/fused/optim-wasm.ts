/**
 * AdamW on wasm as a WebAssembly SIMD pass (assembled at first use with wasm-asm.ts, working on tfjs's heap in
 * place), four parameters at a time, in the float32 operation order of the composition (Loshchilov & Hutter
 * 2019, Alg. 2):
 *
 *   g' = g·s;  m' = m·β₁ + g'·(1 − β₁);  v' = v·β₂ + (g'·g')·(1 − β₂)
 *   p' = p·(1 − λ) − ((m'/bc₁) / (√(v'/bc₂) + ε))·lr
 *
 * The scalars arrive as float32 (what the composition's scalar tensors hold). The first n − n mod 4 elements
 * run here; optim.ts finishes the rest.
 */
import { assembleModule, Body, F32, I32, OP, perMemory, SIMD, V128, type WasmMemorySource } from './wasm-asm.js';

// adam(p, m, v, g, pOut, mOut, vOut, n, gradScale, b1, c1, b2, c2, bc1, bc2, eps, lr, keep)
const P = { p: 0, m: 1, v: 2, g: 3, po: 4, mo: 5, vo: 6, n: 7 } as const;
const S = { gradScale: 8, b1: 9, c1: 10, b2: 11, c2: 12, bc1: 13, bc2: 14, eps: 15, lr: 16, keep: 17 } as const;
const N_PARAMS = 18;
const L = { off: N_PARAMS, end: N_PARAMS + 1 } as const; // i32
const FIRST_V = N_PARAMS + 2; // v128 splats of the scalars, in S order, then g', m', v'
const splat = (s: number) => FIRST_V + s - S.gradScale;
const V = { g: FIRST_V + 10, m: FIRST_V + 11, v: FIRST_V + 12 } as const;

function body(): number[] {
  const b = new Body();
  for (const s of Object.values(S)) b.get(s).simd(SIMD.f32x4Splat).set(splat(s));
  b.get(P.n).i32(2).e(OP.i32Shl).set(L.end).i32(0).set(L.off);
  b.e(OP.block, 0x40, OP.loop, 0x40);
  b.get(L.off, L.end).e(OP.i32GeU, OP.brIf, 1);
  const mul = (x: number, y: number) => b.get(x, y).simd(SIMD.f32x4Mul);
  b.vload(P.g, L.off).get(splat(S.gradScale)).simd(SIMD.f32x4Mul).set(V.g);
  b.vload(P.m, L.off).get(splat(S.b1)).simd(SIMD.f32x4Mul);
  mul(V.g, splat(S.c1)).simd(SIMD.f32x4Add).set(V.m);
  b.vload(P.v, L.off).get(splat(S.b2)).simd(SIMD.f32x4Mul);
  mul(V.g, V.g).get(splat(S.c2)).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Add).set(V.v);
  b.get(P.mo, L.off).e(OP.i32Add).get(V.m).simd(SIMD.store, 0, 0);
  b.get(P.vo, L.off).e(OP.i32Add).get(V.v).simd(SIMD.store, 0, 0);
  // p' = p·keep − ((m/bc1) / (√(v/bc2) + eps))·lr
  b.get(P.po, L.off).e(OP.i32Add);
  b.vload(P.p, L.off).get(splat(S.keep)).simd(SIMD.f32x4Mul);
  b.get(V.m, splat(S.bc1)).simd(SIMD.f32x4Div);
  b.get(V.v, splat(S.bc2)).simd(SIMD.f32x4Div).simd(SIMD.f32x4Sqrt).get(splat(S.eps)).simd(SIMD.f32x4Add);
  b.simd(SIMD.f32x4Div).get(splat(S.lr)).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
  b.simd(SIMD.store, 0, 0);
  b.get(L.off).i32(16).e(OP.i32Add).set(L.off).e(OP.br, 0, OP.end, OP.end);
  return b.code;
}

/** The kernel over byte offsets into the memory it was instantiated with; n is the element count (a multiple of 4). */
export type AdamwWasm = (
  p: number,
  m: number,
  v: number,
  g: number,
  pOut: number,
  mOut: number,
  vOut: number,
  n: number,
  gradScale: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  bc1: number,
  bc2: number,
  eps: number,
  lr: number,
  keep: number,
) => void;

const adamModule = perMemory<{ adam: AdamwWasm }>(() =>
  assembleModule([
    {
      name: 'adam',
      params: [...new Array<number>(8).fill(I32), ...new Array<number>(10).fill(F32)],
      locals: [
        [2, I32],
        [13, V128],
      ],
      body: body(),
    },
  ]),
);

/**
 * The AdamW kernel bound to a wasm memory (compiled once, instantiated once per memory); null where
 * WebAssembly SIMD is unavailable.
 *
 * @example
 * ```ts
 * adamwWasm(memory)?.(p, m, v, g, pOut, mOut, vOut, n, 1, 0.9, 0.1, 0.999, 0.001, bc1, bc2, 1e-8, 3e-4, 1);
 * ```
 */
export function adamwWasm(heap: WasmMemorySource): AdamwWasm | null {
  return adamModule(heap)?.adam ?? null;
}
