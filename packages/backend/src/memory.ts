/** Memory guards: a leak is a bug, so tests and long loops check tensor counts. */
import { memory } from '@tensorflow/tfjs-core';
import { TensorLeakError } from './errors.js';

/**
 * A tensor-count checkpoint made by {@link memoryGuard}.
 *
 * @example
 * ```ts
 * const guard: MemoryGuard = memoryGuard();
 * // ... tensor code ...
 * guard.check('training step'); // throws TensorLeakError if the count changed
 * ```
 */
export interface MemoryGuard {
  /** Tensors allocated since the guard was created (negative: freed more than made). */
  delta(): number;
  /** Throw TensorLeakError if the tensor count changed since the guard was created. */
  check(label?: string): void;
}

/**
 * Remember the current number of live tensors, to check later that a piece of code freed what it made.
 *
 * @example
 * ```ts
 * const guard = memoryGuard();
 * const y = tf.tidy(() => tf.square(x));
 * y.dispose();
 * guard.delta(); // 0
 * ```
 */
export function memoryGuard(): MemoryGuard {
  const before = memory().numTensors;
  return {
    delta: () => memory().numTensors - before,
    check(label = 'memoryGuard') {
      const after = memory().numTensors;
      if (after !== before) {
        throw new TensorLeakError(`${label}: ${after - before} tensor(s) leaked (numTensors ${before} → ${after})`);
      }
    },
  };
}

/**
 * Run `fn` and throw if it leaves tensors behind. Whatever it returns must not be a live tensor.
 *
 * @example
 * ```ts
 * const loss = await expectNoLeaks(async () => {
 *   const l = lossFn(batch);
 *   const v = (await l.data())[0];
 *   l.dispose();
 *   return v; // return host values, not live tensors
 * });
 * ```
 */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = 'expectNoLeaks'): Promise<T> {
  const guard = memoryGuard();
  const result = await fn();
  guard.check(label);
  return result;
}
