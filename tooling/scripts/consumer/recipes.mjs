// @altar/recipes: the run-config schema names the bad key; an AR runtime's training loss equals the
// exact NLL composed by hand from @altar/models (BOS view) and @altar/elbo (arNll) on the same batch.
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, initBackend, Rng } from '@altar/backend';
import { arNll } from '@altar/elbo';
import { bosDataLogits } from '@altar/models';
import { buildRuntime, parseRunConfig } from '@altar/recipes';
import { close, ok } from './check.mjs';

await initBackend('cpu');
let msg = '';
try {
  parseRunConfig({ family: 'ar', train: { steps: 1e12 } });
} catch (e) {
  ok(e instanceof ConfigError, 'a ConfigError');
  msg = e.message;
}
ok(msg.startsWith('train.steps: expected an integer in 0..10000000'), `bounded steps: ${msg}`);
const config = parseRunConfig({
  family: 'ar',
  data: { hmm: { vocabSize: 8, seqLen: 8, numStates: 2, tokensPerState: 4, overlap: 0 } },
  model: { dModel: 16, nLayers: 1, nHeads: 2 },
});
const rt = buildRuntime(config);
const x = rt.nextBatch(new Rng(1), 4);
const loss = (await rt.loss(x, new Rng(2)).data())[0];
const byHand = tf.tidy(() => tf.div(tf.mean(arNll(bosDataLogits(rt.model, x, rt.vocabSize), x)), rt.seqLen));
close(loss, (await byHand.data())[0], 1e-6, 'AR loss (nats/token) = mean NLL / n');
close(loss, Math.log(8), 1.0, 'an untrained model is near log V');
tf.dispose([x, byHand]);
rt.dispose();
console.log(`recipes ok: ${msg.split(',')[0]}; AR loss ${loss.toFixed(4)} nats/token`);
