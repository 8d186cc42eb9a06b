// @altar/noise: qSample of a VP-cosine Gaussian process equals α_t x0 + σ_t ε computed on the host.
import * as tf from '@tensorflow/tfjs-core';
import { expectNoLeaks, initBackend } from '@altar/backend';
import { GaussianProcess, gaussianSchedule } from '@altar/noise';
import { close } from './check.mjs';

await initBackend('cpu');
const proc = new GaussianProcess(gaussianSchedule('vp-cosine'));
const t = 0.3;
const x0 = [0.5, -1, 2, 0.25];
const eps = [1, 0.5, -0.5, -2];
await expectNoLeaks(async () => {
  const x0t = tf.tensor2d(x0, [1, 4]);
  const epst = tf.tensor2d(eps, [1, 4]);
  const z = proc.qSample(x0t, t, epst);
  const got = await z.data();
  const a = proc.alpha(t);
  const s = proc.sigma(t);
  close(a * a + s * s, 1, 1e-9, 'VP: α² + σ² at t = 0.3');
  x0.forEach((x, i) => close(got[i], a * x + s * eps[i], 1e-5, `qSample[${i}]`));
  tf.dispose([x0t, epst, z]);
});
console.log('noise ok: qSample = α x0 + σ ε');
