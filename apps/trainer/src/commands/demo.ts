import { join } from 'node:path';
import { BACKEND_CHOICES, initBackend } from '@altar/backend';
import { choiceFlag, intFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, type CommandIO } from '../io.js';
import { runTextDemo } from '../run/text-demo.js';
import { runDemo } from '../run/demo.js';
import { refuseSpecialFs } from '../run/run-dir.js';
import { interruptExitCode, withSigint } from '../run/signal.js';

export const demoCommand: Command = {
  name: 'demo',
  summary:
    'the main job: train AR, masked diffusion and an SSM on a known-entropy source; compare bits and sampling cost',
  help: `altar demo [--data hmm|shakespeare] [--quick] [--out DIR] [--backend auto|cuda|webgpu|wasm|cpu] [--seed S]

On the default HMM source (exact likelihood known) and the chosen backend (default auto): trains an AR
transformer, a masked-diffusion transformer and a selective SSM of comparable size; evaluates each (exact
NLL for AR/SSM, NELBO ± standard error for diffusion) beside the source's true entropy; samples each
(AR: n sequential steps with a KV cache; diffusion: T = 8, 32, 128, plain and cached; SSM: recurrent) and
records NFE, weight bytes loaded, wall time and the true NLL of the samples. Writes to DIR:
  report.json   {"backend","source":{"name","entropyBitsPerToken"},"models":[{"name","family","params",
                "bytesPerWeight","trainSteps","trainSeconds","bitsPerToken","boundKind":"nll|nelbo",
                "sampling":[{"sampler","steps","nfe","weightBytesLoaded","wallMs","tokensPerSec",
                "samplesNllBitsPerToken"}]}]}
  report.md     the tables and the trade-off in plain words
  details.json  standard errors, multi-information, wall time
  loss.svg, quality-vs-nfe.svg, quality-vs-wall.svg, quality-vs-steps.svg
  models/<name>/  checkpoints and metrics.jsonl of each model
Full: under 10 minutes on a 2-core CPU; --quick: smaller settings, under 2 minutes.
Ctrl-C (or SIGTERM) stops after the current step, saves the model being trained and writes a partial report
(exit 130, or 143 for SIGTERM).

--data shakespeare: the same comparison on real text. Trains the four shakespeare-char presets
(apps/trainer/configs: AR, masked diffusion, D3PM-absorbing, selective SSM; nanoGPT's baby-GPT sizes) for
the same number of steps [250], then reports validation bits/char (exact for AR/SSM, NELBO for diffusion)
beside the corpus's unigram entropy, the masked model's T-step bound, and for samples (diffusion at
T = 8, 16, 64): generative perplexity under the AR model, unigram entropy, repeated 4-grams, cost and the
text itself. Writes text-report.json, report.md, gen-perplexity-vs-nfe.svg, entropy-vs-nfe.svg, models/.
Under 15 minutes on wasm on a 2-core CPU.

Options:
  --data NAME        hmm (the known-likelihood source) | shakespeare (real text) [hmm]
  --quick            small settings (used by tests)
  --out DIR          output directory [./altar-demo]
  --backend NAME     backend [auto]
  --seed S           seed of data, init, sampling [0]
  --steps N          override every model's training steps (testing)
  --samples N        sequences per sampling run [64; quick 16]
  --eval-seqs N      held-out sequences for evaluation [1024; quick 128]

Examples:
  altar demo
  altar demo --quick --out /tmp/demo
  pnpm demo            (from the repository root: build, then altar demo)`,
  async run(argv, io) {
    return withSigint(io, (sio) => runDemoCommand(argv, sio));
  },
};

async function runDemoCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseFlags(argv, {
    quick: { type: 'boolean' },
    out: { type: 'string' },
    backend: { type: 'string' },
    seed: { type: 'string' },
    steps: { type: 'string' },
    samples: { type: 'string' },
    'eval-seqs': { type: 'string' },
    data: { type: 'string' },
  });
  const data = choiceFlag('data', values.data, ['hmm', 'shakespeare'] as const, 'hmm');
  if (data === 'shakespeare' && values['eval-seqs'] !== undefined)
    throw new UsageError('--eval-seqs: applies to --data hmm only (the text demo evaluates its presets’ eval batches)');
  const backend = choiceFlag('backend', values.backend, BACKEND_CHOICES, 'auto');
  const out = values.out ?? './altar-demo';
  refuseSpecialFs(out, '--out'); // before the backend: a usage error without backend noise
  const info = await initBackend(backend, { logger: { info: (m) => io.err(m + '\n'), warn: (m) => io.err(m + '\n') } });
  if (data === 'shakespeare') {
    const { report, interrupted } = await runTextDemo(
      {
        quick: values.quick === true,
        out,
        seed: intFlag('seed', values.seed, 0),
        ...(values.steps !== undefined ? { steps: intFlag('steps', values.steps, 1, 1) } : {}),
        ...(values.samples !== undefined ? { samples: intFlag('samples', values.samples, 1, 1) } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
      },
      info,
      io,
    );
    io.err(`\ndone in ${report.wallSeconds.toFixed(0)} s: ${join(out, 'report.md')}, text-report.json, *.svg\n`);
    io.out(`corpus unigram entropy ${report.corpus.unigramEntropyBitsPerChar.toFixed(4)} bits/char\n`);
    for (const m of report.models)
      io.out(
        `${m.name.padEnd(24)} ${m.bitsPerChar.toFixed(4)} ± ${m.stdErr.toFixed(4)} bits/char (${m.boundKind}), ${m.params} params, ${m.trainSteps} steps in ${m.trainSeconds.toFixed(0)} s\n`,
      );
    return interrupted ? interruptExitCode(io.signal) : 0;
  }
  const { report, details, interrupted } = await runDemo(
    {
      quick: values.quick === true,
      out,
      seed: intFlag('seed', values.seed, 0),
      ...(values.steps !== undefined ? { steps: intFlag('steps', values.steps, 1, 1) } : {}),
      ...(values.samples !== undefined ? { samples: intFlag('samples', values.samples, 1, 1) } : {}),
      ...(values['eval-seqs'] !== undefined ? { evalSequences: intFlag('eval-seqs', values['eval-seqs'], 1, 1) } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    },
    info,
    io,
  );
  io.err(
    `\ndone in ${details.wallSeconds.toFixed(0)} s: ${join(out, 'report.md')}, report.json, details.json, *.svg\n`,
  );
  const H = report.source.entropyBitsPerToken;
  io.out(`source entropy ${H.toFixed(4)} bits/token\n`);
  for (const m of report.models)
    io.out(
      `${m.name.padEnd(18)} ${m.bitsPerToken.toFixed(4)} bits/token (${m.boundKind}, +${(m.bitsPerToken - H).toFixed(4)}), ${m.params} params, ${m.trainSteps} steps in ${m.trainSeconds.toFixed(0)} s\n`,
    );
  return interrupted ? interruptExitCode(io.signal) : 0;
}
