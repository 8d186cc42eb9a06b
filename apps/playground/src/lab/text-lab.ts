/**
 * The Text view's lab (inside the compute worker): one model per token family over a text corpus, built
 * by @altar/recipes from a run config with `data.source: 'text'` (the same recipe as `altar train`),
 * trained step by step so it can stream and pause, evaluated on the corpus's held-out tail in bits per
 * character, and sampled as text (text-sampling.ts). Text models live beside the HMM models of the other
 * views and are not kept across reloads; the visitor's own text is (the page's IndexedDB store).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, Rng } from '@altar/backend';
import type { TokenCorpus } from '@altar/data';
import { createModel } from '@altar/models';
import { buildRuntime, parseRunConfig, type FamilyRuntime, type RunConfig } from '@altar/recipes';
import { Trainer, type ParamMap } from '@altar/train';
import type {
  TextCorpusInfo,
  TextCorpusReq,
  TextSampleReq,
  TextSampleResult,
  TextTrainReq,
  WorkerEvent,
} from '../protocol.js';
import type { Family, Size } from '../state.js';
import { interactiveTrainConfig, modelConfigFor } from './families.js';
import { Mutex } from './mutex.js';
import { yieldToEvents } from './sampling.js';
import { corpusPath, TextCorpora, TEXT_VAL_FRACTION } from './text-corpus.js';
import { sampleText } from './text-sampling.js';
import { D3PM_T, isTokenFamily } from './token-runtime.js';

/** Characters (or bytes) per training window: a line or two of verse. */
export const TEXT_SEQ_LEN = 64;
/** Validation every this many steps (and whenever training pauses), on TEXT_EVAL windows of the held-out tail. */
export const TEXT_EVAL_EVERY = 50;
export const TEXT_EVAL = { batches: 2, batchSize: 16 } as const;

interface TextSlot {
  /** Corpus key, size and seed: a change of any builds a new model. */
  key: string;
  info: TextCorpusInfo;
  corpus: TokenCorpus;
  runtime: FamilyRuntime;
  trainer: Trainer<tf.Tensor2D> | null;
  lr: number;
  batch: number;
  seed: number;
  stepBase: number;
  running: boolean;
  loopDone?: Promise<void>;
  busySec: number;
  chars: number;
  val: { step: number; bitsPerChar: number; stdErr: number } | null;
}

/**
 * The run config of a text model: the playground's model sizes over the corpus's vocabulary, masked
 * diffusion on the linear schedule, D3PM absorbing with T = D3PM_T (as the CLI's Shakespeare presets).
 */
export function textRunConfig(
  family: Family,
  size: Size,
  info: Pick<TextCorpusInfo, 'path' | 'tokenizer' | 'vocabSize'>,
  seed: number,
  batch: number,
): RunConfig {
  if (!isTokenFamily(family))
    throw new AltarError(
      'BAD_ARG',
      `text: family '${family}' is not a token family (use ar, ssm, masked-diffusion or d3pm)`,
    );
  const diffusion =
    family === 'masked-diffusion'
      ? { diffusion: { process: 'masked', schedule: 'linear', timesteps: 'stratified' } }
      : family === 'd3pm'
        ? { diffusion: { process: 'absorbing', T: D3PM_T, timesteps: 'stratified' } }
        : {};
  return parseRunConfig({
    name: `playground-text-${family}`,
    family,
    data: {
      source: 'text',
      text: { path: info.path, tokenizer: info.tokenizer, seqLen: TEXT_SEQ_LEN, valFraction: TEXT_VAL_FRACTION },
      batchSize: batch,
    },
    model: { ...modelConfigFor(family, size, info.vocabSize, TEXT_SEQ_LEN, seed) },
    ...diffusion,
    train: { seed },
  });
}

export class TextLab {
  private readonly corpora = new TextCorpora();
  private readonly slots = new Map<Family, TextSlot>();
  private readonly lock = new Mutex();

  constructor(private readonly emit: (e: WorkerEvent) => void) {}

  async corpus(req: TextCorpusReq): Promise<TextCorpusInfo> {
    return (await this.corpora.load(req)).info;
  }

  /** The family's model over this corpus, size and seed; a different one replaces it. */
  private async slot(req: TextTrainReq): Promise<TextSlot> {
    const { corpus, info } = await this.corpora.load(req);
    const key = `${info.key}|${req.size}|${req.seed}`;
    const have = this.slots.get(req.family);
    if (have?.key === key) return have;
    if (have) void this.reset(req.family);
    const config = textRunConfig(req.family, req.size, { ...info, path: corpusPath(req) }, req.seed, req.batch);
    const model = createModel(modelConfigFor(req.family, req.size, info.vocabSize, TEXT_SEQ_LEN, req.seed));
    const runtime = buildRuntime(config, { corpus, model });
    const s: TextSlot = {
      key,
      info,
      corpus,
      runtime,
      trainer: null,
      lr: 0,
      batch: 0,
      seed: req.seed,
      stepBase: 0,
      running: false,
      busySec: 0,
      chars: 0,
      val: null,
    };
    this.slots.set(req.family, s);
    return s;
  }

  private trainerOf(s: TextSlot, lr: number, batch: number): Trainer<tf.Tensor2D> {
    if (s.trainer && s.lr === lr && s.batch === batch) return s.trainer;
    if (s.trainer) {
      s.stepBase += s.trainer.step;
      s.trainer.dispose();
    }
    s.lr = lr;
    s.batch = batch;
    const rt = s.runtime;
    s.trainer = new Trainer<tf.Tensor2D>({
      params: rt.model.getWeights() as ParamMap,
      loss: rt.loss,
      nextBatch: (rng: Rng) => rt.nextBatch(rng, batch),
      disposeBatch: (b) => b.dispose(),
      tokensPerBatch: batch * TEXT_SEQ_LEN,
      config: interactiveTrainConfig(rt.family as Family, lr, s.seed + s.stepBase),
    });
    return s.trainer;
  }

  private stepOf(s: TextSlot): number {
    return s.stepBase + (s.trainer?.step ?? 0);
  }

  private charsPerToken(s: TextSlot): number {
    return s.runtime.text?.charsPerToken ?? s.info.charsPerToken;
  }

  /** One optimiser step (under the lock): the loss in bits per character. */
  private async step(family: Family, s: TextSlot, lr: number, batch: number): Promise<number> {
    const tr = this.trainerOf(s, lr, batch);
    const t0 = performance.now();
    const r = await tr.trainStep();
    s.busySec += (performance.now() - t0) / 1000;
    s.chars += r.tokens * this.charsPerToken(s);
    if (!Number.isFinite(r.loss))
      throw new AltarError(
        'NON_FINITE',
        `training ${family} on text: loss became ${r.loss} at step ${this.stepOf(s)}; lower the learning rate (lr=${lr})`,
      );
    return r.loss / Math.LN2 / this.charsPerToken(s);
  }

  /** Validation bits per character on the held-out tail (under the lock). */
  private async validate(s: TextSlot): Promise<void> {
    const step = this.stepOf(s);
    const rng = new Rng(s.seed ^ 0x7e47).fork(`val:${step}`);
    const e = await s.runtime.evaluate(rng, { ...TEXT_EVAL });
    const cpt = this.charsPerToken(s);
    s.val = {
      step,
      bitsPerChar: e.bitsPerChar ?? e.bitsPerToken / cpt,
      stdErr: e.bitsPerCharStdErr ?? e.stdErr / cpt,
    };
  }

  private event(family: Family, s: TextSlot, bitsPerChar: number): void {
    this.emit({
      type: 'text-train',
      family,
      key: s.info.key,
      step: this.stepOf(s),
      bitsPerChar,
      running: s.running,
      val: s.val,
      unigramBitsPerChar: s.info.unigramBitsPerChar,
      charsPerSec: s.busySec > 0 ? s.chars / s.busySec : 0,
      paramCount: s.runtime.model.paramCount(),
    });
  }

  async trainStart(req: TextTrainReq): Promise<{ paramCount: number; step: number }> {
    for (const [f, other] of this.slots) if (f !== req.family) other.running = false;
    const s = await this.slot(req);
    if (!s.running) {
      s.running = true;
      s.loopDone = this.loop(req.family, s, req.lr, req.batch);
    }
    return { paramCount: s.runtime.model.paramCount(), step: this.stepOf(s) };
  }

  private async loop(family: Family, s: TextSlot, lr: number, batch: number): Promise<void> {
    try {
      while (s.running && this.slots.get(family) === s) {
        const bits = await this.lock.run(async () => {
          const b = await this.step(family, s, lr, batch);
          const n = this.stepOf(s);
          if (n === 1 || n % TEXT_EVAL_EVERY === 0) await this.validate(s);
          return b;
        });
        this.event(family, s, bits);
        await yieldToEvents();
      }
      // The final evaluation: a paused model always shows its current validation bits/char.
      if (this.slots.get(family) === s && s.val?.step !== this.stepOf(s)) await this.lock.run(() => this.validate(s));
    } catch (e) {
      this.emit({ type: 'log', level: 'warn', message: e instanceof Error ? e.message : String(e) });
    }
    s.running = false;
    if (this.slots.get(family) === s) this.event(family, s, NaN);
  }

  async trainPause(family: Family): Promise<{ step: number } | null> {
    const s = this.slots.get(family);
    if (!s) return null;
    s.running = false;
    await s.loopDone;
    return { step: this.stepOf(s) };
  }

  /** Drops the family's model; resolves once an in-flight step is done and its tensors are freed. */
  reset(family: Family): Promise<void> {
    const s = this.slots.get(family);
    if (!s) return Promise.resolve();
    s.running = false;
    this.slots.delete(family);
    return this.lock.run(async () => {
      s.trainer?.dispose();
      s.runtime.dispose();
    });
  }

  /** Samples (or an infill of req.template) from the family's model, trained or not. */
  async sample(req: TextSampleReq): Promise<TextSampleResult> {
    const s = await this.slot(req);
    return this.lock.run(() => sampleText(s.runtime, s.corpus, req, TEXT_SEQ_LEN));
  }
}
