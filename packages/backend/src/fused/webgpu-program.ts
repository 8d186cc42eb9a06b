/**
 * The shared shape of altar's WGSL programs for tfjs-backend-webgpu: a grid-stride loop over independent
 * work items, uniforms typed as tfjs passes them, and `run` to dispatch one.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';

export type Uniform = { type: 'float32' | 'int32'; data: number[] };

export interface WebgpuBackendLike {
  runWebGPUProgram(program: unknown, inputs: TensorInfo[], dtype: 'float32', uniforms?: Uniform[]): TensorInfo;
}

const WG = 64;
/** At most this many workgroups; threads loop with a grid stride past it (WebGPU caps a dimension at 65535). */
const MAX_GROUPS = 4096;

/**
 * A program over `threads` independent work items (elements, rows or columns), with a grid-stride loop.
 * Sizes reach the shader only as uniforms (threads, stride), so one compiled pipeline serves every size:
 * a stride baked into the text once made decode compile two shaders per token as its cache grew.
 */
export class LoopProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [WG, 1, 1];
  readonly uniforms: string;
  readonly size = true;
  /** Threads in the grid (workgroups × 64): the loop's step, passed as a uniform. */
  readonly stride: number;

  constructor(
    name: string,
    inputs: string[],
    outputShape: number[],
    readonly threads: number,
    private readonly body: string,
    uniforms: string,
  ) {
    this.variableNames = inputs;
    this.outputShape = outputShape;
    this.uniforms = `threads : i32, stride : i32, ${uniforms}`;
    const groups = Math.max(1, Math.min(MAX_GROUPS, Math.ceil(threads / WG)));
    this.dispatch = [groups, 1, 1];
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.stride = groups * WG;
    // Everything baked into the WGSL text is in the key (tfjs adds the ranks and dtypes): the name says which
    // body; sizes are uniforms.
    this.shaderKey = `altar_${name}`;
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        for (var t = index; t < uniforms.threads; t = t + uniforms.stride) {
          ${this.body}
        }
      }`;
  }
}

export function run(backend: unknown, program: LoopProgram, inputs: TensorInfo[], uniforms: Uniform[]): TensorInfo {
  return (backend as WebgpuBackendLike).runWebGPUProgram(program, inputs, 'float32', [
    ...i32(program.threads, program.stride),
    ...uniforms,
  ]);
}

export const f32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'float32', data: [d] }));
export const i32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'int32', data: [d] }));
export const lastDim = (t: TensorInfo): number => t.shape[t.shape.length - 1] ?? 1;
export const sizeOf = (t: TensorInfo): number => tf.util.sizeFromShape(t.shape);
