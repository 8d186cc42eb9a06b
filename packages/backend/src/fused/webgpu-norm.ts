/**
 * WGSL kernels of the fused norms (norm.ts) on webgpu: LayerNorm and RMSNorm, alone or after the residual add.
 *
 * Row statistics and the backward's row sums use a WORKGROUP per row (64 threads stride over the D columns,
 * then a workgroup-memory tree reduction), not a thread per row. Dispatches:
 *   forward   s = x + r (elementwise; the add variants), stats (μ, ρ) per row (a workgroup per row),
 *             y = (s − μ)·ρ·g + b (elementwise)
 *   backward  dx (a workgroup per row: Σ ĝ and Σ ĝ·x̂ reduced, then written), dg and db column sums
 *             (webgpu-colsum.ts: partial sums over row chunks, then one short pass per parameter)
 * The statistics are two-pass in float32 (the mean first, then Σ (s − μ)²), as the composition computes them.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './names.js';
import { columnSums } from './webgpu-colsum.js';
import { f32, i32, lastDim, LoopProgram, run, sizeOf, type WebgpuBackendLike } from './webgpu-program.js';

const WG = 64;
/** Rows per dispatch dimension; more rows spread over the y dimension (WebGPU caps each at 65535). */
const MAX_X = 32768;

const REDUCE = `
  var<workgroup> redA : array<f32, ${WG}>;
  var<workgroup> redB : array<f32, ${WG}>;
  // Σ over the workgroup of (a, b), returned to every thread (tree reduction in workgroup memory).
  fn reduce2(l : i32, a : f32, b : f32) -> vec2<f32> {
    redA[l] = a;
    redB[l] = b;
    workgroupBarrier();
    for (var s = ${WG / 2}; s > 0; s = s >> 1) {
      if (l < s) {
        redA[l] = redA[l] + redA[l + s];
        redB[l] = redB[l] + redB[l + s];
      }
      workgroupBarrier();
    }
    let out = vec2<f32>(redA[0], redB[0]);
    workgroupBarrier();
    return out;
  }`;

/** A workgroup per row of a (rows, d) problem; `body` sees row, l (thread), valid (row < rows) and o (row offset). */
class RowProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly uniforms = 'rows : i32, d : i32, eps : f32,';

  constructor(
    name: string,
    inputs: string[],
    outputShape: number[],
    rows: number,
    private readonly body: string,
  ) {
    this.variableNames = inputs;
    this.outputShape = outputShape;
    this.dispatch = [Math.min(rows, MAX_X), Math.ceil(rows / MAX_X), 1];
    this.shaderKey = `altar_norm_${name}`;
  }

  getUserCode(): string {
    return `${REDUCE}
      fn main(index : i32) {
        let row = i32(workgroupId.x) + i32(workgroupId.y) * i32(numWorkgroups.x);
        let l = i32(localIndex);
        let valid = row < uniforms.rows;
        let o = select(0, row, valid) * uniforms.d; // rows past the end read row 0 and write nothing
        let so = select(0, row, valid) * 2;
        ${this.body}
      }`;
  }
}

const runRows = (backend: unknown, p: RowProgram, inputs: TensorInfo[], rows: number, d: number, eps = 0) =>
  (backend as WebgpuBackendLike).runWebGPUProgram(p, inputs, 'float32', [...i32(rows, d), ...f32(eps)]);

/** (μ, ρ) per row of s: (rows, 2); μ = 0 for RMSNorm. */
function rowStats(backend: unknown, s: TensorInfo, eps: number, centered: boolean): TensorInfo {
  const d = lastDim(s);
  const rows = sizeOf(s) / d;
  const body = `
    var a = 0.0;
    for (var k = l; k < uniforms.d; k = k + ${WG}) { a = a + S[o + k]; }
    let mean = ${centered ? 'reduce2(l, a, 0.0).x / f32(uniforms.d)' : '0.0'};
    var q = 0.0;
    for (var k = l; k < uniforms.d; k = k + ${WG}) { let c = S[o + k] - mean; q = q + c * c; }
    let v = reduce2(l, q, 0.0).x / f32(uniforms.d);
    if (valid && l == 0) {
      result[so] = mean;
      result[so + 1] = inverseSqrt(v + uniforms.eps);
    }`;
  const p = new RowProgram(`stats_${centered ? 'ln' : 'rms'}`, ['S'], [...s.shape.slice(0, -1), 2], rows, body);
  return runRows(backend, p, [s], rows, d, eps);
}

/** y = (s − μ)·ρ·g (+ b), elementwise. */
function normApply(backend: unknown, s: TensorInfo, stats: TensorInfo, g: TensorInfo, b: TensorInfo | null) {
  const d = lastDim(s);
  const body = `
    let row = t / uniforms.d;
    let k = t - row * uniforms.d;
    result[t] = (S[t] - ST[2 * row]) * ST[2 * row + 1] * G[k]${b ? ' + B[k]' : ''};`;
  const p = new LoopProgram(
    b ? 'norm_y_b' : 'norm_y',
    b ? ['S', 'ST', 'G', 'B'] : ['S', 'ST', 'G'],
    s.shape,
    sizeOf(s),
    body,
    'd : i32,',
  );
  return run(backend, p, b ? [s, stats, g, b] : [s, stats, g], i32(d));
}

function forward(centered: boolean, residual: boolean): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const ins = inputs as Record<string, TensorInfo>;
    const eps = (attrs as { eps: number }).eps;
    const x = ins['x']!;
    const s = residual
      ? run(
          backend,
          new LoopProgram('norm_add', ['X', 'R'], x.shape, sizeOf(x), 'result[t] = X[t] + R[t];', ''),
          [x, ins['r']!],
          [],
        )
      : x;
    const stats = rowStats(backend, s, eps, centered);
    const y = normApply(backend, s, stats, ins['g']!, centered ? ins['b']! : null);
    return residual ? [s, y, stats] : [y, stats];
  };
}

/** dx = ds + ρ·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·g, x̂ = (s − μ)·ρ; a workgroup per row. */
function inputGrad(backend: unknown, ins: Record<string, TensorInfo>, centered: boolean, residual: boolean) {
  const s = ins['s']!;
  const d = lastDim(s);
  const rows = sizeOf(s) / d;
  const body = `
    let mean = ST[so];
    let rstd = ST[so + 1];
    var a = 0.0;
    var b = 0.0;
    for (var k = l; k < uniforms.d; k = k + ${WG}) {
      let gh = DY[o + k] * G[k];
      a = a + gh;
      b = b + gh * (S[o + k] - mean) * rstd;
    }
    let red = reduce2(l, a, b);
    let ma = ${centered ? 'red.x / f32(uniforms.d)' : '0.0'};
    let mb = red.y / f32(uniforms.d);
    if (valid) {
      for (var k = l; k < uniforms.d; k = k + ${WG}) {
        result[o + k] = ${residual ? 'DS[o + k] + ' : ''}rstd * (DY[o + k] * G[k] - ma - (S[o + k] - mean) * rstd * mb);
      }
    }`;
  const names = [...(residual ? ['DS'] : []), 'DY', 'S', 'G', 'ST'];
  const p = new RowProgram(`dx_${centered ? 'ln' : 'rms'}${residual ? '_res' : ''}`, names, s.shape, rows, body);
  const tensors = [...(residual ? [ins['ds']!] : []), ins['dy']!, s, ins['g']!, ins['stats']!];
  return runRows(backend, p, tensors, rows, d);
}

/** dg (and db): the column sums of dy·x̂ (and dy), x̂ = (s − μ)·ρ. */
function paramGrads(backend: unknown, ins: Record<string, TensorInfo>, centered: boolean): TensorInfo[] {
  const s = ins['s']!;
  const d = lastDim(s);
  const dg = 'DY[i] * (S[i] - ST[2 * r]) * ST[2 * r + 1]';
  const terms = centered ? [dg, 'DY[i]'] : [dg];
  const key = centered ? 'norm_dg_db' : 'norm_dg';
  return columnSums(backend, key, ['DY', 'S', 'ST'], [ins['dy']!, s, ins['stats']!], terms, sizeOf(s) / d, d);
}

function backward(centered: boolean, residual: boolean): KernelFunc {
  return ({ inputs, backend }) => {
    const ins = inputs as Record<string, TensorInfo>;
    return [inputGrad(backend, ins, centered, residual), ...paramGrads(backend, ins, centered)];
  };
}

/**
 * The WGSL fused-norm kernels for registerWebgpuFusedKernels: [kernel name, kernel] pairs.
 *
 * @example
 * ```ts
 * for (const [kernelName, kernelFunc] of webgpuNormKernels()) registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
 * ```
 */
export function webgpuNormKernels(): Array<[string, KernelFunc]> {
  return [
    [FUSED_KERNELS.layerNorm, forward(true, false)],
    [FUSED_KERNELS.layerNormGrad, backward(true, false)],
    [FUSED_KERNELS.rmsNorm, forward(false, false)],
    [FUSED_KERNELS.rmsNormGrad, backward(false, false)],
    [FUSED_KERNELS.addLayerNorm, forward(true, true)],
    [FUSED_KERNELS.addLayerNormGrad, backward(true, true)],
    [FUSED_KERNELS.addRmsNorm, forward(false, true)],
    [FUSED_KERNELS.addRmsNormGrad, backward(false, true)],
  ];
}
