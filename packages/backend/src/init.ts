/**
 * The backend adapter: `initBackend(choice)` picks and starts a tfjs backend, registers the kernels
 * and gradients it lacks, and describes what it got.
 *
 * Node `auto` order: cuda (optional peer @tensorflow/tfjs-node-gpu) → webgpu (optional peer `webgpu`,
 * Dawn; real GPUs through Vulkan, SwiftShader in tests) → wasm (the CPU default) → cpu.
 * Browser `auto` order: webgpu → webgl → wasm → cpu.
 * A backend asked for by name that cannot start throws BackendUnavailableError: never a silent fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { envVar, isNode } from './env.js';
import { registerHostFallbackKernels } from './kernels/host-fallback.js';
import { registerWasmFastPaths } from './kernels/wasm-fast-paths.js';
import { registerFusedKernels } from './fused/ops.js';
import { registerWebgpuFixes } from './kernels/webgpu-fixes.js';
import { silentLogger, type Logger } from './logger.js';

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
 * console.log(`${info.name} on ${info.adapter}${info.softwareFallback ? ' (software)' : ''}: ${info.reason}`);
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
  /** Extra Dawn toggles for Node WebGPU, e.g. ['backend=vulkan']. */
  dawnFlags?: string[];
}

let current: BackendInfo | null = null;
const fallbackKernels: Record<string, string[]> = {};

/**
 * Kernels that `backend` runs through the host (cpu) fallback because it has no native version.
 *
 * @example
 * ```ts
 * await initBackend('wasm');
 * hostFallbackKernels('wasm'); // ['UnsortedSegmentSum', 'Conv2DBackpropFilter', …]
 * ```
 */
export function hostFallbackKernels(backend: BackendName): readonly string[] {
  return fallbackKernels[backend] ?? [];
}

/**
 * The BackendInfo of the last successful initBackend, or null.
 *
 * @example
 * ```ts
 * currentBackend()?.name; // e.g. 'wasm', or undefined before initBackend
 * ```
 */
export function currentBackend(): BackendInfo | null {
  return current;
}

/**
 * Check a string (a CLI flag, a URL parameter) against {@link BACKEND_CHOICES}; throws ConfigError naming the
 * allowed values.
 *
 * @example
 * ```ts
 * parseBackendChoice('wasm');  // 'wasm'
 * parseBackendChoice('metal'); // throws ConfigError: unknown backend 'metal'; expected one of auto, cuda, …
 * ```
 */
export function parseBackendChoice(value: string): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new ConfigError('backend', `unknown backend '${value}'; expected one of ${BACKEND_CHOICES.join(', ')}`);
}

interface Attempt {
  info?: BackendInfo;
  error?: string;
}

async function importOptional(name: string): Promise<unknown> {
  // A variable specifier keeps bundlers from trying to resolve optional peers at build time.
  const spec = name;
  return import(/* @vite-ignore */ spec);
}

function describeError(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

async function activate(tfjsName: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(tfjsName);
    if (!ok) return false;
    await tf.ready();
    return tf.getBackend() === tfjsName;
  } catch {
    return false;
  }
}

function describeInfo(
  name: BackendName,
  tfjsName: string,
  adapter: string,
  isGpu: boolean,
  softwareFallback: boolean,
  reason: string,
): BackendInfo {
  return {
    name,
    tfjsName,
    adapter,
    isGpu,
    softwareFallback,
    floatPrecision: tf.backend().floatPrecision(),
    version: tf.version_core,
    reason,
  };
}

function cpuDescription(): string {
  if (isNode) {
    return `${process.platform}-${process.arch} CPU (Node ${process.version})`;
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return `browser CPU (${nav?.hardwareConcurrency ?? '?'} threads)`;
}

async function tryCpu(): Promise<Attempt> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await activate('cpu'))) return { error: 'the cpu backend did not start' };
  // The cpu backend prints a "use tfjs-node" banner on first use in Node; altar decides what to print.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { info: describeInfo('cpu', 'cpu', cpuDescription(), false, false, 'reference JavaScript backend') };
}

async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-wasm failed to load: ${describeError(e)}` };
  }
  // wasm lacks UnsortedSegmentSum (gather's gradient), Conv2DBackpropFilter, depthwise backprop and
  // more: fill every kernel the cpu backend has with a host fallback that runs the cpu kernel.
  await import('@tensorflow/tfjs-backend-cpu');
  registerWasmFastPaths();
  fallbackKernels.wasm = registerHostFallbackKernels('wasm');
  if (!(await activate('wasm'))) return { error: 'the wasm backend failed to initialise (is WebAssembly available?)' };
  return {
    info: describeInfo(
      'wasm',
      'wasm',
      `${cpuDescription()} via WebAssembly SIMD`,
      false,
      false,
      'WebAssembly on the CPU',
    ),
  };
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  requestAdapterInfo?: () => Promise<{ vendor?: string; architecture?: string; device?: string; description?: string }>;
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}

async function nodeGpu(flags: string[]): Promise<GpuLike> {
  const g = globalThis as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  let mod: { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
  try {
    mod = (await importOptional('webgpu')) as typeof mod;
  } catch (e) {
    throw new Error(
      `the optional peer 'webgpu' (Dawn for Node) is not installed: run \`npm install webgpu\` (${describeError(e)})`,
    );
  }
  Object.assign(globalThis, mod.globals);
  const gpu = mod.create(flags);
  const nav = (g.navigator ?? {}) as { gpu?: GpuLike };
  try {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
  } catch {
    /* a read-only navigator: fall through to replacing it */
  }
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  return gpu;
}

async function tryWebgpu(flags: string[]): Promise<Attempt> {
  let gpu: GpuLike;
  try {
    if (isNode) gpu = await nodeGpu(flags);
    else {
      const g = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
      if (!g) return { error: 'this browser exposes no navigator.gpu (WebGPU is off or unsupported)' };
      gpu = g;
    }
  } catch (e) {
    return { error: describeError(e) };
  }
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { error: `requestAdapter failed: ${describeError(e)}` };
  }
  if (!adapter) {
    const hint = isNode
      ? ' In Node, Dawn needs a Vulkan driver: on Linux install the loader (Debian: libvulkan1) and a GPU driver, or for a software adapter install chromium and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.'
      : '';
    return { error: `no WebGPU adapter was found.${hint}` };
  }
  let ai = adapter.info;
  if (!ai && adapter.requestAdapterInfo) {
    try {
      ai = await adapter.requestAdapterInfo();
    } catch {
      ai = undefined;
    }
  }
  const parts = [ai?.vendor, ai?.architecture, ai?.device, ai?.description].filter(
    (p): p is string => !!p && p.length > 0,
  );
  const adapterText = parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
  const software = /swiftshader|llvmpipe|lavapipe|software|microsoft basic/i.test(adapterText);
  try {
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-webgpu failed to load: ${describeError(e)}` };
  }
  registerWebgpuFixes();
  if (!(await activate('webgpu')))
    return { error: `the tfjs webgpu backend failed to initialise on adapter ${adapterText}` };
  return {
    info: describeInfo(
      'webgpu',
      'webgpu',
      adapterText,
      !software,
      software,
      software ? 'WebGPU on a software adapter (correct but slow)' : 'WebGPU on a GPU',
    ),
  };
}

async function tryCuda(): Promise<Attempt> {
  if (!isNode) return { error: 'cuda is only available in Node (@tensorflow/tfjs-node-gpu)' };
  try {
    await importOptional('@tensorflow/tfjs-node-gpu');
  } catch (e) {
    return {
      error: `the optional peer @tensorflow/tfjs-node-gpu is not installed or failed to load its native binding (it needs libtensorflow with CUDA 11.2 / cuDNN 8): ${describeError(e)}`,
    };
  }
  if (!(await activate('tensorflow')))
    return { error: '@tensorflow/tfjs-node-gpu loaded but its tensorflow backend did not start' };
  return {
    info: describeInfo(
      'cuda',
      'tensorflow',
      'NVIDIA GPU via libtensorflow (CUDA)',
      true,
      false,
      'TensorFlow C library with CUDA',
    ),
  };
}

async function tryWebgl(): Promise<Attempt> {
  if (isNode) return { error: 'webgl is only available in a browser' };
  try {
    await import('@tensorflow/tfjs-backend-webgl');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-webgl failed to load: ${describeError(e)}` };
  }
  if (!(await activate('webgl'))) return { error: 'WebGL could not create a context' };
  return { info: describeInfo('webgl', 'webgl', 'WebGL', true, false, 'WebGL in the browser') };
}

function attempt(name: BackendName, options: InitOptions): Promise<Attempt> {
  switch (name) {
    case 'cpu':
      return tryCpu();
    case 'wasm':
      return tryWasm();
    case 'webgpu':
      return tryWebgpu(options.dawnFlags ?? []);
    case 'cuda':
      return tryCuda();
    case 'webgl':
      return tryWebgl();
  }
}

/**
 * The order `auto` tries, for this runtime.
 *
 * @example
 * ```ts
 * autoOrder(); // Node: ['cuda', 'webgpu', 'wasm', 'cpu']; browser: ['webgpu', 'webgl', 'wasm', 'cpu']
 * ```
 */
export function autoOrder(): BackendName[] {
  return isNode ? ['cuda', 'webgpu', 'wasm', 'cpu'] : ['webgpu', 'webgl', 'wasm', 'cpu'];
}

/**
 * Start a backend. `auto` walks autoOrder() and logs what it chose and why; a named choice that
 * cannot start throws BackendUnavailableError with the reason and what to install.
 *
 * @example
 * ```ts
 * const info = await initBackend('auto');     // the best backend this runtime has
 * await initBackend('wasm');                   // by name: throws BackendUnavailableError if it cannot start
 * ```
 */
export async function initBackend(
  choice: BackendChoice | string = 'auto',
  options: InitOptions = {},
): Promise<BackendInfo> {
  const logger = options.logger ?? silentLogger;
  const parsed = parseBackendChoice(choice);
  registerFusedKernels();
  if (parsed !== 'auto') {
    const r = await attempt(parsed, options);
    if (!r.info) throw new BackendUnavailableError(parsed, `backend '${parsed}' cannot start: ${r.error}`);
    current = r.info;
    return r.info;
  }
  const skipped: string[] = [];
  for (const name of autoOrder()) {
    const r = await attempt(name, options);
    if (r.info?.softwareFallback) {
      // A software WebGPU adapter (SwiftShader) is correct but far slower than wasm: auto passes it by.
      // Ask for 'webgpu' by name to use it anyway.
      skipped.push(`${name}: only a software adapter (${r.info.adapter}), slower than wasm`);
      continue;
    }
    if (r.info) {
      const reason = skipped.length > 0 ? `${r.info.reason}; skipped ${skipped.join('; ')}` : r.info.reason;
      current = { ...r.info, reason };
      logger.info(
        `backend: auto chose ${name} (${r.info.adapter})${skipped.length ? ` after skipping ${skipped.join('; ')}` : ''}`,
      );
      return current;
    }
    skipped.push(`${name}: ${r.error}`);
    logger.debug?.(`backend: auto skipped ${name}: ${r.error}`);
  }
  throw new BackendUnavailableError('auto', `no backend could start: ${skipped.join('; ')}`);
}

/**
 * Which backends named in ALTAR_REQUIRE_BACKENDS (comma list) the environment demands.
 *
 * @example
 * ```ts
 * // ALTAR_REQUIRE_BACKENDS=cpu,wasm,webgpu in CI:
 * requiredBackends(); // ['cpu', 'wasm', 'webgpu']
 * ```
 */
export function requiredBackends(): BackendName[] {
  const v = envVar('ALTAR_REQUIRE_BACKENDS');
  if (!v) return [];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const c = parseBackendChoice(s);
      if (c === 'auto') throw new ConfigError('ALTAR_REQUIRE_BACKENDS', 'auto is not a backend');
      return c;
    });
}
