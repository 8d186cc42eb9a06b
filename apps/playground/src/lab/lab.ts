/**
 * The playground's composition root (runs inside the compute worker): sources (@altar/data), forward
 * processes (@altar/noise), models (@altar/models), losses (@altar/elbo), samplers (@altar/samplers)
 * and the training loop (@altar/train), driven step by step so training can pause, resume and stream.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, ConfigError, Rng } from '@altar/backend';
import { HmmSource, generateShapeImages, gmmPreset, type GaussianMixtureSource } from '@altar/data';
import { decodeSafetensors, loadModel, tensorsToSafetensors, type AnyModel, type DiffusionTransformer } from '@altar/models';
import { GaussianProcess, MaskedProcess } from '@altar/noise';
import { Trainer, type ParamMap } from '@altar/train';
import type { ElboResult, ForwardData, ModelSummary, RaceResult, SampleResult, ScheduleGrid, SourceInfo, SweepPoint, TrainConfigMsg, WorkerEvent } from '../protocol.js';
import { TOKEN_FAMILIES, pointSourceOf, type Family, type PointSourceName, type ProcessName, type Size, type SourceName } from '../state.js';
import { buildGaussianRuntime, buildRuntime, interactiveTrainConfig, familyOfModel, modelConfigFor, newModel, type FamilyRuntime, type SampleRun } from './families.js';
import { createModel } from '@altar/models';
import { elboTerms, oneTermSamples } from './anatomy.js';

interface Slot {
  runtime: FamilyRuntime;
  /** The data it trains on: 'hmm' for token families, a 2-D mixture for 'gaussian'. */
  source: 'hmm' | PointSourceName;
  size: Size | 'checkpoint';
  trainer: Trainer<tf.Tensor2D> | null;
  lr: number;
  batch: number;
  seed: number;
  running: boolean;
  /** Seconds inside training steps and tokens processed there (for tokens/s). */
  busySec: number;
  tokens: number;
  /** Steps taken by earlier trainers of this model (a new lr or batch starts a new Trainer). */
  stepBase: number;
  origin: string;
}

const yieldToEvents = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

/**
 * Serialises everything that touches model weights. A training step replaces each weight's buffer
 * (the optimiser assigns new values); a read-back of that weight started in between can then never
 * resolve on WebGPU. Steps, sampling, evaluation and export therefore take turns: the training loop
 * holds the lock for one step at a time, so other requests run between steps.
 */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.catch(() => undefined);
    return r;
  }
}
const GRID = Array.from({ length: 101 }, (_, i) => i / 100);
const GLYPHS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class Lab {
  private readonly hmm = new HmmSource();
  private hmmInfo: SourceInfo | null = null;
  private readonly gmms = new Map<string, GaussianMixtureSource>();
  private readonly pointInfo = new Map<string, SourceInfo>();
  private readonly slots = new Map<Family, Slot>();
  private readonly emit: (e: WorkerEvent) => void;
  private readonly lock = new Mutex();

  constructor(emit: (e: WorkerEvent) => void) {
    this.emit = emit;
  }

  private gmm(name: 'rings' | 'grid' | 'moons'): GaussianMixtureSource {
    let g = this.gmms.get(name);
    if (!g) {
      g = gmmPreset(name);
      this.gmms.set(name, g);
    }
    return g;
  }

  /** Token glyphs and colours: each token is coloured by the HMM state most likely to emit it. */
  private tokenInfo(): SourceInfo {
    if (this.hmmInfo) return this.hmmInfo;
    const s = this.hmm;
    const V = s.vocabSize;
    const S = s.numStates;
    const groups = Array.from({ length: V }, (_, v) => {
      let best = 0;
      for (let k = 1; k < S; k++) if (s.emission[k * V + v]! > s.emission[best * V + v]!) best = k;
      return best;
    });
    // Letters in state order, so one state's tokens read as neighbours in the alphabet.
    const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => groups[a]! - groups[b]! || a - b);
    const glyphs = new Array<string>(V);
    order.forEach((v, i) => (glyphs[v] = GLYPHS[i] ?? String(v)));
    const rep = s.entropyReport(new Rng(0x51ed), 2000);
    this.hmmInfo = {
      kind: 'tokens',
      name: s.name,
      entropyBits: rep.entropyBitsPerToken,
      marginalBits: rep.marginalEntropyBitsPerToken,
      vocabSize: V,
      seqLen: s.seqLen,
      glyphs,
      groups,
    };
    return this.hmmInfo;
  }

  sourceInfo(name: SourceName): SourceInfo {
    if (name === 'hmm') return this.tokenInfo();
    if (name === 'shapes') return { kind: 'images', name: 'shapes', entropyBits: null, marginalBits: null, vocabSize: 0, seqLen: 256, glyphs: [], groups: [] };
    const cached = this.pointInfo.get(name);
    if (cached) return cached;
    const g = this.gmm(name);
    const means: Array<[number, number]> = [];
    for (let k = 0; k < g.numComponents; k++) means.push([g.means[k * g.dim]!, g.means[k * g.dim + 1]!]);
    // Differential entropy per dimension by Monte Carlo over the exact log density.
    const xs = g.sample(2000, new Rng(777));
    const lp = g.logDensityBatch(xs);
    let h = 0;
    for (const v of lp) h -= v;
    const info: SourceInfo = { kind: 'points', name, entropyBits: h / lp.length / g.dim / Math.LN2, marginalBits: null, vocabSize: 0, seqLen: g.dim, glyphs: [], groups: [], means };
    this.pointInfo.set(name, info);
    return info;
  }

  private schedule(process: ProcessName): ScheduleGrid {
    if (process === 'gauss') {
      const g = new GaussianProcess('vp-cosine');
      return { name: g.name, alpha: GRID.map((t) => g.schedule.alpha(t)), sigma: GRID.map((t) => g.schedule.sigma(t)) };
    }
    const m = new MaskedProcess({ vocabSize: this.hmm.vocabSize, schedule: 'linear' });
    return { name: m.name, alpha: GRID.map((t) => m.alpha(t)) };
  }

  /**
   * Clean data plus the fixed noise that the page's scrubber applies for any t (so scrubbing is
   * instant and monotone): per-position uniforms u (a token is noised iff u ≥ α_t) and replacement
   * tokens for the uniform process; Gaussian ε for z = α_t x + σ_t ε.
   */
  forward(name: SourceName, process: ProcessName, seed: number): ForwardData {
    const rng = new Rng(seed).fork(`forward:${name}:${process}`);
    const info = this.sourceInfo(name);
    if (name === 'hmm') {
      const N = this.hmm.seqLen;
      const flat = this.hmm.sampleBatch(6, rng);
      const x = Array.from({ length: 6 }, (_, b) => Array.from(flat.subarray(b * N, b * N + N)));
      const u = x.map((r) => Array.from(rng.uniformArray(r.length)));
      const repl = x.map((r) => r.map(() => rng.nextInt(0, this.hmm.vocabSize)));
      return { kind: 'tokens', info, schedule: this.schedule(process === 'gauss' ? 'mask' : process), x, u, repl };
    }
    const schedule = this.schedule('gauss');
    if (name === 'shapes') {
      const imgs = generateShapeImages({ count: 6, size: 16, channels: 1, seed });
      const P = 16 * 16;
      const x = Array.from({ length: 6 }, (_, b) => Array.from(imgs.floats.subarray(b * P, b * P + P)));
      return { kind: 'images', info, schedule, size: 16, x, eps: x.map((i) => Array.from(rng.normalArray(i.length))) };
    }
    const n = 800;
    return { kind: 'points', info, schedule, x: Array.from(this.gmm(name).sample(n, rng)), eps: Array.from(rng.normalArray(2 * n)) };
  }

  private summary(f: Family, s: Slot): ModelSummary {
    const m = s.runtime.model;
    return { family: f, paramCount: m.paramCount(), bytesPerWeight: m.bytesPerWeight, step: this.stepOf(s), origin: s.origin, config: { ...m.config } };
  }

  private stepOf(s: Slot): number {
    return s.stepBase + (s.trainer?.step ?? 0);
  }

  models(): ModelSummary[] {
    return [...this.slots.entries()].map(([f, s]) => this.summary(f, s));
  }

  /** The family's model, created (untrained) when absent or when the size changed. */
  private slot(family: Family, size: Size, seed: number, sourceName: SourceName = 'hmm'): Slot {
    const source = family === 'gaussian' ? pointSourceOf(sourceName) : 'hmm';
    const have = this.slots.get(family);
    if (have && (have.size === size || have.size === 'checkpoint') && have.source === source) return have;
    if (have) this.trainReset(family);
    const runtime =
      source === 'hmm'
        ? buildRuntime(family, newModel(family, size, this.hmm, seed), this.hmm)
        : buildGaussianRuntime(createModel(modelConfigFor('gaussian', size, 0, 0, seed)), this.gmm(source));
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
    const src = s.source;
    const nextBatch = src === 'hmm' ? (rng: Rng) => this.hmm.sampleTensor(batch, rng) : (rng: Rng) => this.gmm(src).sampleTensor(batch, rng);
    s.trainer = new Trainer<tf.Tensor2D>({
      params: s.runtime.model.getWeights() as ParamMap,
      loss: s.runtime.loss,
      nextBatch,
      disposeBatch: (b) => b.dispose(),
      // Tokens (or points) per step, for the tokens/s figure.
      tokensPerBatch: src === 'hmm' ? batch * this.hmm.seqLen : batch,
      // Constant lr after a short warmup; the Gaussian family adds a longer warmup and EMA weights.
      config: interactiveTrainConfig(s.runtime.family, lr, s.seed + s.stepBase),
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
    if (!Number.isFinite(r.loss)) throw new AltarError('NAN_LOSS', `training ${f}: loss became ${r.loss} at step ${this.stepOf(s)}; lower the learning rate (lr=${lr})`);
    // Token losses are nats per token → bits; the Gaussian family's v-MSE is shown as it is.
    return s.source === 'hmm' ? r.loss / Math.LN2 : r.loss;
  }

  private entropyOf(s: Slot): number | null {
    // The v-MSE of the Gaussian family is no likelihood: no entropy floor to draw.
    return s.source === 'hmm' ? this.tokenInfo().entropyBits : null;
  }

  private event(f: Family, s: Slot, bits: number): void {
    this.emit({ type: 'train', family: f, step: this.stepOf(s), bits, running: s.running, tokensPerSec: s.busySec > 0 ? s.tokens / s.busySec : 0, entropyBits: this.entropyOf(s) });
  }

  trainStart(cfg: TrainConfigMsg): ModelSummary {
    for (const [f, other] of this.slots) if (f !== cfg.family) other.running = false;
    const s = this.slot(cfg.family, cfg.size, cfg.seed, cfg.source);
    if (!s.running) {
      s.running = true;
      void this.loop(cfg.family, s, cfg.lr, cfg.batch);
    }
    return this.summary(cfg.family, s);
  }

  private async loop(f: Family, s: Slot, lr: number, batch: number): Promise<void> {
    try {
      while (s.running && this.slots.get(f) === s) {
        const bits = await this.stepOnce(f, s, lr, batch);
        this.event(f, s, bits);
        await yieldToEvents();
      }
    } catch (e) {
      s.running = false;
      this.emit({ type: 'log', level: 'warn', message: e instanceof Error ? e.message : String(e) });
    }
    this.event(f, s, NaN);
  }

  trainPause(family: Family): ModelSummary | null {
    const s = this.slots.get(family);
    if (!s) return null;
    s.running = false;
    return this.summary(family, s);
  }

  trainReset(family: Family): void {
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
    return this.summary(cfg.family, s);
  }

  private nllBits(samples: Int32Array, batch: number): number {
    const N = this.hmm.seqLen;
    const lp = this.hmm.logProbBatch(samples);
    let s = 0;
    for (let b = 0; b < batch; b++) s -= lp[b]!;
    return s / batch / N / Math.LN2;
  }

  private toResult(f: Family, run: SampleRun, batch: number, model: AnyModel, source: Slot['source']): SampleResult {
    if (run.pointFrames && source !== 'hmm') {
      const g = this.gmm(source);
      const xs = run.pointFrames[run.pointFrames.length - 1]!;
      const lp = g.logDensityBatch(xs);
      let nll = 0;
      for (const v of lp) nll -= v;
      return {
        family: f,
        sampler: run.sampler,
        steps: run.steps,
        samples: [],
        frames: [],
        cost: run.cost,
        nllBits: nll / lp.length / g.dim / Math.LN2,
        paramCount: model.paramCount(),
        points: { frames: run.pointFrames.map((p) => Array.from(p)), means: this.sourceInfo(source).means ?? [], entropyBits: this.sourceInfo(source).entropyBits ?? 0 },
      };
    }
    const N = this.hmm.seqLen;
    return {
      family: f,
      sampler: run.sampler,
      steps: run.steps,
      samples: Array.from({ length: batch }, (_, b) => Array.from(run.samples.subarray(b * N, b * N + N))),
      frames: run.frames.map((fr) => fr.map((r) => Array.from(r))),
      cost: run.cost,
      nllBits: this.nllBits(run.samples, batch),
      paramCount: model.paramCount(),
    };
  }

  sample(family: Family, T: number, seed: number, batch: number, size: Size): Promise<SampleResult> {
    return this.lock.run(() => this.sampleUnlocked(family, T, seed, batch, size));
  }

  private async sampleUnlocked(family: Family, T: number, seed: number, batch: number, size: Size): Promise<SampleResult> {
    const s = this.slots.get(family) ?? this.slot(family, size, seed);
    const rng = new Rng(seed).fork(`sample:${family}:${T}`);
    const B = family === 'gaussian' ? Math.max(batch, 400) : batch;
    // Sample with the trainer's EMA weights where it keeps them (the Gaussian family).
    const run = s.trainer ? await s.trainer.withEvalWeights(() => s.runtime.sample(rng, B, T)) : await s.runtime.sample(rng, B, T);
    return this.toResult(family, run, family === 'gaussian' ? Math.max(batch, 400) : batch, s.runtime.model, s.source);
  }

  async race(T: number, seed: number, batch: number, size: Size): Promise<RaceResult> {
    const ar = await this.sample('ar', T, seed, batch, size);
    const mdm = await this.sample('masked-diffusion', T, seed, batch, size);
    return { ar, mdm, n: this.hmm.seqLen, T, entropyBits: this.tokenInfo().entropyBits! };
  }

  async sweep(Ts: number[], seed: number, batch: number, size: Size): Promise<{ points: SweepPoint[]; ar: SweepPoint; entropyBits: number }> {
    const points: SweepPoint[] = [];
    for (const T of Ts) {
      const r = await this.sample('masked-diffusion', T, seed, batch, size);
      points.push({ T, nfe: r.cost.nfe, weightBytesLoaded: r.cost.weightBytesLoaded, wallMs: r.cost.wallMs, nllBits: r.nllBits });
      await yieldToEvents();
    }
    const a = await this.sample('ar', 0, seed, batch, size);
    const ar = { T: this.hmm.seqLen, nfe: a.cost.nfe, weightBytesLoaded: a.cost.weightBytesLoaded, wallMs: a.cost.wallMs, nllBits: a.nllBits };
    return { points, ar, entropyBits: this.tokenInfo().entropyBits! };
  }

  elbo(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    return this.lock.run(() => this.elboUnlocked(T, seed, draws, size));
  }

  private async elboUnlocked(T: number, seed: number, draws: number, size: Size): Promise<ElboResult> {
    const s = this.slots.get('masked-diffusion') ?? this.slot('masked-diffusion', size, seed);
    const proc = s.runtime.masked!;
    const den = s.runtime.model as DiffusionTransformer;
    const rng = new Rng(seed).fork(`elbo:${T}`);
    const evalSet = this.hmm.sampleTensor(48, rng);
    let terms: number[];
    try {
      terms = await elboTerms(proc, den, evalSet, T, rng);
    } finally {
      evalSet.dispose();
    }
    const estimates: number[] = [];
    while (estimates.length < draws) {
      const x = this.hmm.sampleTensor(Math.min(64, draws - estimates.length), rng);
      try {
        estimates.push(...(await oneTermSamples(proc, den, x, T, rng)));
      } finally {
        x.dispose();
      }
      await yieldToEvents();
    }
    return { T, terms, total: terms.reduce((a, b) => a + b, 0), estimates, entropyBits: this.tokenInfo().entropyBits! };
  }

  /** The same two files `altar train` writes: a run config.json and a model.safetensors with the model config in its metadata. */
  exportCheckpoint(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    return this.lock.run(() => this.exportUnlocked(family));
  }

  private async exportUnlocked(family: Family): Promise<{ config: string; safetensors: Uint8Array }> {
    const s = this.slots.get(family);
    if (!s) throw new AltarError('NO_MODEL', `export: no ${family} model has been trained yet`);
    const m = s.runtime.model;
    // The metadata `altar train` writes: the model config, the family and the step.
    const weights = await tensorsToSafetensors(m.getWeights(), { format: 'altar', step: String(this.stepOf(s)), 'altar.config': JSON.stringify(m.config), 'altar.family': family });
    const run = {
      name: `playground-${family}`,
      family,
      data: { source: 'hmm', hmm: {} },
      model: m.config,
      diffusion: family === 'masked-diffusion' ? { process: 'masked', schedule: 'linear' } : family === 'd3pm' ? { process: 'uniform', schedule: 'cosine' } : { process: 'none' },
      train: { lr: s.lr, seed: s.seed, steps: this.stepOf(s) },
    };
    return { config: `${JSON.stringify(run, null, 2)}\n`, safetensors: weights };
  }

  /** Load an `altar train` checkpoint (or a playground export): config.json + model.safetensors. */
  loadCheckpoint(configText: string, bytes: Uint8Array): Promise<ModelSummary> {
    return this.lock.run(() => this.loadUnlocked(configText, bytes));
  }

  private async loadUnlocked(configText: string, bytes: Uint8Array): Promise<ModelSummary> {
    let run: Record<string, unknown>;
    try {
      const raw: unknown = JSON.parse(configText);
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`expected an object, got ${JSON.stringify(raw)?.slice(0, 40)}`);
      run = raw as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError('config.json', `not a valid config: ${(e as Error).message}`);
    }
    let meta: Record<string, string>;
    try {
      meta = decodeSafetensors(bytes).metadata;
    } catch (e) {
      throw new ConfigError('model.safetensors', (e as Error).message);
    }
    const famRaw = run['family'] ?? meta['altar.family'];
    if (famRaw !== undefined && !(TOKEN_FAMILIES as readonly unknown[]).includes(famRaw)) {
      throw new ConfigError('config.json.family', `'${String(famRaw)}' is not a token family the playground can sample (${TOKEN_FAMILIES.join(', ')})`);
    }
    const data = run['data'] as { source?: unknown; hmm?: Record<string, unknown> } | undefined;
    if (data?.source !== undefined && data.source !== 'hmm') throw new ConfigError('config.json.data.source', `the playground's token views use the HMM source, this checkpoint was trained on '${String(data.source)}'`);
    if (data?.hmm && Object.keys(data.hmm).length > 0) throw new ConfigError('config.json.data.hmm', `the checkpoint used a non-default HMM (${JSON.stringify(data.hmm)}); the playground has the default one only`);
    // The weights' metadata carries the full model config ('altar.config'); a bare model config in config.json works too.
    const modelCfg = run['model'] && typeof run['model'] === 'object' && 'vocabSize' in (run['model'] as object) ? run['model'] : typeof run['type'] === 'string' ? run : undefined;
    const model = loadModel(modelCfg !== undefined ? { config: modelCfg as object, weights: bytes } : { weights: bytes });
    let family: Family;
    let runtime: FamilyRuntime;
    try {
      family = familyOfModel(model, typeof famRaw === 'string' ? famRaw : undefined);
      runtime = buildRuntime(family, model, this.hmm);
    } catch (e) {
      model.dispose();
      throw e;
    }
    this.trainReset(family);
    const steps = Number.parseInt(meta['step'] ?? '0', 10) || 0;
    const slot: Slot = { runtime, source: 'hmm', size: 'checkpoint', trainer: null, lr: 0, batch: 0, seed: 0, running: false, busySec: 0, tokens: 0, stepBase: steps, origin: 'loaded from a checkpoint' };
    this.slots.set(family, slot);
    return this.summary(family, slot);
  }
}
