/**
 * Parameter ownership: every model owns one `ParamStore` (name → tf.Variable). Layers register their
 * weights in it under a dotted prefix ("blocks.0.attn.wqkv") and keep direct references, so the whole
 * model can be counted, listed for an optimizer, saved to safetensors and disposed in one place.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, type Rng } from '@altar/backend';

/**
 * How {@link ParamStore.add} initialises a parameter: normal, uniform, zeros, ones or given values.
 *
 * @example
 * ```ts
 * store.add('w', [64, 64], { kind: 'normal', std: 0.02 });
 * store.add('g', [64], { kind: 'ones' });
 * ```
 */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; lo: number; hi: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'values'; values: Float32Array };

/**
 * Owns a model's Variables by name, initialised from a seeded {@link Rng}: the names checkpoints use.
 *
 * @example
 * ```ts
 * const store = new ParamStore(new Rng(0));
 * const w = store.add('proj.w', [4, 4], { kind: 'normal', std: 0.5 });
 * store.count(); // 16
 * store.dispose();
 * ```
 */
export class ParamStore {
  private readonly vars = new Map<string, tf.Variable>();
  constructor(readonly rng: Rng) {}

  /** Create and register a float32 trainable variable. */
  add(name: string, shape: number[], init: Init): tf.Variable {
    if (this.vars.has(name))
      throw new AltarError('DUPLICATE_PARAM', `ParamStore.add: parameter '${name}' already exists`);
    const size = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    switch (init.kind) {
      case 'normal':
        data = this.rng.normalArray(size, 0, init.std);
        break;
      case 'uniform':
        data = this.rng.uniformArray(size, init.lo, init.hi);
        break;
      case 'zeros':
        data = new Float32Array(size);
        break;
      case 'ones':
        data = new Float32Array(size).fill(1);
        break;
      case 'values':
        if (init.values.length !== size) {
          throw new AltarError(
            'BAD_INIT',
            `ParamStore.add('${name}'): ${init.values.length} values for shape [${shape}]`,
          );
        }
        data = init.values;
        break;
    }
    const v = tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true, `${name}_${uid()}`));
    this.vars.set(name, v);
    return v;
  }

  names(): string[] {
    return [...this.vars.keys()];
  }
  variables(): tf.Variable[] {
    return [...this.vars.values()];
  }
  get(name: string): tf.Variable | undefined {
    return this.vars.get(name);
  }
  count(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }
  /** The live variables by name (do not dispose them). */
  weights(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.vars);
  }
  /**
   * Copy values into the variables; every name must exist with the same shape and dtype, and all must be
   * given. Nothing is cast: an int32 tensor for a float32 parameter (a checkpoint entry relabelled I32 or
   * U32) is a `BAD_WEIGHTS` error naming the parameter and both dtypes, checked before any variable changes.
   */
  setWeights(map: Record<string, tf.Tensor>): void {
    const given = Object.keys(map);
    for (const name of given) {
      if (!this.vars.has(name)) throw new AltarError('BAD_WEIGHTS', `setWeights: unknown parameter '${name}'`);
    }
    for (const [name, v] of this.vars) {
      const t = map[name];
      if (!t) throw new AltarError('BAD_WEIGHTS', `setWeights: missing parameter '${name}'`);
      if (!tf.util.arraysEqual(t.shape, v.shape)) {
        throw new AltarError('BAD_WEIGHTS', `setWeights: '${name}' has shape [${t.shape}], expected [${v.shape}]`);
      }
      if (t.dtype !== v.dtype) {
        throw new AltarError('BAD_WEIGHTS', `setWeights: '${name}' has dtype ${t.dtype}, expected ${v.dtype}`);
      }
    }
    for (const [name, v] of this.vars) v.assign(map[name] as tf.Tensor);
  }
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

let counter = 0;
/** tfjs variable names are global; a process-wide counter keeps two models from colliding. */
function uid(): number {
  return ++counter;
}

/** tf.tidy for results whose tensors sit in typed objects (states, caches); tidy keeps every tensor it finds. */
export function tidyObj<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
