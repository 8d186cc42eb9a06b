/**
 * The WebGPU device altar gives tfjs-backend-webgpu. tfjs creates its own device asking only for
 * 'timestamp-query' and 'bgra8unorm-storage', so WGSL's subgroup builtins (subgroupAdd, subgroupMax, …) are
 * unavailable to any program it runs. altar registers its own 'webgpu' backend factory in place of tfjs's (same
 * priority, same adapter options, features and limits) that also asks for 'subgroups' when the adapter has it
 * and ALTAR_WEBGPU_SUBGROUPS is not '0'. The fused WGSL kernels read `subgroupsOn(backend)` when they build
 * their shader text.
 */
import * as tf from '@tensorflow/tfjs-core';
import { envVar } from './env.js';
import { BackendUnavailableError } from './errors.js';

/** The parts of a GPUAdapter / GPUDevice used here (no dependency on @webgpu/types). */
interface AdapterLike {
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  info?: unknown;
  requestAdapterInfo?: () => Promise<unknown>;
  requestDevice(descriptor: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<DeviceLike>;
}
interface DeviceLike {
  features: { has(name: string): boolean };
  createShaderModule(descriptor: { code: string }): unknown;
}
type WebgpuModule = { WebGPUBackend: new (device: never, adapterInfo?: never) => tf.KernelBackend };

/** tfjs-backend-webgpu registers 'webgpu' at this priority (base.js); altar's factory keeps it. */
const TFJS_WEBGPU_PRIORITY = 3;
/** The adapter limits tfjs-backend-webgpu asks for at their adapter maximum (base.js). */
const MAX_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

/** Devices altar created with 'subgroups' on (and its `enable` hoisting in createShaderModule). */
const subgroupDevices = new WeakSet<object>();

/** ALTAR_WEBGPU_SUBGROUPS=0 keeps subgroups off even where the adapter has them. */
function subgroupsAllowed(): boolean {
  return envVar('ALTAR_WEBGPU_SUBGROUPS') !== '0';
}

const ENABLE = /^[ \t]*enable[ \t]+[A-Za-z0-9_, \t]+;[ \t]*$/gm;

/**
 * WGSL wants `enable` directives before every declaration, but tfjs places a program's code after its own
 * declarations: move each directive (once) to the start of the module.
 */
export function hoistEnableDirectives(code: string): string {
  const found = code.match(ENABLE);
  if (!found) return code;
  const directives = [...new Set(found.map((d) => d.trim()))];
  return `${directives.join('\n')}\n${code.replace(ENABLE, '')}`;
}

async function createBackend(mod: WebgpuModule): Promise<tf.KernelBackend> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o: unknown): Promise<AdapterLike | null> } } })
    .navigator?.gpu;
  const lowPower = tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU');
  const adapter = await gpu?.requestAdapter({ powerPreference: lowPower ? 'low-power' : 'high-performance' });
  if (!adapter) throw new BackendUnavailableError('webgpu', 'webgpu: requestAdapter returned no adapter');
  const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
  const subgroups = subgroupsAllowed() && adapter.features.has('subgroups');
  if (subgroups) requiredFeatures.push('subgroups');
  const requiredLimits: Record<string, number> = {};
  for (const name of MAX_LIMITS) {
    const v = adapter.limits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: DeviceLike;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    if (!subgroups) throw e;
    // An adapter that lists 'subgroups' but cannot open a device with it: start without, as tfjs would.
    device = await adapter.requestDevice({ requiredFeatures: requiredFeatures.slice(0, -1), requiredLimits });
  }
  if (subgroups && device.features.has('subgroups')) {
    const create = device.createShaderModule.bind(device);
    device.createShaderModule = (d) => create({ ...d, code: hoistEnableDirectives(d.code) });
    subgroupDevices.add(device);
  }
  const info = adapter.info ?? (adapter.requestAdapterInfo ? await adapter.requestAdapterInfo() : undefined);
  return new mod.WebGPUBackend(device as never, info as never);
}

/**
 * Register altar's 'webgpu' factory, replacing tfjs-backend-webgpu's (call after importing that module, before
 * activating 'webgpu'). A webgpu backend that already started keeps its device and nothing changes.
 */
export function registerWebgpuFactory(mod: WebgpuModule): void {
  if (tf.findBackend('webgpu')) return;
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => createBackend(mod), TFJS_WEBGPU_PRIORITY);
}

/** Whether `backend` (a tfjs webgpu backend) runs on a device altar opened with subgroups on. */
export function subgroupsOn(backend: unknown): boolean {
  const device = (backend as { device?: unknown } | null)?.device;
  return typeof device === 'object' && device !== null && subgroupDevices.has(device);
}

/**
 * Whether the started webgpu backend has WGSL subgroup operations, which altar's fused reductions (squared norms,
 * decode attention) then use: true when the adapter offers 'subgroups' and ALTAR_WEBGPU_SUBGROUPS is not '0'.
 * False when webgpu has not started. Also reported as `subgroups` in the webgpu backend's {@link BackendInfo}.
 *
 * @example
 * ```ts
 * await initBackend('webgpu');
 * const note = webgpuSubgroups() ? 'subgroup reductions' : 'workgroup-memory reductions';
 * ```
 */
export function webgpuSubgroups(): boolean {
  return subgroupsOn(tf.findBackend('webgpu'));
}
