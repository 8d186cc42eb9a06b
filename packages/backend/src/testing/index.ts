/**
 * Test helpers (`@altar/backend/testing`): which backends to run a suite on, and a helper that
 * switches to one. Test runners stay out of this module: use with describe.each / it.each.
 *
 * @module @altar/backend/testing
 */
import { envVar } from '../env.js';
import { initBackend, requiredBackends } from '../init.js';
import type { BackendInfo, BackendName } from '../init-types.js';

export { expectNoLeaks, memoryGuard } from '../memory.js';
export {
  fuzzSafetensors,
  verifyDecoded,
  type FuzzFailure,
  type SafetensorsFuzzOptions,
  type SafetensorsFuzzReport,
} from './safetensors-fuzz.js';
export { SAFETENSORS_MUTATIONS, mutateSafetensors, type SafetensorsMutation } from './safetensors-mutations.js';

const cache = new Map<BackendName, Promise<BackendInfo | Error>>();

/**
 * Options of {@link useBackend}.
 *
 * @example
 * ```ts
 * const info = await useBackend('webgpu', { optional: true } satisfies UseBackendOptions);
 * ```
 */
export interface UseBackendOptions {
  /**
   * When the backend cannot start here, resolve to null instead of throwing, so the suite can skip
   * itself. Mark a suite optional only for a backend a machine may legitimately lack (WebGPU without
   * a Vulkan driver). A backend listed in ALTAR_REQUIRE_BACKENDS throws even when optional.
   */
  optional?: boolean;
}

/**
 * Start `name` (once per process) and make it the current backend, for a suite named after it.
 * A backend that cannot start is an error naming the reason (never a silent run on another backend),
 * unless the call is marked `{ optional: true }`: then it resolves to null and the suite should skip.
 *
 * @example
 * ```ts
 * import { testBackends, useBackend } from '@altar/backend/testing';
 * describe.each(testBackends())('softmax on %s', (name) => {
 *   it('sums to one', async () => {
 *     await useBackend(name); // throws if `name` cannot start
 *     // ... tensor code under test
 *   });
 * });
 * // WebGPU only where the machine has it:
 * it('webgpu', async (ctx) => { if (!(await useBackend('webgpu', { optional: true }))) ctx.skip(); });
 * ```
 */
export function useBackend(name: BackendName): Promise<BackendInfo>;
export function useBackend(name: BackendName, opts: UseBackendOptions): Promise<BackendInfo | null>;
export async function useBackend(name: BackendName, opts: UseBackendOptions = {}): Promise<BackendInfo | null> {
  const started = cache.get(name);
  if (started) {
    const r = await started;
    if (r instanceof Error) return failed(name, r, opts);
    return initBackend(name); // switch back to it (cheap once started)
  }
  // A failure is remembered, so later calls report the same reason without retrying.
  const p = initBackend(name).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  cache.set(name, p);
  const r = await p;
  return r instanceof Error ? failed(name, r, opts) : r;
}

function failed(name: BackendName, error: Error, opts: UseBackendOptions): null {
  if (opts.optional && !requiredBackends().includes(name)) return null;
  throw error;
}

/**
 * Backends a test file should cover: ALTAR_BACKENDS (comma list) if set, else cpu and wasm.
 * WebGPU (SwiftShader here) is slow, so suites opt into it through ALTAR_BACKENDS or by listing it.
 *
 * @example
 * ```ts
 * describe.each(testBackends())('layer norm on %s', (name) => { … });                 // cpu, wasm (or ALTAR_BACKENDS)
 * describe.each(testBackends(['cpu', 'wasm', 'webgpu']))('kernels on %s', (name) => { … });
 * ```
 */
export function testBackends(defaults: BackendName[] = ['cpu', 'wasm']): BackendName[] {
  const v = envVar('ALTAR_BACKENDS');
  if (!v) return defaults;
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as BackendName[];
}
