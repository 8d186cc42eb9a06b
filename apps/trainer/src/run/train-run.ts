/**
 * The training driver shared by `altar train` and `altar demo`: builds the family runtime, wires the
 * Trainer to metrics.jsonl, a progress bar, sample dumps, checkpoints (atomic, keep last K + best) and
 * an abort signal (SIGINT), and resumes from a checkpoint directory.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AltarError, Rng } from '@altar/backend';
import { Trainer, type Checkpoint } from '@altar/train';
import { loadCheckpoint, MetricsWriter, saveCheckpoint } from '@altar/train/node';
import type { CommandIO } from '../io.js';
import { buildRuntime, type EvalResult, type FamilyRuntime, type RunConfig } from '@altar/recipes';

const LN2 = Math.LN2;
import { ProgressBar } from './progress.js';
import { configChanges } from './resume-diff.js';
import { ensureDir } from './run-dir.js';
import { openRunCorpus, TOKENIZER_FILE, tokenizerFileBytes } from './corpus.js';

export interface TrainRunOptions {
  config: RunConfig;
  outDir: string;
  io: CommandIO;
  signal?: AbortSignal;
  /** Checkpoint directory (or run directory) to resume from. */
  resume?: string;
  /** Label on the progress bar. */
  label?: string;
  /** Write sample dumps at eval time (default true when config.eval.samples > 0). */
  dumpSamples?: boolean;
}

export interface TrainRunResult {
  runtime: FamilyRuntime;
  trainer: Trainer<import('@tensorflow/tfjs-core').Tensor2D>;
  reason: 'done' | 'interrupted';
  step: number;
  /** Wall seconds spent training in this process (excluding evals). */
  trainSeconds: number;
  lastEval: EvalResult | null;
}

export async function trainRun(o: TrainRunOptions): Promise<TrainRunResult> {
  const c = o.config;
  ensureDir(o.outDir);
  const ck = o.resume ? loadCheckpoint(o.resume) : null;
  const corpus = await openRunCorpus(c, { io: o.io });
  const runtime = buildRuntime(c, corpus ? { corpus } : {});
  let lastEval: EvalResult | null = null;
  // On resume, what a killed run logged after its checkpoint is cut, so each step appears once.
  const metrics = new MetricsWriter(
    join(o.outDir, 'metrics.jsonl'),
    ck ? { keepThrough: ck.state.step } : { truncate: true },
  );
  let sampleRng = new Rng(c.train.seed).fork('samples');
  const bar = new ProgressBar(o.io, o.label ?? c.name, c.train.steps);
  const N = runtime.seqLen;
  const unit = runtime.unit;
  const trainer = new Trainer({
    params: runtime.params,
    loss: runtime.loss,
    nextBatch: (rng) => runtime.nextBatch(rng),
    disposeBatch: (x) => x.dispose(),
    tokensPerBatch: c.data.batchSize * N,
    config: c.train,
    bestMetric: 'bitsPerToken',
    logger: { info: (m) => bar.note(m), warn: (m) => bar.note(`warning: ${m}`) },
    onMetrics: (r) => metrics.write(r),
    // the sampling stream is checkpointed, so sample dumps after a resume equal an uninterrupted run's
    appState: {
      get: () => ({ sampleRng: sampleRng.state() }),
      set: (s) => {
        const st: unknown = typeof s === 'object' && s !== null ? Reflect.get(s, 'sampleRng') : undefined;
        if (st !== undefined) sampleRng = new Rng(st as ConstructorParameters<typeof Rng>[0]);
      },
    },
    evaluate: async ({ rng }) => {
      const e = await runtime.evaluate(rng, { batches: c.eval.batches, batchSize: c.eval.batchSize });
      lastEval = e;
      return {
        bitsPerToken: e.bitsPerToken,
        stdErr: e.stdErr,
        loss: e.bitsPerToken * LN2,
        ...(e.bitsPerChar !== undefined ? { bitsPerChar: e.bitsPerChar } : {}),
      };
    },
  });
  let resumedFrom: string | null = null;
  if (ck) {
    const saved: unknown = ck.state.config;
    const savedFamily = typeof saved === 'object' && saved !== null ? Reflect.get(saved, 'family') : undefined;
    if (savedFamily !== undefined && savedFamily !== c.family) {
      throw new AltarError(
        'BAD_CHECKPOINT',
        `${ck.dir}: checkpoint is of family '${String(savedFamily)}', the config says '${c.family}'`,
      );
    }
    trainer.restore(ck.files);
    resumedFrom = ck.dir;
    bar.note(`resumed from ${ck.dir} at step ${trainer.step}`);
    for (const d of configChanges(saved, c))
      bar.note(
        `  changed since the checkpoint: ${d.key} ${d.before} → ${d.after} (the new value applies from here on)`,
      );
  }
  writeFileSync(join(o.outDir, 'config.json'), JSON.stringify(c, null, 2) + '\n');
  const weightsMeta = { 'altar.config': JSON.stringify(runtime.model.config), 'altar.family': c.family };
  const save = async (isBest: boolean): Promise<Checkpoint> => {
    const ck = await trainer.snapshot(c, weightsMeta);
    if (corpus) ck.files[TOKENIZER_FILE] = tokenizerFileBytes(corpus); // the vocabulary the model was trained with
    saveCheckpoint(o.outDir, ck, { keepLast: c.checkpoint.keepLast, isBest });
    return ck;
  };
  let evalMs = 0;
  const t0 = Date.now();
  let lastLoss = NaN;
  let firstBad: number | null = null;
  let skippedSteps = 0;
  const res = await trainer.run({
    ...(o.signal ? { signal: o.signal } : {}),
    checkpointEvery: c.checkpoint.every,
    onStep: (r) => {
      lastLoss = r.loss / LN2;
      if (r.skipped) {
        skippedSteps += 1;
        firstBad ??= r.step;
      }
      bar.update(r.step, {
        loss: lastLoss,
        lossUnit: unit === 'token' ? 'bits/tok' : 'bits/dim',
        tokensPerSec: r.stepMs > 0 ? (r.tokens * 1000) / r.stepMs : 0,
      });
    },
    onEval: async (m, isBest) => {
      const te = Date.now();
      const e = lastEval!;
      bar.note(
        `  eval @ step ${trainer.step}: ${e.bitsPerToken.toFixed(4)} ± ${e.stdErr.toFixed(4)} bits/${unit}` +
          (e.bitsPerChar !== undefined ? `, ${e.bitsPerChar.toFixed(4)} bits/char` : '') +
          ` (${e.boundKind}${isBest ? ', best' : ''})`,
      );
      if ((o.dumpSamples ?? true) && c.eval.samples > 0) {
        const s = await trainer.withEvalWeights(() =>
          runtime.sample(sampleRng, {
            sampler: runtime.samplers[0]!,
            n: c.eval.samples,
            ...('sampleSteps' in c.eval ? { steps: c.eval.sampleSteps } : {}),
          }),
        );
        ensureDir(join(o.outDir, 'samples'));
        writeFileSync(
          join(o.outDir, 'samples', `step-${String(trainer.step).padStart(8, '0')}.txt`),
          `# step ${trainer.step}, sampler ${runtime.samplers[0]}` +
            (runtime.text ? '' : `, true NLL of samples ${s.samplesNllBitsPerToken.toFixed(4)} bits/${unit}`) +
            '\n' +
            runtime.formatRows(s).join('\n') +
            '\n',
        );
      }
      void m;
      evalMs += Date.now() - te;
    },
    onCheckpoint: async (reason, isBest) => {
      await save(isBest);
      if (reason === 'interrupt')
        bar.note(
          `interrupted: checkpoint at step ${trainer.step} saved to ${o.outDir} (continue with --resume ${o.outDir})`,
        );
    },
  });
  const trainSeconds = (Date.now() - t0 - evalMs) / 1000;
  if (resumedFrom === null && res.reason === 'done' && !Number.isFinite(lastLoss) && c.train.steps > 0) {
    throw new AltarError(
      'NON_FINITE',
      `training ended with a non-finite loss at step ${res.step} (first non-finite step ${firstBad ?? res.step}, ` +
        `${skippedSteps} update${skippedSteps === 1 ? '' : 's'} skipped); the checkpoints after step ${(firstBad ?? res.step) - 1} hold no further training`,
    );
  }
  return { runtime, trainer, reason: res.reason, step: res.step, trainSeconds, lastEval };
}
