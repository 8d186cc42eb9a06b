/**
 * `altar demo --data shakespeare`: the four token families on real text at one budget. Each trains from
 * its shakespeare-char preset (apps/trainer/configs, nanoGPT's "baby GPT" sizes) for the same number of
 * steps; then the demo reports validation bits per character (exact NLL for AR and SSM, the NELBO for
 * diffusion), samples every model (diffusion at several T) and scores the samples by what text allows:
 * generative perplexity under the AR model, unigram entropy and repeated 4-grams beside the corpus's,
 * and the sampling cost. Writes text-report.json, report.md and SVG plots.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng, type BackendInfo } from '@altar/backend';
import { parseRunConfig, type FamilyRuntime, type RunConfig, type SamplerName } from '@altar/recipes';
import { repeatedNgramShare, unigramEntropyBits } from '@altar/samplers';
import type { CommandIO } from '../io.js';
import { fmt } from './demo-report.js';
import { renderTextReportMd, writeTextPlots, type TextModelEntry, type TextReport } from './text-demo-report.js';
import { ensureDir, refuseSpecialFs } from './run-dir.js';
import { trainRun, type TrainRunResult } from './train-run.js';

/** The presets the demo trains, in order (AR first: it scores the others' samples). */
export const TEXT_PRESETS = ['ar', 'masked', 'd3pm', 'ssm'] as const;

/** A preset config file of apps/trainer/configs (shipped with the package). */
export function readPreset(name: (typeof TEXT_PRESETS)[number]): Record<string, unknown> {
  const url = new URL(`../../configs/shakespeare-char-${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

export interface TextDemoOptions {
  out: string;
  quick: boolean;
  /** Training steps of every model (default 250; quick 30). */
  steps?: number;
  /** Sequences per sampling run (default 16; quick 4). */
  samples?: number;
  seed: number;
  signal?: AbortSignal;
}

/** The diffusion step counts the demo samples with (each at most the window, 64 characters). */
const SAMPLE_TS = [8, 16, 64];
/** The masked model's discrete-time bound is evaluated at these T. */
const BOUND_TS = [4, 16, 64, 256];

export function textDemoPlans(o: TextDemoOptions): RunConfig[] {
  const steps = o.steps ?? (o.quick ? 30 : 250);
  return TEXT_PRESETS.map((p) => {
    const raw = readPreset(p);
    const train = {
      ...(raw['train'] as object),
      steps,
      evalEvery: 0,
      seed: o.seed,
      warmupSteps: Math.min(100, Math.ceil(steps / 10)),
    };
    const ev = { ...(raw['eval'] as object), samples: 0, ...(o.quick ? { batches: 2 } : {}) };
    return parseRunConfig({ ...raw, train, eval: ev, checkpoint: { every: 0, keepLast: 1 } });
  });
}

function samplerRuns(rt: FamilyRuntime): { sampler: SamplerName; steps?: number }[] {
  if (rt.samplers[0] === 'ar') return [{ sampler: 'ar' }];
  return SAMPLE_TS.map((T) => ({ sampler: rt.samplers[rt.samplers.length - 1]!, steps: T }));
}

export async function runTextDemo(
  o: TextDemoOptions,
  backend: BackendInfo,
  io: CommandIO,
): Promise<{ report: TextReport; interrupted: boolean }> {
  const t0 = Date.now();
  refuseSpecialFs(o.out, '--out');
  ensureDir(o.out);
  const plans = textDemoPlans(o);
  const n = o.samples ?? (o.quick ? 4 : 16);
  io.err(
    `altar demo --data shakespeare: backend ${backend.name}; ${plans[0]!.train.steps} steps per model → ${o.out}\n`,
  );
  const models: TextModelEntry[] = [];
  let ar: TrainRunResult | null = null;
  let interrupted = false;
  let corpusInfo: TextReport['corpus'] | null = null;
  try {
    for (const [i, config] of plans.entries()) {
      if (o.signal?.aborted) {
        interrupted = true;
        break;
      }
      io.err(`\n[${i + 1}/${plans.length}] ${config.name}: training ${config.train.steps} steps\n`);
      const r = await trainRun({
        config,
        outDir: join(o.out, 'models', config.name),
        io,
        label: config.name,
        dumpSamples: false,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      const rt = r.runtime;
      const text = rt.text!;
      try {
        if (r.reason === 'interrupted') interrupted = true;
        corpusInfo ??= {
          name: text.corpus.name,
          tokenizer: text.corpus.tokenizerKind,
          vocabSize: rt.vocabSize,
          trainTokens: text.corpus.splitTokens('train'),
          valTokens: text.corpus.splitTokens('val'),
          unigramEntropyBitsPerChar: text.unigramEntropyBits / text.charsPerToken,
        };
        const ev = await r.trainer.withEvalWeights(() =>
          rt.evaluate(new Rng(o.seed).fork('heldout'), {
            batches: config.eval.batches,
            batchSize: config.eval.batchSize,
            // masked: 8 stratified t per sequence; D3PM's 'full' would sum all T terms (T forward passes per sequence)
            bound: rt.family === 'masked-diffusion' ? 'full' : 'one-term',
          }),
        );
        io.err(
          `  validation ${rt.boundKind === 'nll' ? 'exact NLL' : 'NELBO'} ${fmt(ev.bitsPerChar!, 4)} ± ${fmt(ev.bitsPerCharStdErr!, 4)} bits/char (unigram entropy ${fmt(corpusInfo.unigramEntropyBitsPerChar, 3)})\n`,
        );
        const entry: TextModelEntry = {
          name: config.name,
          family: config.family,
          params: rt.model.paramCount(),
          trainSteps: r.step,
          trainSeconds: Number(r.trainSeconds.toFixed(2)),
          bitsPerChar: ev.bitsPerChar!,
          stdErr: ev.bitsPerCharStdErr!,
          boundKind: rt.boundKind,
          sampling: [],
        };
        if (rt.discreteBound && !o.signal?.aborted) {
          entry.boundVsT = [];
          for (const T of BOUND_TS) {
            const b = await r.trainer.withEvalWeights(() =>
              rt.discreteBound!(
                new Rng(o.seed).fork(`bound-${T}`),
                { batches: config.eval.batches, batchSize: config.eval.batchSize },
                T,
              ),
            );
            entry.boundVsT.push({ T, bitsPerChar: b.bitsPerChar!, stdErr: b.bitsPerCharStdErr! });
            io.err(`  T-step bound, T = ${String(T).padStart(3)}: ${fmt(b.bitsPerChar!, 4)} bits/char\n`);
          }
        }
        for (const s of samplerRuns(rt)) {
          if (o.signal?.aborted) break;
          const res = await r.trainer.withEvalWeights(() =>
            rt.sample(new Rng(o.seed).fork(`sample-${config.name}-${s.steps ?? 0}`), {
              sampler: s.sampler,
              n,
              ...(s.steps ? { steps: s.steps } : {}),
            }),
          );
          const tokens = res.tokens as Int32Array;
          const ref = ar ?? r; // the AR model (trained first) scores every family's samples
          const bits = await ref.trainer.withEvalWeights(() => ref.runtime.scoreTokens!(tokens, n));
          const genBits = bits.reduce((a, v) => a + v, 0) / n;
          const e = {
            sampler: rt.family === 'ssm' ? 'ssm-recurrent' : s.sampler === 'ar' ? 'ar-kv-cache' : s.sampler,
            steps: s.steps ?? rt.seqLen,
            nfe: res.cost.nfe,
            weightBytesLoaded: res.cost.weightBytesLoaded,
            wallMs: res.cost.wallMs,
            tokensPerSec: res.cost.tokensPerSec,
            generativePerplexity: 2 ** genBits,
            unigramEntropyBits: unigramEntropyBits(tokens, rt.vocabSize),
            repeated4gramShare: repeatedNgramShare(tokens, n, rt.seqLen, 4),
            samples: rt.formatRows(res).slice(0, 3),
          };
          entry.sampling.push(e);
          io.err(
            `  sample ${e.sampler.padEnd(14)} steps ${String(e.steps).padStart(3)}: NFE ${String(e.nfe).padStart(3)}, ${fmt(e.wallMs, 0).padStart(6)} ms, ` +
              `gen. perplexity ${fmt(e.generativePerplexity, 2)}, unigram entropy ${fmt(e.unigramEntropyBits, 3)} bits, repeated 4-grams ${fmt(100 * e.repeated4gramShare, 1)} %\n`,
          );
        }
        models.push(entry);
      } finally {
        if (rt.family === 'ar' && ar === null) ar = r;
        else {
          r.trainer.dispose();
          rt.dispose();
        }
      }
      if (interrupted) break;
    }
  } finally {
    if (ar) {
      ar.trainer.dispose();
      ar.runtime.dispose();
    }
  }
  const report: TextReport = {
    backend: backend.name,
    corpus: corpusInfo ?? {
      name: 'shakespeare',
      tokenizer: 'char',
      vocabSize: 0,
      trainTokens: 0,
      valTokens: 0,
      unigramEntropyBitsPerChar: NaN,
    },
    budget: { steps: plans[0]!.train.steps, batchSize: plans[0]!.data.batchSize, seqLen: 64 },
    models,
    wallSeconds: (Date.now() - t0) / 1000,
    interrupted,
  };
  writeFileSync(join(o.out, 'text-report.json'), JSON.stringify(report, null, 2) + '\n');
  writeTextPlots(o.out, report);
  writeFileSync(join(o.out, 'report.md'), renderTextReportMd(report, backend));
  return { report, interrupted };
}
