// @altar/data: sample the default HMM, and check its exact likelihood sums to one over every
// sequence of length 2 (V² terms) and that sampled sequences are possible.
import { initBackend, Rng } from '@altar/backend';
import { HmmSource } from '@altar/data';
import { close, ok } from './check.mjs';

await initBackend('cpu');
const src = new HmmSource({ seqLen: 2 });
const V = src.vocabSize;
let total = 0;
for (let a = 0; a < V; a++) for (let b = 0; b < V; b++) total += Math.exp(src.logProb([a, b]));
close(total, 1, 1e-9, 'Σ_x p(x) over all length-2 sequences');
const long = new HmmSource({ seqLen: 16 });
const x = long.sample(8, new Rng(3));
ok(x.length === 8 * 16 && x.every((t) => t >= 0 && t < V), 'HMM samples are 8×16 tokens in [0, V)');
const lp = long.logProbBatch(x);
ok(
  lp.every((v) => Number.isFinite(v) && v < 0),
  `sampled sequences have finite log p: ${Array.from(lp)}`,
);
console.log(
  `data ok: V = ${V}, Σ p = ${total.toFixed(12)}, mean log p(x) = ${(lp.reduce((s, v) => s + v, 0) / 8).toFixed(3)} nats`,
);
