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

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend that `splitFlat` records copies through. */
interface CopyInternals {
  makeTensorInfo(shape: number[], dtype: 'float32'): TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorMap: { get(dataId: object): { resource?: unknown } | undefined };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  commandEncoder: { copyBufferToBuffer(s: unknown, so: number, d: unknown, dO: number, n: number): void } | null;
  commandQueueOwnedIds: WeakSet<object>;
  disposeData(dataId: object): void;
}

const COPY_METHODS = [
  'makeTensorInfo',
  'uploadToGPU',
  'ensureCommandEncoderReady',
  'endComputePassEncoder',
  'disposeData',
];

/** `backend` as CopyInternals, or an error naming what this tfjs-backend-webgpu lacks (altar pins 4.22.0). */
function copyInternals(backend: unknown): CopyInternals {
  const b = backend as Record<string, unknown>;
  const missing = COPY_METHODS.filter((m) => typeof b[m] !== 'function');
  if (typeof (b['tensorMap'] as { get?: unknown } | undefined)?.get !== 'function') missing.push('tensorMap');
  if (!(b['commandQueueOwnedIds'] instanceof WeakSet)) missing.push('commandQueueOwnedIds');
  if (missing.length > 0) {
    throw new Error(`splitFlat: this tfjs-backend-webgpu lacks ${missing.join(', ')} (altar is built on 4.22.0)`);
  }
  return backend as CopyInternals;
}

/**
 * Split a float32 `packed` (any shape; read flat) into consecutive tensors of `shapes`, whose sizes must sum to
 * its size, and dispose `packed`. A program that writes several results into one buffer, block after block,
 * then costs one dispatch: the parts are buffer-to-buffer copies recorded in the backend's command stream (no
 * dispatch, no bind group; those cost the host far more than a copy costs the GPU). `packed`'s buffer returns to
 * the pool once the queue is submitted, as tfjs does for every buffer a queued command reads. Needs
 * tfjs-backend-webgpu 4.22's internals (the version altar pins), and says which are missing otherwise.
 */
export function splitFlat(backend: unknown, packed: TensorInfo, shapes: number[][]): TensorInfo[] {
  const total = shapes.reduce((s, sh) => s + tf.util.sizeFromShape(sh), 0);
  if (total !== sizeOf(packed)) {
    throw new Error(`splitFlat: parts of ${total} elements do not tile a packed tensor of ${sizeOf(packed)}`);
  }
  const b = copyInternals(backend);
  const src = b.tensorMap.get(packed.dataId)?.resource;
  const outs = shapes.map((sh) => b.makeTensorInfo(sh, 'float32'));
  for (const o of outs) b.uploadToGPU(o.dataId);
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder(); // copies are recorded outside compute passes
  let offset = 0;
  for (const o of outs) {
    const bytes = 4 * sizeOf(o);
    if (bytes > 0) b.commandEncoder!.copyBufferToBuffer(src, offset, b.tensorMap.get(o.dataId)?.resource, 0, bytes);
    offset += bytes;
    b.commandQueueOwnedIds.add(o.dataId);
  }
  b.commandQueueOwnedIds.add(packed.dataId);
  b.disposeData(packed.dataId);
  return outs;
}

export const f32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'float32', data: [d] }));
export const i32 = (...data: number[]): Uniform[] => data.map((d) => ({ type: 'int32', data: [d] }));
export const lastDim = (t: TensorInfo): number => t.shape[t.shape.length - 1] ?? 1;
export const sizeOf = (t: TensorInfo): number => tf.util.sizeFromShape(t.shape);
