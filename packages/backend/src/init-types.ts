/**
 * The vocabulary of the backend adapter in init.ts: the backend names `initBackend` accepts, what it reports
 * about the backend it started, and its options.
 */
import type { Logger } from './logger.js';

/**
 * Every value `initBackend` accepts: 'auto' and the backend names.
 *
 * @example
 * ```ts
 * BACKEND_CHOICES.includes('webgpu'); // true
 * ```
 */
export const BACKEND_CHOICES = ['auto', 'cuda', 'webgpu', 'webgl', 'wasm', 'cpu'] as const;
/**
 * A backend to ask for: 'auto' (the runtime's best available) or one by name.
 *
 * @example
 * ```ts
 * const choice: BackendChoice = parseBackendChoice(process.argv[2] ?? 'auto');
 * await initBackend(choice);
 * ```
 */
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
/**
 * A concrete backend: 'cuda' (tfjs-node-gpu), 'webgpu', 'webgl', 'wasm' or 'cpu'.
 *
 * @example
 * ```ts
 * const name: BackendName = (await initBackend('auto')).name;
 * ```
 */
export type BackendName = Exclude<BackendChoice, 'auto'>;

/**
 * What {@link initBackend} started: the backend, the device, whether it is a real GPU, its float precision, and why
 * it was chosen.
 *
 * @example
 * ```ts
 * const info: BackendInfo = await initBackend('auto');
 * const line = `${info.name} on ${info.adapter}${info.softwareFallback ? ' (software)' : ''}: ${info.reason}`;
 * ```
 */
export interface BackendInfo {
  /** altar's name for the backend. */
  name: BackendName;
  /** The name tfjs registered it under ('tensorflow' for cuda). */
  tfjsName: string;
  /** The device: GPU adapter vendor/architecture/description, or the CPU. */
  adapter: string;
  /** True when computation runs on a GPU (not SwiftShader, not a CPU backend). */
  isGpu: boolean;
  /** True when a GPU API is served by a software implementation (SwiftShader, llvmpipe). */
  softwareFallback: boolean;
  /** Bits of float precision the backend computes with (16 or 32). */
  floatPrecision: number;
  /** tfjs-core version. */
  version: string;
  /** Why this backend was chosen (and, for auto, why the ones before it were not). */
  reason: string;
  /** webgpu only: whether WGSL subgroup operations are on (see `webgpuSubgroups`). */
  subgroups?: boolean;
  /** wasm only: whether altar's matrix products use relaxed-SIMD fused multiply-adds (see `bmmUsesFma`). */
  wasmFma?: boolean;
}

/**
 * Options of {@link initBackend}: where to log the choice, and extra Dawn toggles for WebGPU in Node.
 *
 * @example
 * ```ts
 * await initBackend('webgpu', { logger: consoleLogger, dawnFlags: ['backend=vulkan'] });
 * ```
 */
export interface InitOptions {
  logger?: Logger;
  /**
   * Extra Dawn flags for Node WebGPU, e.g. ['backend=vulkan'], after those of ALTAR_DAWN_FLAGS (space-separated
   * name=value flags; `backend=null` measures the host's cost alone on Dawn's null adapter).
   */
  dawnFlags?: string[];
}
