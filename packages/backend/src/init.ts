/**
 * The backend adapter: `initBackend(choice)` picks and starts a tfjs backend, registers the kernels
 * and gradients it lacks, and describes what it got.
 *
 * Node `auto` order: cuda (optional peer @tensorflow/tfjs-node-gpu) → webgpu (optional peer `webgpu`,
 * Dawn; real GPUs through Vulkan, SwiftShader in tests) → wasm (the CPU default) → cpu.
 * Browser `auto` order: webgpu → webgl → wasm → cpu.
 * A backend asked for by name that cannot start throws BackendUnavailableError: never a silent fallback.
 */
import './gradients.js';
import { BackendUnavailableError, ConfigError } from './errors.js';
import { envVar, isNode } from './env.js';
import { registerFusedKernels } from './fused/ops.js';
import { attempt } from './init-attempts.js';
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  type InitOptions,
} from './init-types.js';
import { silentLogger } from './logger.js';

let current: BackendInfo | null = null;

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
