/**
 * Column sums for the backward passes of the WGSL kernels (a bias's or a gain's gradient): Σ over the rows
 * of a (rows, d) per-element term, in two passes so that a tall matrix still keeps the GPU busy:
 *   1. partial sums over chunks of rows: a thread per (column, chunk), all terms at once → (chunks, K, d)
 *   2. a thread per column sums the chunks of one term → (d), one dispatch per term
 * A term is a WGSL expression over the program's inputs, indexed by `i` (the element, r·d + col) and `r`
 * (the row), e.g. `DY[i] * X[i]`.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { i32, LoopProgram, run, type WebgpuBackendLike } from './webgpu-program.js';

const WG = 64;
/** At most this many row chunks (the partial buffer is chunks × K × d). */
const MAX_CHUNKS = 512;
/** At least this many rows per chunk. */
const MIN_CHUNK = 32;

class ColumnPartialProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly uniforms = 'rows : i32, d : i32, chunk : i32,';

  constructor(
    key: string,
    names: string[],
    private readonly terms: string[],
    d: number,
    chunks: number,
  ) {
    this.variableNames = names;
    this.outputShape = [chunks, terms.length, d];
    this.dispatch = [Math.ceil(d / WG), chunks, 1];
    this.shaderKey = `altar_colpart_${key}`;
  }

  getUserCode(): string {
    const k = this.terms.length;
    const decl = this.terms.map((_, j) => `var a${j} = 0.0;`).join('\n');
    const acc = this.terms.map((term, j) => `a${j} = a${j} + ${term};`).join('\n');
    const write = this.terms.map((_, j) => `result[(${k} * c + ${j}) * uniforms.d + col] = a${j};`).join('\n');
    return `
      fn main(index : i32) {
        let col = i32(workgroupId.x) * ${WG} + i32(localIndex);
        let c = i32(workgroupId.y);
        if (col < uniforms.d) {
          ${decl}
          let end = min(uniforms.rows, (c + 1) * uniforms.chunk);
          for (var r = c * uniforms.chunk; r < end; r = r + 1) {
            let i = r * uniforms.d + col;
            ${acc}
          }
          ${write}
        }
      }`;
  }
}

/**
 * Σ over rows of each term (a WGSL expression of `i` = r·d + col and `r`) over the inputs bound as `names`:
 * one (d) tensor per term. `key` names the terms in the shader cache: equal keys must mean equal terms.
 *
 * @example
 * ```ts
 * const [db] = columnSums(backend, 'gelu_db', ['M'], [dx], ['M[i]'], rows, d);
 * ```
 */
export function columnSums(
  backend: unknown,
  key: string,
  names: string[],
  inputs: TensorInfo[],
  terms: string[],
  rows: number,
  d: number,
): TensorInfo[] {
  const chunk = Math.max(MIN_CHUNK, Math.ceil(rows / MAX_CHUNKS));
  const chunks = Math.max(1, Math.ceil(rows / chunk));
  const be = backend as WebgpuBackendLike & { disposeData(id: object): void };
  const parts = be.runWebGPUProgram(
    new ColumnPartialProgram(key, names, terms, d, chunks),
    inputs,
    'float32',
    i32(rows, d, chunk),
  );
  const k = terms.length;
  const body = `
    var acc = 0.0;
    for (var c = 0; c < uniforms.chunks; c = c + 1) { acc = acc + P[(${k} * c + uniforms.which) * uniforms.d + t]; }
    result[t] = acc;`;
  try {
    return terms.map((_, which) =>
      run(
        backend,
        new LoopProgram(`colsum_${k}`, ['P'], [d], d, body, 'd : i32, chunks : i32, which : i32,'),
        [parts],
        i32(d, chunks, which),
      ),
    );
  } finally {
    be.disposeData(parts.dataId);
  }
}
