/**
 * The per-backend start-up attempts behind `initBackend` (init.ts): load a backend's module, register the kernels
 * it lacks, activate it in tfjs and describe the device, or say why it could not start. Also keeps the record of
 * which kernels each backend runs through the host fallback.
 */
import * as tf from '@tensorflow/tfjs-core';
import { envVar, isNode } from './env.js';
import { bmmUsesFma } from './fused/bmm-wasm.js';
import { registerHostFallbackKernels } from './kernels/host-fallback.js';
import { registerWasmFastPaths } from './kernels/wasm-fast-paths.js';
import { registerWebgpuFixes } from './kernels/webgpu-fixes.js';
import type { BackendInfo, BackendName, InitOptions } from './init-types.js';
import { registerWebgpuFactory, webgpuSubgroups } from './webgpu-device.js';

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

export interface Attempt {
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

/**
 * Node 20's V8 has relaxed SIMD (the fused multiply-add of fused/bmm-wasm.ts) behind a flag that later
 * versions turn on by default; turn it on here unless ALTAR_WASM_FMA=0. It only adds WebAssembly opcodes.
 */
async function enableRelaxedSimd(): Promise<void> {
  if (!isNode || envVar('ALTAR_WASM_FMA') === '0') return;
  try {
    const name = 'node:v8'; // a variable, so that browser bundlers leave it alone
    const v8 = (await import(/* @vite-ignore */ name)) as { setFlagsFromString(flags: string): void };
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // not Node's V8: the products run without fused multiply-adds
  }
}

async function tryWasm(): Promise<Attempt> {
  await enableRelaxedSimd();
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
  const fma = envVar('ALTAR_FUSED') !== '0' && bmmUsesFma(); // ALTAR_FUSED=0: XNNPACK's products
  return {
    info: {
      ...describeInfo(
        'wasm',
        'wasm',
        `${cpuDescription()} via WebAssembly SIMD${fma ? ' (FMA)' : ''}`,
        false,
        false,
        'WebAssembly on the CPU',
      ),
      wasmFma: fma,
    },
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

/**
 * ALTAR_DAWN_FLAGS: Dawn flags for Node WebGPU, separated by spaces, e.g. `backend=null` (Dawn's null adapter:
 * every command is validated and dropped, so a run measures the host's cost alone) or
 * `enable-dawn-features=skip_validation`. Each must read name=value.
 */
function dawnFlagsFromEnv(): string[] {
  const raw = envVar('ALTAR_DAWN_FLAGS')?.trim();
  if (!raw) return [];
  const flags = raw.split(/\s+/);
  const bad = flags.find((f) => !/^[A-Za-z0-9_-]+=\S+$/.test(f));
  if (bad !== undefined) throw new Error(`ALTAR_DAWN_FLAGS: each flag must read name=value, got '${bad}' in '${raw}'`);
  return flags;
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
  // Dawn's null adapter runs nothing: results are garbage, only the host-side cost is real.
  const nullAdapter = /null-backend/i.test(adapterText);
  try {
    registerWebgpuFactory(await import('@tensorflow/tfjs-backend-webgpu'));
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-webgpu failed to load: ${describeError(e)}` };
  }
  registerWebgpuFixes();
  if (!(await activate('webgpu')))
    return { error: `the tfjs webgpu backend failed to initialise on adapter ${adapterText}` };
  return {
    info: {
      ...describeInfo(
        'webgpu',
        'webgpu',
        adapterText,
        !software && !nullAdapter,
        software,
        nullAdapter
          ? "WebGPU on Dawn's null adapter: commands are validated and dropped (host cost only, results are garbage)"
          : software
            ? 'WebGPU on a software adapter (correct but slow)'
            : 'WebGPU on a GPU',
      ),
      subgroups: webgpuSubgroups(),
    },
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

export function attempt(name: BackendName, options: InitOptions): Promise<Attempt> {
  switch (name) {
    case 'cpu':
      return tryCpu();
    case 'wasm':
      return tryWasm();
    case 'webgpu':
      return tryWebgpu([...dawnFlagsFromEnv(), ...(options.dawnFlags ?? [])]);
    case 'cuda':
      return tryCuda();
    case 'webgl':
      return tryWebgl();
  }
}
