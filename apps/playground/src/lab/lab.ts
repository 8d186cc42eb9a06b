/**
 * The playground's Lab (runs inside the compute worker): one slot per family (model, runtime, trainer),
 * the training loop driven step by step so training can pause, resume and stream, persistence in the
 * browser, sampling and the ELBO anatomy. Data: sources.ts; recipes: token-runtime.ts (@altar/recipes)
 * and continuous.ts; checkpoint files: checkpoint-io.ts; results for the page: results.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import { createModel, loadModel, tensorsToSafetensors, type DiffusionTransformer } from '@altar/models';
import { Trainer, type ParamMap } from '@altar/train';
import type {
  ElboResult,
  ForwardData,
  ModelSummary,
  RaceResult,
  SampleResult,
  SourceInfo,
  SweepPoint,
  TrainConfigMsg,
  WorkerEvent,
} from '../protocol.js';
import {
  SAMPLERS_BY_FAMILY,
  isContinuous,
  samplerFor,
  pointSourceOf,
  type Family,
  type ProcessName,
  type Size,
  type SourceName,
} from '../state.js';
import { elboTerms, oneTermSamples } from './anatomy.js';
import { exportMetadata, exportRunConfig, readCheckpoint, type ImportedCheckpoint } from './checkpoint-io.js';
import { IMAGE_TRAIN, imageModelConfig } from './continuous.js';
import {
  buildGaussianRuntime,
  buildImageRuntime,
  interactiveTrainConfig,
  familyOfModel,
  loadedContinuousRuntime,
  mixtureScale,
  modelConfigFor,
  newModel,
} from './families.js';
import { Mutex } from './mutex.js';
import { ModelStore, SAVE_EVERY_MS } from './persist.js';
import { sampleResult } from './results.js';
import type { FamilyRuntime } from './runtime.js';
import { BOUND_EVAL, type Slot } from './slot.js';
import { Sources } from './sources.js';
import { buildTokenRuntime } from './token-runtime.js';

const yieldToEvents = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

export class Lab {
  private readonly src = new Sources();
  private readonly slots = new Map<Family, Slot>();
  private readonly emit: (e: WorkerEvent) => void;
  private readonly lock = new Mutex();
  private readonly store = new ModelStore();
  private persistWarned = false;

  constructor(emit: (e: WorkerEvent) => void) {
    this.emit = emit;
  }

  sourceInfo(name: SourceName): SourceInfo {
    return this.src.sourceInfo(name);
  }

  forward(name: SourceName, process: ProcessName, seed: number): ForwardData {
    return this.src.forward(name, process, seed);
  }

  private summary(f: Family, s: Slot): ModelSummary {
    const m = s.runtime.model;
    return {
      family: f,
      paramCount: m.paramCount(),
      bytesPerWeight: m.bytesPerWeight,
      step: this.stepOf(s),
      origin: s.origin,
      config: { ...m.config },
    };
  }

  private stepOf(s: Slot): number {
    return s.stepBase + (s.trainer?.step ?? 0);
  }

  models(): ModelSummary[] {
    return [...this.slots.entries()].map(([f, s]) => this.summary(f, s));
  }

  /** The family's model, created (untrained) when absent or when the size changed. */
  private slot(family: Family, size: Size, seed: number, sourceName: SourceName = 'hmm'): Slot {
    const source = family === 'gaussian' ? pointSourceOf(sourceName) : family === 'gaussian-image' ? 'shapes' : 'hmm';
    const have = this.slots.get(family);
    if (have && (have.size === size || have.size === 'checkpoint') && have.source === source) return have;
    if (have) this.trainReset(family, false);
    const runtime =
      source === 'hmm'
        ? buildTokenRuntime(family, newModel(family, size, this.src.hmm, seed), this.src.hmm)
        : source === 'shapes'
          ? buildImageRuntime(createModel(imageModelConfig(size, seed)))
          : buildGaussianRuntime(
              createModel(modelConfigFor('gaussian', size, 0, 0, seed)),
              this.src.gmm(source),
              undefined,
              source,
            );
    const s: Slot = {
      runtime,
      source,
      size,
      trainer: null,
      lr: 0,
      batch: 0,
      seed,
      running: false,
      busySec: 0,
      tokens: 0,
      stepBase: 0,
      origin: `trained here (${size})`,
      boundBits: null,
      boundStdErr: 0,
      boundStep: -1,
      savedAtMs: 0,
    };
    this.slots.set(family, s);
    return s;
  }

  /** A Trainer for the slot's current lr / batch (a change starts a fresh optimiser state). */
  private trainer(s: Slot, lr: number, batch: number): Trainer<tf.Tensor2D> {
    if (s.trainer && s.lr === lr && s.batch === batch) return s.trainer;
    if (s.trainer) {
      s.stepBase += s.trainer.step;
      s.trainer.dispose();
    }
    s.lr = lr;
    s.batch = batch;
    const rt = s.runtime;
    const nextBatch = rt.nextBatch
      ? (rng: Rng) => rt.nextBatch!(rng, batch)
      : (rng: Rng) => this.src.hmm.sampleTensor(batch, rng);
    const base = interactiveTrainConfig(rt.family, lr, s.seed + s.stepBase);
    s.trainer = new Trainer<tf.Tensor2D>({
      params: rt.model.getWeights() as ParamMap,
      loss: rt.loss,
      nextBatch,
      disposeBatch: (b) => b.dispose(),
      // Tokens, points or pixels per step, for the speed figure.
      tokensPerBatch: batch * (rt.unitsPerExample ?? this.src.hmm.seqLen),
      // Constant lr after a short warmup; the continuous families add a longer warmup and EMA weights.
      config:
        rt.family === 'gaussian-image'
          ? { ...base, warmupSteps: IMAGE_TRAIN.warmupSteps, emaDecay: IMAGE_TRAIN.emaDecay }
          : base,
    });
    return s.trainer;
  }

  /** One optimiser step; the loss in bits per token (exact NLL for AR/SSM, NELBO for diffusion). */
  private stepOnce(f: Family, s: Slot, lr: number, batch: number): Promise<number> {
    return this.lock.run(() => this.stepUnlocked(f, s, lr, batch));
  }

  private async stepUnlocked(f: Family, s: Slot, lr: number, batch: number): Promise<number> {
    const tr = this.trainer(s, lr, batch);
    const t0 = performance.now();
    const r = await tr.trainStep();
    s.busySec += (performance.now() - t0) / 1000;
    s.tokens += r.tokens;
    if (!Number.isFinite(r.loss))
      throw new AltarError(
        'NON_FINITE',
        `training ${f}: loss became ${r.loss} at step ${this.stepOf(s)}; lower the learning rate (lr=${lr})`,
      );
    // Token losses are nats per token → bits; the continuous families' prediction MSE is shown as it is.
    const loss = s.source === 'hmm' ? r.loss / Math.LN2 : r.loss;
    const ev = isContinuous(f) ? BOUND_EVAL[f] : null;
    const step = this.stepOf(s);
    if (ev && s.runtime.boundBits && (step % ev.every === 0 || step === 1)) {
      // The bound of the weights the sampler uses (the EMA) in bits/dim, comparable with the entropy, on
      // fresh data, noise and times at every evaluation, so each point is an unbiased estimate. (Fixed draws
      // made a smoother curve, but a biased one: the one-sample estimate is skewed, so a typical fixed draw
      // sits below its mean, and the 2-D curve crossed the entropy. Log-SNR-uniform times keep fresh draws
      // quiet instead.)
      const rng = new Rng(s.seed ^ 0x5eed).fork(`bound:${step}`);
      const bound = s.runtime.boundBits;
      const r = await tr.withEvalWeights(() => bound(rng, ev.n));
      s.boundBits = r.bits;
      s.boundStdErr = r.stdErr;
      s.boundStep = step;
    }
    return loss;
  }

  /** The floor for the bits/dim (or bits/token) curve: the source's entropy where it is known. */
  private entropyOf(s: Slot): number | null {
    if (s.source === 'hmm') return this.src.tokenInfo().entropyBits;
    if (s.source === 'shapes') return null; // procedural images: no known density
    return this.src.sourceInfo(s.source).entropyBits;
  }

  private event(f: Family, s: Slot, bits: number): void {
    this.emit({
      type: 'train',
      family: f,
      step: this.stepOf(s),
      bits,
      running: s.running,
      tokensPerSec: s.busySec > 0 ? s.tokens / s.busySec : 0,
      entropyBits: this.entropyOf(s),
      bound: s.boundBits === null ? null : { step: s.boundStep, bits: s.boundBits, stdErr: s.boundStdErr },
      unit: s.source === 'hmm' ? 'token' : s.source === 'shapes' ? 'pixel' : 'point',
    });
  }

  trainStart(cfg: TrainConfigMsg): ModelSummary {
    for (const [f, other] of this.slots) if (f !== cfg.family) other.running = false;
    const s = this.slot(cfg.family, cfg.size, cfg.seed, cfg.source);
    if (!s.running) {
      s.running = true;
      s.loopDone = this.loop(cfg.family, s, cfg.lr, cfg.batch);
    }
    return this.summary(cfg.family, s);
  }

  private async loop(f: Family, s: Slot, lr: number, batch: number): Promise<void> {
    try {
      while (s.running && this.slots.get(f) === s) {
        const bits = await this.stepOnce(f, s, lr, batch);
        this.event(f, s, bits);
        if (performance.now() - s.savedAtMs > SAVE_EVERY_MS) await this.persist(f, s);
        await yieldToEvents();
      }
    } catch (e) {
      s.running = false;
      this.emit({ type: 'log', level: 'warn', message: e instanceof Error ? e.message : String(e) });
    }
    // Saved before the final event, so a page that sees 'paused' can reload without losing the model.
    if (this.slots.get(f) === s) await this.persist(f, s);
    this.event(f, s, NaN);
  }

  /**
   * Writes the family's checkpoint to this browser's storage (see persist.ts), the sampling weights
   * (EMA where the trainer keeps one). A failure is reported once as a warning, never fatal.
   */
  private async persist(f: Family, s: Slot): Promise<void> {
    s.savedAtMs = performance.now();
    if (!ModelStore.available()) return;
    try {
      const ck = await this.exportCheckpoint(f);
      if (this.slots.get(f) !== s) return; // reset meanwhile
      await this.store.save({
        family: f,
        config: ck.config,
        safetensors: ck.safetensors,
        step: this.stepOf(s),
        savedAt: Date.now(),
      });
    } catch (e) {
      if (!this.persistWarned)
        this.emit({
          type: 'log',
          level: 'warn',
          message: `could not keep the ${f} model in this browser: ${(e as Error).message}`,
        });
      this.persistWarned = true;
    }
  }

  /** Models kept by an earlier visit (persist.ts), loaded back into their slots; returns what was restored. */
  async restore(): Promise<ModelSummary[]> {
    const out: ModelSummary[] = [];
    for (const m of await this.store.all().catch(() => [])) {
      try {
        const when = new Date(m.savedAt).toLocaleString();
        out.push(await this.loadCheckpoint(m.config, m.safetensors, `restored from this browser (saved ${when})`));
      } catch (e) {
        await this.store.remove(m.family);
        this.emit({
          type: 'log',
          level: 'warn',
          message: `a saved ${m.family} model could not be restored and was discarded: ${(e as Error).message}`,
        });
      }
    }
    return out;
  }

  /** Stops the loop and answers once its last step is done and the model is saved (so a reload loses nothing). */
  async trainPause(family: Family): Promise<ModelSummary | null> {
    const s = this.slots.get(family);
    if (!s) return null;
    s.running = false;
    await s.loopDone;
    return this.summary(family, s);
  }

  /** Drops the family's model; `forget` also deletes the copy kept in this browser (the Reset button). */
  trainReset(family: Family, forget = true): void {
    if (forget) void this.store.remove(family).catch(() => undefined);
    const s = this.slots.get(family);
    if (!s) return;
    s.running = false;
    this.slots.delete(family);
    // Free the variables once an in-flight step (or sampler) is done with them.
    void this.lock.run(async () => {
      s.trainer?.dispose();
      s.runtime.dispose();
    });
  }

  async trainSteps(cfg: TrainConfigMsg, steps: number): Promise<ModelSummary> {
    const s = this.slot(cfg.family, cfg.size, cfg.seed, cfg.source);
    s.running = false;
    for (let i = 0; i < steps; i++) {
      const bits = await this.stepOnce(cfg.family, s, cfg.lr, cfg.batch);
      if (i % 5 === 4 || i === steps - 1) this.event(cfg.family, s, bits);
      await yieldToEvents();
    }
    await this.persist(cfg.family, s);
    return this.summary(cfg.family, s);
  }

  /** `sampler`: 'auto' (the family's default) or one of SAMPLERS_BY_FAMILY[family]; anything else is an error naming the choices. */
  async sample(
    family: Family,
    T: number,
    seed: number,
    batch: number,
    size: Size,
    sampler = 'auto',
  ): Promise<SampleResult> {
    const list = SAMPLERS_BY_FAMILY[family];
    if (sampler !== 'auto' && !list.includes(sampler))
      throw new AltarError(
        'BAD_ARG',
        `sample: sampler '${sampler}' does not apply to ${family} (use ${list.join(', ')})`,
      );
    return this.lock.run(() => this.sampleUnlocked(family, T, seed, batch, size, samplerFor(family, sampler)));
  }

  private async sampleUnlocked(
    family: Family,
    T: number,
    seed: number,
    batch: number,
    size: Size,
    sampler: string,
  ): Promise<SampleResult> {
    const s = this.slots.get(family) ?? this.slot(family, size, seed);
    const rng = new Rng(seed).fork(`sample:${family}:${T}`);
    const B = family === 'gaussian' ? Math.max(batch, 400) : batch;
    // Sample with the trainer's EMA weights where it keeps them (the continuous families).
    const run = s.trainer
      ? await s.trainer.withEvalWeights(() => s.runtime.sample(rng, B, T, sampler))
      : await s.runtime.sample(rng, B, T, sampler);
    return sampleResult(this.src, family, run, B, s.runtime.model, s.source, s.boundBits);
  }

  async race(T: number, seed: number, batch: number, size: Size): Promise<RaceResult> {
    const ar = await this.sample('ar', T, seed, batch, size);
    const mdm = await this.sample('masked-diffusion', T, seed, batch, size);
    return { ar, mdm, n: this.src.hmm.seqLen, T, entropyBits: this.src.tokenInfo().entropyBits! };
  }

  async sweep(
    Ts: number[],
    seed: number,
    batch: number,
    size: Size,
  ): Promise<{ points: SweepPoint[]; ar: SweepPoint; entropyBits: number }> {
    const points: SweepPoint[] = [];
    for (const T of Ts) {
      const r = await this.sample('masked-diffusion', T, seed, batch, size);
      points.push({
        T,
        nfe: r.cost.nfe,
        weightBytesLoaded: r.cost.weightBytesLoaded,
        wallMs: r.cost.wallMs,
        nllBits: r.nllBits,
      });
      await yieldToEvents();
    }
    const a = await this.sample('ar', 0, seed, batch, size);
    const ar = {
      T: this.src.hmm.seqLen,
      nfe: a.cost.nfe,
      weightBytesLoaded: a.cost.weightBytesLoaded,
      wallMs: a.cost.wallMs,
      nllBits: a.nllBits,
    };
    return { points, ar, entropyBits: this.src.tokenInfo().entropyBits! };
  }

  elbo(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    return this.lock.run(() => this.elboUnlocked(T, seed, draws, size));
  }

  private async elboUnlocked(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    const s = this.slots.get('masked-diffusion') ?? this.slot('masked-diffusion', size, seed);
    const proc = s.runtime.masked!;
    const den = s.runtime.model as DiffusionTransformer;
    const rng = new Rng(seed).fork(`elbo:${T}`);
    const evalSet = this.src.hmm.sampleTensor(48, rng);
    let terms: number[];
    try {
      terms = await elboTerms(proc, den, evalSet, T, rng);
    } finally {
      evalSet.dispose();
    }
    const estimates: number[] = [];
    while (estimates.length < draws) {
      const x = this.src.hmm.sampleTensor(Math.min(64, draws - estimates.length), rng);
      try {
        estimates.push(...(await oneTermSamples(proc, den, x, T, rng)));
      } finally {
        x.dispose();
      }
      await yieldToEvents();
    }
    return {
      T,
      terms,
      total: terms.reduce((a, b) => a + b, 0),
      estimates,
      entropyBits: this.src.tokenInfo().entropyBits!,
    };
  }

  /** The same two files `altar train` writes: a run config.json and a model.safetensors with the model config in its metadata. */
  exportCheckpoint(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    return this.lock.run(() => this.exportUnlocked(family));
  }

  private async exportUnlocked(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    const s = this.slots.get(family);
    if (!s) throw new AltarError('NO_MODEL', `export: no ${family} model has been trained yet`);
    const m = s.runtime.model;
    const step = this.stepOf(s);
    const meta = exportMetadata(family, s.runtime, step);
    // The sampling weights: the EMA where the trainer keeps one (continuous families), else the live ones.
    const write = () => tensorsToSafetensors(m.getWeights(), meta);
    const weights = s.trainer ? await s.trainer.withEvalWeights(write) : await write();
    return {
      config: exportRunConfig(s.runtime.runConfig, { lr: s.lr, seed: s.seed, steps: step }),
      safetensors: weights,
    };
  }

  /**
   * Load an `altar train` checkpoint (or a playground export): config.json + model.safetensors. A loaded
   * file is kept in this browser like a trained model; a restored one (`origin` given) is already there.
   */
  async loadCheckpoint(configText: string, bytes: Uint8Array, origin?: string): Promise<ModelSummary> {
    const sum = await this.lock.run(() => this.loadUnlocked(configText, bytes, origin ?? 'loaded from a checkpoint'));
    const s = this.slots.get(sum.family);
    if (s && origin === undefined) await this.persist(sum.family, s);
    return sum;
  }

  private async loadUnlocked(configText: string, bytes: Uint8Array, origin: string): Promise<ModelSummary> {
    const ck = readCheckpoint(configText, bytes);
    if (ck.kind === 'continuous') return this.loadContinuous(ck, bytes, origin);
    const model = loadModel(
      ck.modelConfig !== undefined ? { config: ck.modelConfig, weights: bytes } : { weights: bytes },
    );
    let family: Family;
    let runtime: FamilyRuntime;
    try {
      family = familyOfModel(model, ck.run?.family ?? ck.meta['altar.family']);
      runtime = buildTokenRuntime(family, model, this.src.hmm);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return this.install(family, runtime, 'hmm', ck.meta, origin);
  }

  private install(
    family: Family,
    runtime: FamilyRuntime,
    source: Slot['source'],
    meta: Record<string, string>,
    origin: string,
  ): ModelSummary {
    this.trainReset(family, false);
    const steps = Number.parseInt(meta['step'] ?? '0', 10) || 0;
    const slot: Slot = {
      runtime,
      source,
      size: 'checkpoint',
      trainer: null,
      lr: 0,
      batch: 0,
      seed: 0,
      running: false,
      busySec: 0,
      tokens: 0,
      stepBase: steps,
      origin,
      boundBits: null,
      boundStdErr: 0,
      boundStep: -1,
      savedAtMs: performance.now(),
    };
    this.slots.set(family, slot);
    return this.summary(family, slot);
  }

  /**
   * A Gaussian-family checkpoint: a U-Net on the playground's 16×16 grey shapes, or an MLP on one of its
   * 2-D mixtures. `altar train` models see the data as it is; playground models record the scale they
   * divide it by ('altar.dataScale').
   */
  private loadContinuous(
    ck: Extract<ImportedCheckpoint, { kind: 'continuous' }>,
    bytes: Uint8Array,
    origin: string,
  ): ModelSummary {
    const { meta, source, process: kind } = ck;
    // The scale the model divides the data by: a playground export records it; an `altar train` run says data.gmm.standardise.
    const standardise = source !== 'shapes' && 'gmm' in ck.run.data && ck.run.data.gmm.standardise;
    const scale =
      meta['altar.dataScale'] !== undefined
        ? Number(meta['altar.dataScale'])
        : standardise
          ? mixtureScale(this.src.gmm(source))
          : 1;
    if (!(scale > 0))
      throw new ConfigError(
        'model.safetensors.metadata.altar.dataScale',
        `expected a positive number, got '${meta['altar.dataScale']}'`,
      );
    const modelCfg = ck.modelConfig;
    const model = loadModel(modelCfg !== undefined ? { config: modelCfg, weights: bytes } : { weights: bytes });
    const family = source === 'shapes' ? 'gaussian-image' : 'gaussian';
    let runtime: FamilyRuntime;
    try {
      runtime = loadedContinuousRuntime(model, source, kind, source === 'shapes' ? null : this.src.gmm(source), scale);
    } catch (e) {
      model.dispose();
      throw new ConfigError('config.json.model', (e as Error).message);
    }
    return this.install(family, runtime, source, meta, origin);
  }
}
