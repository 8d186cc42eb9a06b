/**
 * bias + GELU on wasm as one WebAssembly SIMD pass each way (a module assembled at first use with wasm-asm.ts,
 * working on tfjs's heap in place), four lanes at a time:
 *
 *   forward   u = x + b,  z = 2a = 2√(2/π)(u + 0.044715u³),  y = u·σ(z)        (0.5u(1 + tanh a) = u·σ(2a))
 *   backward  g = dy·(σ + u·σ(1 − σ)·dz/du),  dz/du = 2√(2/π)(1 + 3·0.044715u²);  dx = g,  db = Σ_rows g
 *             (float64 column sums)
 *
 * σ(z) = 1/(1 + e^{−z}) with e^t = 2^n·e^r, n = round(t·log₂e), r = t − n·ln 2 (ln 2 split in two parts
 * so that r is exact), e^r by its Taylor series to r⁷ (|r| ≤ ln 2 / 2: relative error < 1e-8), 2^n built in
 * the exponent bits. t is clamped to [−87, 88], where σ is already 0 or 1 in float32; NaN propagates.
 * Rows must be a multiple of 4 wide (otherwise gelu.ts runs its JS passes).
 */
import { assembleModule, Body, I32, OP, perMemory, SIMD, V128, type WasmMemorySource } from './wasm-asm.js';

const C1 = 2 * Math.sqrt(2 / Math.PI);
const C2 = C1 * 0.044715;
const LOG2E = Math.LOG2E;
/** ln 2 = LN2_HI + LN2_LO, LN2_HI with few mantissa bits so that n·LN2_HI is exact in float32 (Cody & Waite). */
const LN2_HI = 0.693359375;
const LN2_LO = Math.LN2 - LN2_HI;

// Locals after the parameters (the same layout in both functions).
const L = { row: 0, j: 1, off: 2, rowBytes: 3, acc: 4 } as const; // i32, offset by the parameter count
const V = { u: 0, z: 1, n: 2, r: 3, s: 4, g: 5, w: 6, scratch: 7 } as const; // v128, after the i32s
const N_I32 = 5;
const N_V128 = 8;

interface Layout {
  l: Record<keyof typeof L, number>;
  v: Record<keyof typeof V, number>;
}

function layout(params: number): Layout {
  const l = Object.fromEntries(Object.entries(L).map(([k, i]) => [k, params + i])) as Layout['l'];
  const v = Object.fromEntries(Object.entries(V).map(([k, i]) => [k, params + N_I32 + i])) as Layout['v'];
  return { l, v };
}

/** for row < rows: off = row·d·4; for j = 0..d·4 step 16: body. */
function loops(b: Body, { l }: Layout, rows: number, d: number, body: () => void): void {
  b.get(d).i32(2).e(OP.i32Shl).set(l.rowBytes).i32(0).set(l.row);
  b.e(OP.block, 0x40, OP.loop, 0x40);
  b.get(l.row, rows).e(OP.i32GeU, OP.brIf, 1);
  b.get(l.row, l.rowBytes).e(OP.i32Mul).set(l.off);
  b.i32(0).set(l.j).e(OP.loop, 0x40);
  body();
  b.get(l.j).i32(16).e(OP.i32Add).tee(l.j).get(l.rowBytes).e(OP.i32LtU, OP.brIf, 0, OP.end);
  b.get(l.row).i32(1).e(OP.i32Add).set(l.row).e(OP.br, 0, OP.end, OP.end);
}

/** u = x[off + j] + b[j]; z = u·(C1 + C2·u²); s = σ(z). */
function uzs(b: Body, { l, v }: Layout, x: number, bias: number): void {
  b.vload(x, l.off, l.j).vload(bias, l.j).simd(SIMD.f32x4Add).set(v.u);
  b.get(v.u, v.u).simd(SIMD.f32x4Mul).splat(C2).simd(SIMD.f32x4Mul).splat(C1).simd(SIMD.f32x4Add);
  b.get(v.u).simd(SIMD.f32x4Mul).set(v.z);
  // t = clamp(−z, −87, 88) (kept in r); n = round(t·log₂e); r = t − n·ln2_hi − n·ln2_lo
  b.get(v.z).simd(SIMD.f32x4Neg).splat(88).simd(SIMD.f32x4Min).splat(-87).simd(SIMD.f32x4Max).set(v.r);
  b.get(v.r).splat(LOG2E).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Nearest).set(v.n);
  b.get(v.r, v.n).splat(LN2_HI).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub);
  b.get(v.n).splat(LN2_LO).simd(SIMD.f32x4Mul).simd(SIMD.f32x4Sub).set(v.r);
  // e^r = 1 + r(1 + r(1/2 + r(1/6 + … + r/5040))), Horner from the top
  b.splat(1 / 5040);
  for (const c of [1 / 720, 1 / 120, 1 / 24, 1 / 6, 1 / 2, 1, 1]) {
    b.get(v.r).simd(SIMD.f32x4Mul).splat(c).simd(SIMD.f32x4Add);
  }
  // · 2^n: ((int n + 127) << 23) as float bits
  b.get(v.n).simd(SIMD.i32x4TruncSatF32x4S);
  b.simd(SIMD.const, ...new Uint8Array(Int32Array.of(127, 127, 127, 127).buffer)).simd(SIMD.i32x4Add);
  b.i32(23).simd(SIMD.i32x4Shl).simd(SIMD.f32x4Mul).set(v.s);
  // σ = 1 / (1 + e^{−z})
  b.splat(1).splat(1).get(v.s).simd(SIMD.f32x4Add).simd(SIMD.f32x4Div).set(v.s);
}

// fwd(x, b, y, rows, d)
function forwardBody(): number[] {
  const [x, bias, y, rows, d] = [0, 1, 2, 3, 4];
  const lay = layout(5);
  const b = new Body(lay.v.scratch);
  loops(b, lay, rows, d, () => {
    uzs(b, lay, x, bias);
    b.get(y, lay.l.off).e(OP.i32Add).get(lay.l.j).e(OP.i32Add);
    b.get(lay.v.u, lay.v.s).simd(SIMD.f32x4Mul).simd(SIMD.store, 0, 0);
  });
  return b.code;
}

// bwd(dy, x, b, dx, acc, rows, d): acc is d float64 column sums, added to
function backwardBody(): number[] {
  const [dy, x, bias, dx, acc, rows, d] = [0, 1, 2, 3, 4, 5, 6];
  const lay = layout(7);
  const { l, v } = lay;
  const b = new Body(v.scratch);
  loops(b, lay, rows, d, () => {
    uzs(b, lay, x, bias);
    // g = dy·(s + u·s·(1 − s)·(C1 + 3·C2·u²))
    b.get(v.u, v.u)
      .simd(SIMD.f32x4Mul)
      .splat(3 * C2)
      .simd(SIMD.f32x4Mul)
      .splat(C1)
      .simd(SIMD.f32x4Add);
    b.get(v.u).simd(SIMD.f32x4Mul).get(v.s).simd(SIMD.f32x4Mul);
    b.splat(1).get(v.s).simd(SIMD.f32x4Sub).simd(SIMD.f32x4Mul);
    b.get(v.s).simd(SIMD.f32x4Add);
    b.vload(dy, l.off, l.j).simd(SIMD.f32x4Mul).set(v.g);
    b.get(dx, l.off).e(OP.i32Add).get(l.j).e(OP.i32Add).get(v.g).simd(SIMD.store, 0, 0);
    // acc[col..col+1] += lanes 0, 1 and acc[col+2..col+3] += lanes 2, 3 (byte offset 2j, 2j + 16)
    for (const hi of [false, true]) {
      b.get(acc, l.j, l.j).e(OP.i32Add, OP.i32Add);
      if (hi) b.i32(16).e(OP.i32Add);
      b.tee(l.acc).simd(SIMD.load, 0, 0);
      (hi ? b.get(v.g).high() : b.get(v.g)).simd(SIMD.f64x2PromoteLow);
      b.simd(SIMD.f64x2Add).set(v.w).get(l.acc, v.w).simd(SIMD.store, 0, 0);
    }
  });
  return b.code;
}

/** The two kernels over byte offsets into the memory they were instantiated with. */
export interface GeluWasm {
  fwd(x: number, b: number, y: number, rows: number, d: number): void;
  bwd(dy: number, x: number, b: number, dx: number, acc: number, rows: number, d: number): void;
}

/**
 * The bias + GELU kernels bound to a wasm memory (compiled once, instantiated once per memory); null where
 * WebAssembly SIMD is unavailable.
 *
 * @example
 * ```ts
 * const k = geluWasmKernels(memory); // k?.fwd(xPtr, bPtr, yPtr, rows, d)
 * ```
 */
export const geluWasmKernels: (heap: WasmMemorySource) => GeluWasm | null = perMemory<GeluWasm>(() => {
  const locals: Array<[number, number]> = [
    [N_I32, I32],
    [N_V128, V128],
  ];
  return assembleModule([
    { name: 'fwd', params: new Array<number>(5).fill(I32), locals, body: forwardBody() },
    { name: 'bwd', params: new Array<number>(7).fill(I32), locals, body: backwardBody() },
  ]);
});
