// @altar/elbo: the D3PM NELBO at T = 1 (absorbing, every token masked at once) with the exact HMM
// oracle is L_0 = −Σ_i log p(x_i): the sum of the exact per-position marginals, computed here from
// @altar/data's positionMarginals alone.
import { expectNoLeaks, initBackend, Rng } from '@altar/backend';
import { HmmSource, hmmOracleDenoiser } from '@altar/data';
import { D3PMProcess } from '@altar/noise';
import { d3pmNelbo } from '@altar/elbo';
import { close } from './check.mjs';

await initBackend('cpu');
const src = new HmmSource({ seqLen: 8 });
const V = src.vocabSize;
const proc = new D3PMProcess({ kind: 'absorbing', vocabSize: V, T: 1, schedule: 'jsd' });
const oracle = hmmOracleDenoiser(src, (u) => proc.noiseMatrix(u));
const marg = src.positionMarginals();
const rng = new Rng(5);
await expectNoLeaks(async () => {
  const x0 = src.sampleTensor(4, rng);
  const loss = d3pmNelbo(proc, oracle, x0, rng, { sampling: 'full' });
  const got = await loss.data();
  const x = await x0.data();
  for (let b = 0; b < 4; b++) {
    let want = 0;
    for (let i = 0; i < 8; i++) want -= Math.log(marg[i * V + x[b * 8 + i]]);
    close(got[b], want, 1e-3 * Math.max(1, want), `NELBO(T = 1) of example ${b}`);
  }
  x0.dispose();
  loss.dispose();
});
console.log('elbo ok: NELBO(T = 1) = −Σ log p(x_i)');
