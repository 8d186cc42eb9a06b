/**
 * Preloaded (`node --import`) into the `altar train|eval|sample` processes a sweep worker spawns: when the worker
 * dies without a chance to stop them (SIGKILL, OOM kill), the child notices it was re-parented and kills itself,
 * so it cannot keep writing into a run directory that another worker is about to resume. Checked every 250 ms,
 * far inside the queue's lock duration.
 */
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 250);
timer.unref();

export {};
