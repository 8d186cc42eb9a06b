// @altar/train: one training step of y = 3x from w = 0. Adam's first update is lr · g / (|g| + ε),
// i.e. w moves by the step's learning rate toward 3 whatever the gradient's size.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@altar/backend';
import { Trainer } from '@altar/train';
import { close, ok } from './check.mjs';

await initBackend('cpu');
const w = tf.variable(tf.zeros([1]), true, 'w');
const lr = 0.05;
const trainer = new Trainer({
  params: { w },
  loss: (b) => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.mul(b.x, w), b.y)))),
  nextBatch: (rng) => {
    const x = rng.normal([16]);
    return { x, y: tf.mul(x, 3) };
  },
  disposeBatch: (b) => tf.dispose([b.x, b.y]),
  config: { steps: 1, lr, warmupSteps: 0, weightDecay: 0, seed: 1 },
});
const r = await trainer.trainStep();
ok(Number.isFinite(r.loss) && r.loss > 0, `step loss ${r.loss}`);
ok(r.lr > 0 && r.lr <= lr, `step lr ${r.lr}`);
close((await w.data())[0], r.lr, 1e-4, 'w after one Adam step from 0');
trainer.dispose();
console.log(`train ok: loss ${r.loss.toFixed(3)}, w = ${(await w.data())[0].toFixed(5)}`);
