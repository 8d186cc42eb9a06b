/**
 * Test helpers (`@altar/backend/testing`): which backends to run a suite on, and a helper that
 * switches to one. Test runners stay out of this module: use with describe.each / it.each.
 */
import { envVar } from '../env.js';
import { initBackend, requiredBackends, type BackendInfo, type BackendName } from '../init.js';

export { expectNoLeaks, memoryGuard } from '../memory.js';

const cache = new Map<BackendName, Promise<BackendInfo | null>>();

/** Start `name` (once per process) and make it current; null when it is unavailable here. */
export async function useBackend(name: BackendName): Promise<BackendInfo | null> {
  let p = cache.get(name);
  if (!p) {
    p = initBackend(name).catch((e: unknown) => {
      if (requiredBackends().includes(name)) throw e;
      return null;
    });
    cache.set(name, p);
    return p;
  }
  const info = await p;
  if (info) await initBackend(name); // switch back to it (cheap once started)
  return info;
}

/**
 * Backends a test file should cover: ALTAR_BACKENDS (comma list) if set, else cpu and wasm.
 * WebGPU (SwiftShader here) is slow, so suites opt into it through ALTAR_BACKENDS or by listing it.
 */
export function testBackends(defaults: BackendName[] = ['cpu', 'wasm']): BackendName[] {
  const v = envVar('ALTAR_BACKENDS');
  if (!v) return defaults;
  return v.split(',').map((s) => s.trim()).filter(Boolean) as BackendName[];
}
