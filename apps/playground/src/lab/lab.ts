/**
 * The playground's Lab (runs inside the compute worker): one slot per family (model, runtime, trainer),
 * the training loop driven step by step so training can pause, resume and stream, persistence in the
 * browser, sampling and the ELBO anatomy. Data: sources.ts; recipes: token-runtime.ts (@altar/recipes)
 * and continuous.ts; checkpoint files: checkpoint-io.ts (models from them: checkpoint-load.ts); results
 * for the page: results.ts; the training step: training.ts; sampling and scoring: sampling.ts.
 */
import { AltarError } from '@altar/backend';
import { createModel, tensorsToSafetensors } from '@altar/models';
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
import { samplerFor, pointSourceOf, type Family, type ProcessName, type Size, type SourceName } from '../state.js';
import { exportMetadata, exportRunConfig, readCheckpoint } from './checkpoint-io.js';
import { runtimeFromCheckpoint } from './checkpoint-load.js';
import { imageModelConfig } from './continuous.js';
import { buildGaussianRuntime, buildImageRuntime, modelConfigFor, newModel } from './families.js';
import { Mutex } from './mutex.js';
import { ModelStore, SAVE_EVERY_MS } from './persist.js';
import type { FamilyRuntime } from './runtime.js';
import { checkSampler, elboOf, raceOf, sampleSlot, sweepOf, yieldToEvents } from './sampling.js';
import type { Slot } from './slot.js';
import { Sources } from './sources.js';
import { buildTokenRuntime } from './token-runtime.js';
import { stepOf, trainEvent, trainStep } from './training.js';

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
      step: stepOf(s),
      origin: s.origin,
      config: { ...m.config },
    };
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

  /** One optimiser step; the loss in bits per token (exact NLL for AR/SSM, NELBO for diffusion). */
  private stepOnce(f: Family, s: Slot, lr: number, batch: number): Promise<number> {
    return this.lock.run(() => trainStep(this.src, f, s, lr, batch));
  }

  private event(f: Family, s: Slot, bits: number): void {
    this.emit(trainEvent(this.src, f, s, bits));
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
        step: stepOf(s),
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
    checkSampler(family, sampler);
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
    return sampleSlot(this.src, s, family, T, seed, batch, sampler);
  }

  async race(T: number, seed: number, batch: number, size: Size): Promise<RaceResult> {
    return raceOf((f, t) => this.sample(f, t, seed, batch, size), this.src, T);
  }

  async sweep(
    Ts: number[],
    seed: number,
    batch: number,
    size: Size,
  ): Promise<{ points: SweepPoint[]; ar: SweepPoint; entropyBits: number }> {
    return sweepOf((f, t) => this.sample(f, t, seed, batch, size), this.src, Ts);
  }

  elbo(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    return this.lock.run(() => this.elboUnlocked(T, seed, draws, size));
  }

  private async elboUnlocked(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    const s = this.slots.get('masked-diffusion') ?? this.slot('masked-diffusion', size, seed);
    return elboOf(this.src, s, T, seed, draws);
  }

  /** The same two files `altar train` writes: a run config.json and a model.safetensors with the model config in its metadata. */
  exportCheckpoint(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    return this.lock.run(() => this.exportUnlocked(family));
  }

  private async exportUnlocked(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    const s = this.slots.get(family);
    if (!s) throw new AltarError('NO_MODEL', `export: no ${family} model has been trained yet`);
    const m = s.runtime.model;
    const step = stepOf(s);
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
    const { family, runtime, source } = runtimeFromCheckpoint(ck, bytes, this.src);
    return this.install(family, runtime, source, ck.meta, origin);
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
}
