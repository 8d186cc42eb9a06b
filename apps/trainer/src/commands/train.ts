import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AltarError, BACKEND_CHOICES, initBackend } from '@altar/backend';
import { CHECKPOINT_FILES, parseCheckpointState } from '@altar/train';
import { resolveCheckpointDir } from '@altar/train/node';
import { choiceFlag, parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError, type CommandIO } from '../io.js';
import { loadRunConfig } from '../run/config.js';
import { withAbsoluteCorpus } from '../run/corpus.js';
import { trainRun } from '../run/train-run.js';
import { prepareRunDir } from '../run/run-dir.js';
import { interruptExitCode, withSigint } from '../run/signal.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a model from a config file (JSON or YAML) with checkpoints, metrics and resume',
  help: `altar train <config.json|yaml> --out DIR [--set key=value ...] [--backend auto|cuda|webgpu|wasm|cpu] [--resume DIR | --overwrite]

Trains the model a config describes (presets: apps/trainer/configs/*.json) and writes to DIR:
  metrics.jsonl        one JSON object per line: {"kind":"train",step,loss,lr,gradNorm,tokens,tokensPerSec,...}
                       and {"kind":"eval",step,metrics:{bitsPerToken,stdErr,loss}}
  step-NNNNNNNN/       checkpoints (model/EMA/optimizer safetensors + state.json), last K and the best kept
  latest.json, best.json, config.json, samples/step-N.txt (sample dumps at each eval)
Progress (step, loss, tokens/s, ETA) goes to stderr. Ctrl-C or SIGTERM (what Kubernetes, SLURM and spot
preemption send before SIGKILL) finishes the current step, saves a checkpoint and exits (130 / 143);
--resume DIR continues it bit-exactly (metrics.jsonl is cut back to the checkpoint's step, and config keys
that differ from the checkpoint's are listed). A non-empty --out is refused unless --resume or --overwrite.

Options:
  --out DIR          output directory (required)
  --set key=value    override a config key by its dotted path, e.g. --set train.steps=500 (repeatable;
                     the value is parsed as JSON when it can be, else taken as a string)
  --backend NAME     overrides the config's backend (default: the config's, else auto)
  --resume DIR       resume from a run directory or a step-* checkpoint
  --overwrite        delete the run already in --out first (only files altar train writes; anything else
                     there is refused)

Examples:
  altar train apps/trainer/configs/ar-transformer.json --out runs/ar
  altar train apps/trainer/configs/masked-diffusion.json --set train.steps=2000 --set model.dModel=96 --out runs/mdm
  altar train apps/trainer/configs/ar-transformer.json --out runs/ar --resume runs/ar`,
  async run(argv, io) {
    return withSigint(io, (sio) => runTrain(argv, sio));
  },
};

export async function runTrain(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      backend: { type: 'string' },
      resume: { type: 'string' },
      overwrite: { type: 'boolean' },
    },
    true,
  );
  if (positionals.length !== 1)
    throw new UsageError(`expected one config file, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
  if (!values.out) throw new UsageError('--out DIR is required');
  const config = withAbsoluteCorpus(loadRunConfig(positionals[0]!, values.set ?? []));
  const backend = choiceFlag('backend', values.backend, BACKEND_CHOICES, config.backend);
  // Paths are checked before the backend starts, so a usage error prints nothing else.
  if (values.resume && values.overwrite)
    throw new UsageError('--resume and --overwrite contradict each other (continue the run, or replace it)');
  if (values.resume) {
    try {
      const ckDir = resolveCheckpointDir(values.resume);
      const stateFile = join(ckDir, CHECKPOINT_FILES.state);
      parseCheckpointState(readFileSync(stateFile, 'utf8'), stateFile); // a corrupt state.json: exit 1 before any work
    } catch (e) {
      if (e instanceof AltarError && e.code === 'NOT_FOUND') throw new UsageError(`--resume ${e.message}`);
      throw e;
    }
  }
  prepareRunDir(values.out, { resume: values.resume !== undefined, overwrite: values.overwrite === true });
  const info = await initBackend(backend, { logger: { info: (m) => io.err(m + '\n'), warn: (m) => io.err(m + '\n') } });
  io.err(
    `altar train: ${config.name} (${config.family}) on ${info.name}, ${config.train.steps} steps → ${values.out}\n`,
  );
  const r = await trainRun({
    config,
    outDir: values.out,
    io,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(values.resume ? { resume: values.resume } : {}),
  });
  const e = r.lastEval;
  io.out(
    JSON.stringify({
      name: config.name,
      family: config.family,
      backend: info.name,
      params: r.runtime.model.paramCount(),
      step: r.step,
      status: r.reason,
      trainSeconds: Number(r.trainSeconds.toFixed(2)),
      ...(e ? { bitsPerToken: e.bitsPerToken, stdErr: e.stdErr, boundKind: e.boundKind } : {}),
      ...(e?.bitsPerChar !== undefined ? { bitsPerChar: e.bitsPerChar, bitsPerCharStdErr: e.bitsPerCharStdErr } : {}),
      out: values.out,
    }) + '\n',
  );
  r.trainer.dispose();
  r.runtime.dispose();
  return r.reason === 'interrupted' ? interruptExitCode(io.signal) : 0;
}
