// @altar/backend: start cpu and wasm, train one gradient through gather (wasm needs the filled-in
// UnsortedSegmentSum kernel), no leaks; the safetensors codec round-trips a tensor bit-exactly.
import * as tf from '@tensorflow/tfjs-core';
import { expectNoLeaks, initBackend, Rng, safetensorsToTensors, tensorsToSafetensors } from '@altar/backend';
import { ok } from './check.mjs';

for (const name of ['cpu', 'wasm']) {
  const info = await initBackend(name);
  ok(info.name === name, `initBackend(${name}) started ${info.name}`);
  await expectNoLeaks(async () => {
    const table = new Rng(1).normal([5, 3]);
    const ids = tf.tensor1d([0, 4, 4], 'int32');
    const g = tf.grad((t) => tf.gather(t, ids).sum())(table);
    const v = Array.from(await g.data());
    const want = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2];
    ok(JSON.stringify(v) === JSON.stringify(want), `${name}: gather gradient ${v}`);
    const bytes = await tensorsToSafetensors({ table });
    const back = safetensorsToTensors(bytes).tensors['table'];
    ok(
      JSON.stringify(Array.from(await back.data())) === JSON.stringify(Array.from(await table.data())),
      `${name}: safetensors round trip`,
    );
    tf.dispose([table, ids, g, back]);
  });
  console.log(`backend ok on ${info.name} (${info.adapter})`);
}
