/** Memory guards: a leak is a bug, so tests and long loops check tensor counts. */
import { memory } from '@tensorflow/tfjs-core';
import { TensorLeakError } from './errors.js';

export interface MemoryGuard {
  /** Tensors allocated since the guard was created (negative: freed more than made). */
  delta(): number;
  /** Throw TensorLeakError if the tensor count changed since the guard was created. */
  check(label?: string): void;
}

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

/** Run `fn` and throw if it leaves tensors behind. Whatever it returns must not be a live tensor. */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = 'expectNoLeaks'): Promise<T> {
  const guard = memoryGuard();
  const result = await fn();
  guard.check(label);
  return result;
}
