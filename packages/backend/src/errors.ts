/**
 * Domain errors carry a stable `code` so callers (the CLI, the playground) can react to the kind of
 * failure without parsing messages. Every altar package throws subclasses of `AltarError`.
 */
export class AltarError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A backend that was asked for by name could not start. The message says why and what to install. */
export class BackendUnavailableError extends AltarError {
  readonly backend: string;
  constructor(backend: string, message: string, options?: { cause?: unknown }) {
    super('BACKEND_UNAVAILABLE', message, options);
    this.backend = backend;
  }
}

/** A config or argument failed validation at a boundary. `path` names the offending key. */
export class ConfigError extends AltarError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('BAD_CONFIG', path ? `${path}: ${message}` : message);
    this.path = path;
  }
}

/** Tensors were left allocated by code that should have freed them. */
export class TensorLeakError extends AltarError {
  constructor(message: string) {
    super('TENSOR_LEAK', message);
  }
}
