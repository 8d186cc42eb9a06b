import { BACKEND_CHOICES, initBackend, Rng } from '@altar/backend';
import { choiceFlag, intFlag, intListFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../io.js';
import { checkRunPath, loadRun } from '../run/checkpoint-runtime.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'bits per token of a trained checkpoint (exact NLL or NELBO ± s.e.) beside the source entropy',
  help: `altar eval DIR [--bound one-term|full] [--T LIST] [--json] [--batches K] [--batch-size B] [--best] [--raw] [--seed S] [--backend NAME]

Evaluates the checkpoint in DIR (a run directory from altar train/demo, or one step-* directory) on fresh
held-out sequences from its source:
  AR / SSM:   exact NLL in bits per token (chain rule; no bound).
  diffusion:  the negative ELBO in bits per token with its standard error over sequences — an upper bound
              on the NLL. --bound one-term draws one timestep per sequence (the training estimator);
              --bound full uses 8 stratified times per sequence (masked) or the full sum over all T
              terms (D3PM): same bound, lower variance.
  --T 2,8,32  masked diffusion only: also the discrete-time NELBO with T steps (the same model read as an
              absorbing D3PM with α_k = 1 − k/T, all T terms per sequence, one drawn), which falls towards
              the continuous-time bound as T grows (the bound a T-step sampler pays for).
Beside it: the source's true entropy rate (exact log p under the HMM, averaged over 2000 samples).
Uses the EMA weights when the checkpoint has them (--raw: the raw weights); --best: the best checkpoint.

JSON: {"dir","step","family","boundKind","bound","bitsPerToken","stdErr","sequences",
       "sourceEntropyBitsPerToken","sourceEntropyStdErr","gapBitsPerToken","unit","weights",
       "boundVsT": [{"T","bitsPerToken","stdErr"[,"bitsPerChar"]}] (with --T);
       text checkpoints add "bitsPerChar","bitsPerCharStdErr","unigramEntropyBitsPerChar"}
(For the gaussian family the unit is bits per dimension; "PerToken" keys then hold per-dimension values.)
A missing checkpoint directory is a usage error (exit 2); a corrupt checkpoint, or weights holding NaN or
Infinity (named by tensor), is a data error (exit 1).

Examples:
  altar eval runs/ar
  altar eval altar-demo/models/masked-diffusion --bound full --json
  altar eval altar-demo/models/masked-diffusion --T 2,8,32,128`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(
      argv,
      {
        bound: { type: 'string' },
        T: { type: 'string' },
        json: { type: 'boolean' },
        batches: { type: 'string' },
        'batch-size': { type: 'string' },
        best: { type: 'boolean' },
        raw: { type: 'boolean' },
        seed: { type: 'string' },
        backend: { type: 'string' },
      },
      true,
    );
    if (positionals.length !== 1)
      throw new UsageError(
        `expected one checkpoint directory, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`,
      );
    const bound = choiceFlag('bound', values.bound, ['one-term', 'full'] as const, 'one-term');
    const batches = intFlag('batches', values.batches, 8, 1);
    const batchSize = intFlag('batch-size', values['batch-size'], 64, 1);
    const seed = intFlag('seed', values.seed, 12345);
    const Ts = intListFlag('T', values.T, []);
    const backend = choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto');
    checkRunPath(positionals[0]!, values.best ? 'best' : 'latest'); // before the backend: no backend noise on a typo
    await initBackend(backend);
    const run = await loadRun(positionals[0]!, {
      which: values.best ? 'best' : 'latest',
      weights: values.raw ? 'raw' : 'ema',
    });
    try {
      const discrete = run.runtime.discreteBound?.bind(run.runtime);
      if (Ts.length > 0 && !discrete)
        throw new UsageError(
          `--T: family '${run.config.family}' has no T-step bound to compute (masked diffusion only: AR and SSM are exact, D3PM is trained at its own T, Gaussian is continuous)`,
        );
      const rng = new Rng(seed).fork('heldout');
      const e = await run.runtime.evaluate(rng, { batches, batchSize, bound });
      const ent0 = run.runtime.sourceEntropy(new Rng(seed).fork('entropy'), 2000);
      const ent = { entropyBitsPerToken: ent0?.bits ?? NaN, stdErr: ent0?.stdErr ?? NaN };
      const u = run.runtime.unit;
      const boundVsT: Array<{ T: number; bitsPerToken: number; stdErr: number; bitsPerChar?: number }> = [];
      for (const T of Ts) {
        const b = await discrete!(new Rng(seed).fork(`bound-${T}`), { batches, batchSize }, T);
        boundVsT.push({
          T,
          bitsPerToken: b.bitsPerToken,
          stdErr: b.stdErr,
          ...(b.bitsPerChar !== undefined ? { bitsPerChar: b.bitsPerChar } : {}),
        });
      }
      const text = run.runtime.text;
      const out = {
        dir: run.dir,
        step: run.step,
        family: run.config.family,
        boundKind: e.boundKind,
        bound: e.bound,
        bitsPerToken: e.bitsPerToken,
        stdErr: e.stdErr,
        sequences: e.sequences,
        sourceEntropyBitsPerToken: ent0 ? ent.entropyBitsPerToken : null,
        sourceEntropyStdErr: ent0 ? ent.stdErr : null,
        gapBitsPerToken: ent0 ? e.bitsPerToken - ent.entropyBitsPerToken : null,
        unit: u,
        weights: run.weights,
        ...(boundVsT.length ? { boundVsT } : {}),
        ...(text
          ? {
              bitsPerChar: e.bitsPerChar,
              bitsPerCharStdErr: e.bitsPerCharStdErr,
              unigramEntropyBitsPerChar: text.unigramEntropyBits / text.charsPerToken,
            }
          : {}),
      };
      if (values.json) io.out(JSON.stringify(out) + '\n');
      else {
        const what = e.boundKind === 'nll' ? 'exact NLL' : `NELBO (${e.bound})`;
        io.out(
          [
            `${run.dir} (step ${run.step}, ${run.config.family}, ${run.weights} weights)`,
            `  ${what.padEnd(22)} ${e.bitsPerToken.toFixed(4)} ± ${e.stdErr.toFixed(4)} bits/${u} over ${e.sequences} ${u === 'token' ? 'sequences' : 'examples'}`,
            ...(text
              ? [
                  `  ${''.padEnd(22)} ${e.bitsPerChar!.toFixed(4)} ± ${e.bitsPerCharStdErr!.toFixed(4)} bits/char`,
                  `  ${'unigram entropy'.padEnd(22)} ${(text.unigramEntropyBits / text.charsPerToken).toFixed(4)} bits/char (a model of no context)`,
                ]
              : [
                  ent0
                    ? `  ${'source entropy'.padEnd(22)} ${ent.entropyBitsPerToken.toFixed(4)} ± ${ent.stdErr.toFixed(4)} bits/${u}`
                    : `  source entropy         unknown for this source`,
                ]),
            ...(ent0
              ? [`  ${'gap'.padEnd(22)} ${(e.bitsPerToken - ent.entropyBitsPerToken).toFixed(4)} bits/${u}`]
              : []),
            ...boundVsT.map(
              (b) =>
                `  ${`NELBO, T = ${b.T}`.padEnd(22)} ${b.bitsPerToken.toFixed(4)} ± ${b.stdErr.toFixed(4)} bits/${u}` +
                (b.bitsPerChar !== undefined ? `, ${b.bitsPerChar.toFixed(4)} bits/char` : ''),
            ),
            '',
          ].join('\n'),
        );
      }
      return 0;
    } finally {
      run.runtime.dispose();
    }
  },
};
