/**
 * Domain errors carry a stable `code` so callers (the CLI, the playground) can react to the kind of
 * failure without parsing messages. Every altar package throws subclasses of `AltarError`.
 *
 * @example
 * ```ts
 * if (e instanceof AltarError && e.code === 'BAD_TIME') retryWithSmallerT(); // a time out of range
 * ALTAR_ERROR_CODES.includes('BAD_CONFIG'); // true
 * ```
 */
export const ALTAR_ERROR_CODES = [
  // arguments, configs and data given to a function
  'BAD_ARG',
  'BAD_CONFIG',
  'BAD_SHAPE',
  /** a time t, a step t or a step count T out of range */
  'BAD_TIME',
  'BAD_TOKEN',
  'BAD_POSITION',
  'BAD_SEED',
  'BAD_SCHEDULE',
  'BAD_PREDICTION',
  'BAD_PATH',
  'BAD_PNG',
  'SEQ_TOO_LONG',
  'UNKNOWN_TOKEN',
  'UNKNOWN_CHAR',
  'UNKNOWN_REQUEST',
  'EMPTY_STREAM',
  'IMPOSSIBLE_PREFIX',
  'IMPOSSIBLE_OBSERVATION',
  // models, weights and checkpoints
  'BAD_MODEL',
  'BAD_WEIGHTS',
  'BAD_INIT',
  'BAD_CHECKPOINT',
  'BAD_SAFETENSORS',
  'DUPLICATE_PARAM',
  'NO_MODEL',
  'NO_STEP',
  'NOT_FOUND',
  // running
  /** a NaN or ±Infinity loss or gradient */
  'NON_FINITE',
  'TENSOR_LEAK',
  'NO_BACKEND',
  'BACKEND_UNAVAILABLE',
  'MISSING_DEPENDENCY',
] as const;
/**
 * Every code an AltarError may carry (CONVENTIONS.md, "Errors").
 *
 * @example
 * ```ts
 * function retryable(code: AltarErrorCode): boolean {
 *   return code === 'BACKEND_UNAVAILABLE';
 * }
 * ```
 */
export type AltarErrorCode = (typeof ALTAR_ERROR_CODES)[number];

/**
 * The base of every error altar throws: a stable `code` to branch on, and a message that names the operation and
 * the offending value.
 *
 * @example
 * ```ts
 * try {
 *   d3pmBetas('jsd', 0);
 * } catch (e) {
 *   if (e instanceof AltarError) console.error(e.code, e.message); // BAD_TIME d3pmBetas: T must be a positive integer, got 0
 * }
 * ```
 */
export class AltarError extends Error {
  readonly code: AltarErrorCode;
  constructor(code: AltarErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A backend that was asked for by name could not start. The message says why and what to install.
 *
 * @example
 * ```ts
 * try {
 *   await initBackend('webgpu');
 * } catch (e) {
 *   if (e instanceof BackendUnavailableError) await initBackend('wasm'); // the caller decides, never a silent fallback
 * }
 * ```
 */
export class BackendUnavailableError extends AltarError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
    this.backend = backend;
  }
}

/**
 * A config or argument failed validation at a boundary. `path` names the offending key.
 *
 * @example
 * ```ts
 * try {
 *   resolveTrainConfig({ lr: -1 }, 'run.train');
 * } catch (e) {
 *   if (e instanceof ConfigError) console.error(e.path); // 'run.train.lr'
 * }
 * ```
 */
export class ConfigError extends AltarError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('BAD_CONFIG', path ? `${path}: ${message}` : message);
    this.path = path;
  }
}

/**
 * Tensors were left allocated by code that should have freed them.
 *
 * @example
 * ```ts
 * await expectNoLeaks(() => { tf.ones([2]); }); // throws TensorLeakError: 1 tensor left behind
 * ```
 */
export class TensorLeakError extends AltarError {
  constructor(message: string) {
    super('TENSOR_LEAK', message);
  }
}
