// @altar/models: a forward pass of a tiny AR transformer, cached decoding equal to it, and a
// safetensors round trip (saveModel → loadModel) that reproduces the logits bit-exactly.
import * as tf from '@tensorflow/tfjs-core';
import { expectNoLeaks, initBackend } from '@altar/backend';
import { createModel, decodeSafetensors, loadModel, saveModel } from '@altar/models';
import { close, ok } from './check.mjs';

await initBackend('cpu');
await expectNoLeaks(async () => {
  const lm = createModel({ type: 'ar-transformer', vocabSize: 16, dModel: 16, nLayers: 1, nHeads: 2 });
  const ids = [1, 5, 3, 7];
  const tokens = tf.tensor2d([ids], [1, 4], 'int32');
  const logits = lm.forward(tokens);
  ok(JSON.stringify(logits.shape) === '[1,4,16]', `forward shape ${logits.shape}`);
  const full = await logits.data();
  let state = lm.initState(1);
  for (let i = 0; i < ids.length; i++) {
    const tok = tf.tensor1d([ids[i]], 'int32');
    const r = lm.step(tok, state);
    const step = await r.logits.data();
    for (let v = 0; v < 16; v++) close(step[v], full[i * 16 + v], 1e-4, `cached logit [${i}, ${v}]`);
    lm.disposeState(state);
    state = r.state;
    r.logits.dispose();
    tok.dispose();
  }
  lm.disposeState(state);
  const ckpt = await saveModel(lm);
  ok(Object.keys(decodeSafetensors(ckpt.weights).tensors).length > 0, 'safetensors file lists the weights');
  const again = loadModel(ckpt);
  const logits2 = again.forward(tokens);
  const back = await logits2.data();
  ok(
    back.every((v, i) => v === full[i]),
    'loadModel(saveModel(m)) gives identical logits',
  );
  tf.dispose([tokens, logits, logits2]);
  lm.dispose();
  again.dispose();
});
console.log('models ok: forward, cached step, safetensors round trip');
