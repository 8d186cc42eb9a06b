/**
 * `altar demo`: the main job. On the default known-likelihood HMM source, train an AR transformer, a
 * masked-diffusion transformer and an SSM LM of comparable size; evaluate each (exact NLL for AR/SSM,
 * NELBO ± standard error for diffusion) beside the source's entropy; sample each (AR: n sequential steps;
 * diffusion: T ∈ {8, 32, 128}, plain and cached; SSM: recurrent) with cost records; write report.json,
 * report.md and SVG plots.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, type BackendInfo } from '@altar/backend';
import { defaultHmmConfig, HmmSource } from '@altar/data';
import type { CommandIO } from '../io.js';
import { parseRunConfig, type Family, type RunConfig, type SamplerName } from '@altar/recipes';
import {
  fmt,
  mb,
  renderReportMd,
  writeDemoPlots,
  type DemoDetails,
  type DemoReport,
  type ModelEntry,
  type SamplingEntry,
} from './demo-report.js';
import { ensureDir, refuseSpecialFs } from './run-dir.js';
import { trainRun } from './train-run.js';

export interface DemoOptions {
  quick: boolean;
  out: string;
  /** Override every model's training steps (tests use a handful). */
  steps?: number;
  /** Override the number of sampled sequences per sampler run. */
  samples?: number;
  /** Override the eval sequence count (batches × batchSize). */
  evalSequences?: number;
  seed: number;
  signal?: AbortSignal;
}

interface ModelPlan {
  name: string;
  family: Family;
  config: RunConfig;
  samplers: { sampler: SamplerName; steps?: number }[];
}

/**
 * The three models. Sizes: ~0.1M parameters each (d_model 64, 2 blocks); the diffusion transformer's
 * adaptive-norm time conditioning adds weights, so it gets d_model 56 to stay comparable; the SSM uses
 * selective (Mamba-style) blocks with an MLP so that its parameter count is in the same range.
 * Steps and learning rates are tuned so the full demo fits in 10 minutes on a 2-core CPU (wasm) and the
 * AR model lands within 0.15 bits/token of the source entropy.
 */
export function demoPlans(o: DemoOptions): ModelPlan[] {
  const q = o.quick;
  const steps = (full: number, quick: number) => o.steps ?? (q ? quick : full);
  const evalSeqs = o.evalSequences ?? (q ? 128 : 1024);
  const evalBatch = Math.min(64, evalSeqs);
  const common = (
    family: Family,
    name: string,
    model: Record<string, unknown>,
    train: Record<string, unknown>,
    diffusion?: Record<string, unknown>,
  ) =>
    parseRunConfig({
      name,
      family,
      data: { source: 'hmm', hmm: {}, batchSize: q ? 16 : 32 },
      model,
      ...(diffusion ? { diffusion } : {}),
      train: {
        lr: 3e-3,
        warmupSteps: q ? 5 : 30,
        minLrRatio: 0.1,
        gradClip: 1,
        emaDecay: q ? 0.9 : 0.98,
        evalEvery: 0,
        seed: o.seed,
        ...train,
      },
      checkpoint: { every: 0, keepLast: 1 },
      eval: {
        batches: Math.max(1, Math.round(evalSeqs / evalBatch)),
        batchSize: evalBatch,
        samples: 0,
        ...(diffusion ? { sampleSteps: 32 } : {}),
      },
    });
  const Ts = [8, 32, 128];
  return [
    {
      name: 'ar-transformer',
      family: 'ar',
      config: common(
        'ar',
        'ar-transformer',
        { type: 'ar-transformer', dModel: 64, nLayers: 2, nHeads: 4, positions: 'rope' },
        { steps: steps(300, 150) },
      ),
      samplers: [{ sampler: 'ar' }],
    },
    {
      name: 'masked-diffusion',
      family: 'masked-diffusion',
      config: common(
        'masked-diffusion',
        'masked-diffusion',
        // timeConditioning false: masked diffusion needs no t (MDLM §3.2), and it makes masked-cached exact
        {
          type: 'diffusion-transformer',
          dModel: 64,
          nLayers: 2,
          nHeads: 4,
          positions: 'learned',
          timeConditioning: false,
        },
        { steps: steps(1000, 300) },
        { process: 'masked', schedule: 'log-linear', timesteps: 'stratified' },
      ),
      samplers: [
        ...Ts.map((T) => ({ sampler: 'masked' as const, steps: T })),
        ...Ts.map((T) => ({ sampler: 'masked-cached' as const, steps: T })),
      ],
    },
    {
      name: 'ssm-lm',
      family: 'ssm',
      config: common(
        'ssm',
        'ssm-lm',
        { type: 'ssm-lm', dModel: 64, nLayers: 2, mixer: 'selective', dState: 8, expand: 2, mlpRatio: 2 },
        { steps: steps(200, 60) },
      ),
      samplers: [{ sampler: 'ar' }],
    },
  ];
}

/** Steps at which the demo evaluates the diffusion model's discrete-time bound (bound vs T). */
const BOUND_TS = [2, 8, 32, 128];

export async function runDemo(
  o: DemoOptions,
  backend: BackendInfo,
  io: CommandIO,
): Promise<{ report: DemoReport; details: DemoDetails; interrupted: boolean }> {
  const t0 = Date.now();
  refuseSpecialFs(o.out, '--out');
  ensureDir(o.out);
  const source = new HmmSource(defaultHmmConfig);
  io.err(`altar demo${o.quick ? ' --quick' : ''}: backend ${backend.name} (${backend.adapter}); output → ${o.out}\n`);
  const ent = source.entropyReport(new Rng(o.seed).fork('entropy'), o.quick ? 1000 : 4000);
  io.err(
    `source ${source.name}: V=${source.vocabSize}, n=${source.seqLen}, entropy ${fmt(ent.entropyBitsPerToken, 4)} ± ${fmt(ent.stdErr, 4)} bits/token, ` +
      `multi-information ${fmt(ent.multiInfoBitsPerToken)} bits/token\n`,
  );
  const plans = demoPlans(o);
  const models: ModelEntry[] = [];
  const detailModels: DemoDetails['models'] = [];
  const nSamples = o.samples ?? (o.quick ? 16 : 64);
  let interrupted = false;
  for (const [i, plan] of plans.entries()) {
    if (o.signal?.aborted) {
      interrupted = true;
      break;
    }
    const dir = join(o.out, 'models', plan.name);
    io.err(`\n[${i + 1}/${plans.length}] ${plan.name}: training ${plan.config.train.steps} steps\n`);
    const r = await trainRun({
      config: plan.config,
      outDir: dir,
      io,
      label: plan.name,
      dumpSamples: false,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    try {
      if (r.reason === 'interrupted') interrupted = true;
      const rt = r.runtime;
      io.err(`  evaluating (${plan.config.eval.batches * plan.config.eval.batchSize} held-out sequences)…\n`);
      const ev = await r.trainer.withEvalWeights(() =>
        rt.evaluate(new Rng(o.seed).fork('heldout'), {
          batches: plan.config.eval.batches,
          batchSize: plan.config.eval.batchSize,
          bound: rt.boundKind === 'nelbo' ? 'full' : 'one-term',
        }),
      );
      io.err(
        `  ${rt.boundKind === 'nll' ? 'exact NLL' : 'NELBO'} ${fmt(ev.bitsPerToken, 4)} ± ${fmt(ev.stdErr, 4)} bits/token (source entropy ${fmt(ent.entropyBitsPerToken, 4)})\n`,
      );
      const sampling: SamplingEntry[] = [];
      for (const s of plan.samplers) {
        if (o.signal?.aborted) break;
        const res = await r.trainer.withEvalWeights(() =>
          rt.sample(new Rng(o.seed).fork(`sample-${plan.name}-${s.sampler}-${s.steps ?? 0}`), {
            sampler: s.sampler,
            n: nSamples,
            ...(s.steps ? { steps: s.steps } : {}),
          }),
        );
        const steps = s.sampler === 'ar' ? rt.seqLen : s.steps!;
        const e: SamplingEntry = {
          sampler: plan.family === 'ssm' ? 'ssm-recurrent' : s.sampler === 'ar' ? 'ar-kv-cache' : s.sampler,
          steps,
          nfe: res.cost.nfe,
          weightBytesLoaded: res.cost.weightBytesLoaded,
          wallMs: res.cost.wallMs,
          tokensPerSec: res.cost.tokensPerSec,
          samplesNllBitsPerToken: res.samplesNllBitsPerToken,
        };
        sampling.push(e);
        io.err(
          `  sample ${e.sampler.padEnd(14)} steps ${String(steps).padStart(3)}: NFE ${String(e.nfe).padStart(3)}, ${mb(e.weightBytesLoaded).padStart(9)}, ${fmt(e.wallMs, 0).padStart(6)} ms, true NLL of samples ${fmt(e.samplesNllBitsPerToken)} bits/token\n`,
        );
      }
      models.push({
        name: plan.name,
        family: plan.family,
        params: rt.model.paramCount(),
        bytesPerWeight: rt.model.bytesPerWeight,
        trainSteps: r.step,
        trainSeconds: Number(r.trainSeconds.toFixed(2)),
        bitsPerToken: ev.bitsPerToken,
        boundKind: rt.boundKind,
        sampling,
      });
      const boundVsT: { T: number; nelboBitsPerToken: number; stdErr: number }[] = [];
      if (rt.discreteBound && !o.signal?.aborted) {
        for (const T of BOUND_TS) {
          const b = await r.trainer.withEvalWeights(() =>
            rt.discreteBound!(
              new Rng(o.seed).fork(`bound-${T}`),
              { batches: plan.config.eval.batches, batchSize: plan.config.eval.batchSize },
              T,
            ),
          );
          boundVsT.push({ T, nelboBitsPerToken: b.bitsPerToken, stdErr: b.stdErr });
          io.err(
            `  discrete-time NELBO, T=${String(T).padStart(3)}: ${fmt(b.bitsPerToken, 4)} ± ${fmt(b.stdErr, 4)} bits/token\n`,
          );
        }
      }
      detailModels.push({
        name: plan.name,
        stdErr: ev.stdErr,
        evalSequences: ev.sequences,
        bound: ev.bound,
        gapBitsPerToken: ev.bitsPerToken - ent.entropyBitsPerToken,
        ...(boundVsT.length ? { boundVsT } : {}),
      });
    } finally {
      r.trainer.dispose();
      r.runtime.dispose();
    }
    if (interrupted) break;
  }
  const report: DemoReport = {
    backend: backend.name,
    source: { name: source.name, entropyBitsPerToken: ent.entropyBitsPerToken },
    models,
  };
  const details: DemoDetails = {
    sourceEntropyStdErr: ent.stdErr,
    marginalEntropyBitsPerToken: ent.marginalEntropyBitsPerToken,
    multiInfoBitsPerToken: ent.multiInfoBitsPerToken,
    vocabSize: source.vocabSize,
    seqLen: source.seqLen,
    models: detailModels,
    wallSeconds: (Date.now() - t0) / 1000,
    quick: o.quick,
    interrupted,
  };
  writeFileSync(join(o.out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(o.out, 'details.json'), JSON.stringify(details, null, 2) + '\n');
  writeDemoPlots(o.out, report, details);
  writeFileSync(join(o.out, 'report.md'), renderReportMd(report, details, backend));
  return { report, details, interrupted };
}
