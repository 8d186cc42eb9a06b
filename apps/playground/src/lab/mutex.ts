/**
 * Serialises everything that touches model weights. A training step replaces each weight's buffer
 * (the optimiser assigns new values); a read-back of that weight started in between can then never
 * resolve on WebGPU. Steps, sampling, evaluation and export therefore take turns: the training loop
 * holds the lock for one step at a time, so other requests run between steps.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => undefined);
    return r;
  }
}
