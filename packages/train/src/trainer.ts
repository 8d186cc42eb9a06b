/**
 * The training loop over any (model, loss) pair. A model is a map of trainable Variables; a loss is
 * a function (batch, rng) → scalar tensor. The trainer owns the optimizer (AdamW), the LR schedule,
 * global-norm clipping, gradient accumulation, the EMA, the NaN/Inf guard, periodic evaluation and
 * the random streams, and it can snapshot/restore all of that for bit-exact resume.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, Rng, silentLogger, squaredNorms, type Logger, type RngState } from '@altar/backend';
import {
  CHECKPOINT_FILES,
  assignParams,
  decodeTensors,
  parseCheckpointState,
  type Checkpoint,
  type CheckpointState,
} from './checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from './config.js';
import { Ema } from './ema.js';
import type { EvalRecord, TrainRecord } from './metrics.js';
import { AdamW, type ParamMap } from './optimizer.js';
import { tensorsToSafetensors } from '@altar/backend';
import { lrAt } from './schedule.js';
import { firstNonFinite } from './health.js';
import { NonFiniteError, type StepResult, type TrainerOptions } from './trainer-types.js';

const rank = (sq: number): number => (Number.isNaN(sq) ? Infinity : sq);

const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((r) => setImmediate(r))
    : () => new Promise((r) => setTimeout(r, 0));

/**
 * The training loop over any loss and parameters: AdamW with warmup + cosine LR, gradient clipping, accumulation,
 * EMA, a NaN/Inf guard, periodic evaluation, metrics, and checkpoints as in-memory files that resume bit-exactly.
 *
 * @example
 * ```ts
 * const w = tf.variable(tf.zeros([1]));
 * const trainer = new Trainer({
 *   params: { w },
 *   loss: (b: { x: tf.Tensor; y: tf.Tensor }) => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.mul(b.x, w), b.y))) as tf.Scalar),
 *   nextBatch: (rng) => { const x = rng.normal([16]); return { x, y: tf.mul(x, 3) }; },
 *   disposeBatch: (b) => tf.dispose([b.x, b.y]),
 *   config: { steps: 200, lr: 0.05 },
 * });
 * await trainer.run(); // w ≈ 3
 * ```
 */
export class Trainer<B> {
  readonly config: TrainConfig;
  readonly params: ParamMap;
  readonly optimizer: AdamW;
  readonly ema: Ema | null;
  step = 0;
  /** Batches drawn from the data stream so far (the data position). */
  batches = 0;
  best: { metric: string; value: number; step: number } | null = null;
  lastEval: Record<string, number> | null = null;
  /** Whether the last step's loss was finite (true before the first; restored on resume). */
  lastLossFinite = true;
  /** The parameter with the largest gradient norm in the last step (a non-finite norm counts as largest). */
  lastLargestGrad: { name: string; norm: number } | null = null;
  private dataRng: Rng;
  private lossRng: Rng;
  private readonly evalSeed: RngState;
  private readonly opts: TrainerOptions<B>;
  private readonly logger: Logger;
  private readonly t0 = Date.now();
  private readonly varList: tf.Variable[];
  private readonly nameOfVar = new Map<string, string>();

  constructor(opts: TrainerOptions<B>) {
    this.opts = opts;
    this.config = resolveTrainConfig(opts.config ?? {});
    this.params = opts.params;
    this.logger = opts.logger ?? silentLogger;
    const names = Object.keys(opts.params);
    if (names.length === 0) throw new AltarError('BAD_ARG', 'Trainer: the model has no parameters');
    this.varList = names.map((n) => opts.params[n]!);
    for (const n of names) {
      const v = opts.params[n]!;
      if (!(v instanceof tf.Variable))
        throw new AltarError('BAD_ARG', `Trainer: parameter '${n}' is not a tf.Variable`);
      if (v.dtype !== 'float32')
        throw new AltarError('BAD_ARG', `Trainer: parameter '${n}' has dtype ${v.dtype}, expected float32`);
      this.nameOfVar.set(v.name, n);
    }
    const root = new Rng(this.config.seed);
    this.dataRng = root.fork('data');
    this.lossRng = root.fork('loss');
    this.evalSeed = root.fork('eval').state();
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.optimizer = new AdamW(opts.params, { beta1, beta2, eps, weightDecay });
    this.ema = this.config.emaDecay > 0 ? new Ema(opts.params, this.config.emaDecay) : null;
  }

  /** The learning rate the next step will use. */
  currentLr(): number {
    const c = this.config;
    return lrAt(this.step, {
      lr: c.lr,
      warmupSteps: c.warmupSteps,
      totalSteps: c.steps,
      minLrRatio: c.minLrRatio,
      decay: c.lrDecay,
    });
  }

  private tokensOf(batch: B): number {
    const t = this.opts.tokensPerBatch;
    return t === undefined ? 0 : typeof t === 'number' ? t : t(batch);
  }

  /** One optimizer step (accumSteps micro-batches). Returns its record; throws NonFiniteError under 'stop'. */
  async trainStep(): Promise<StepResult> {
    const start = Date.now();
    const c = this.config;
    const lr = this.currentLr();
    let acc: Record<string, tf.Tensor> = {};
    let lossSum: tf.Tensor = tf.scalar(0);
    let tokens = 0;
    try {
      for (let k = 0; k < c.accumSteps; k++) {
        const batch = this.opts.nextBatch(this.dataRng);
        this.batches += 1;
        tokens += this.tokensOf(batch);
        let res: { value: tf.Scalar; grads: tf.NamedTensorMap };
        try {
          res = tf.variableGrads(() => this.opts.loss(batch, this.lossRng), this.varList);
        } finally {
          this.opts.disposeBatch?.(batch);
        }
        const prevSum = lossSum;
        lossSum = tf.add(prevSum, res.value);
        prevSum.dispose();
        res.value.dispose();
        for (const [vname, g] of Object.entries(res.grads)) {
          const name = this.nameOfVar.get(vname);
          if (name === undefined) {
            g.dispose();
            continue;
          }
          const prev = acc[name];
          if (prev) {
            acc[name] = tf.add(prev, g);
            prev.dispose();
            g.dispose();
          } else acc[name] = g;
        }
      }
      // One read-back per step: [summed loss, ‖g_p‖² for every parameter p].
      const names = Object.keys(acc);
      const packed = tf.tidy(() => tf.concat([tf.reshape(lossSum, [1]), squaredNorms(names.map((n) => acc[n]!))])); // one kernel for all norms
      const host = await packed.data();
      packed.dispose();
      const loss = host[0]! / c.accumSteps;
      let sq = 0;
      let bad: string | null = null;
      if (!Number.isFinite(loss)) bad = 'loss';
      const prevLargest = this.lastLargestGrad;
      let largest: { name: string; norm: number } | null = null;
      for (let i = 0; i < names.length; i++) {
        const v = host[i + 1]!;
        if (!Number.isFinite(v) && bad === null) bad = names[i]!;
        // A non-finite norm ranks above every number (the first such parameter is named).
        if (largest === null || rank(v) > rank(largest.norm ** 2)) largest = { name: names[i]!, norm: Math.sqrt(v) };
        sq += v;
      }
      this.lastLossFinite = Number.isFinite(loss);
      this.lastLargestGrad = largest;
      const gradNorm = Math.sqrt(sq) / c.accumSteps;
      let skipped = false;
      if (bad !== null) {
        const what =
          bad === 'loss'
            ? `loss is ${loss}`
            : `gradient of parameter '${bad}' is not finite (NaN/Inf, or its squared norm overflowed float32)`;
        const fmt = (g: { name: string; norm: number }) =>
          `'${g.name}' (${Number.isFinite(g.norm) ? g.norm.toPrecision(3) : g.norm})`;
        const blame =
          (largest ? `; largest gradient norm in step ${this.step + 1}: ${fmt(largest)}` : '') +
          (prevLargest && this.step > 0 ? `, in step ${this.step}: ${fmt(prevLargest)}` : '');
        const msg = `step ${this.step + 1}: ${what}${blame}`;
        if (c.nonFinite === 'stop')
          throw new NonFiniteError(
            this.step + 1,
            bad === 'loss' ? null : bad,
            `${msg}; stopping (set train.nonFinite = 'skip' to skip such updates)`,
            largest?.name ?? null,
          );
        this.logger.warn(`${msg}; update skipped`);
        skipped = true;
      } else {
        const clip = c.gradClip > 0 ? Math.min(1, c.gradClip / (gradNorm + 1e-6)) : 1;
        this.optimizer.apply(acc, lr, clip / c.accumSteps);
        this.ema?.update();
      }
      this.step += 1;
      const stepMs = Date.now() - start;
      const rec: TrainRecord = {
        kind: 'train',
        step: this.step,
        loss,
        lr,
        gradNorm,
        tokens,
        tokensPerSec: stepMs > 0 ? (tokens * 1000) / stepMs : 0,
        stepMs,
        elapsedSec: (Date.now() - this.t0) / 1000,
        ...(skipped ? { skipped: true } : {}),
      };
      this.opts.onMetrics?.(rec);
      return { step: this.step, loss, lr, gradNorm, tokens, stepMs, skipped };
    } finally {
      lossSum.dispose();
      for (const g of Object.values(acc)) g.dispose();
      acc = {};
    }
  }

  /** Run `fn` with the eval weights (EMA if kept) in place. */
  async withEvalWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.ema ? this.ema.swapIn(fn) : fn();
  }

  /** Evaluate now (EMA weights), record metrics, update the best. Returns the metrics and whether this is a new best. */
  async evaluate(): Promise<{ metrics: Record<string, number>; isBest: boolean }> {
    const ev = this.opts.evaluate;
    if (!ev) return { metrics: {}, isBest: false };
    const metrics = await this.withEvalWeights(() => ev({ step: this.step, rng: new Rng(this.evalSeed) }));
    this.lastEval = metrics;
    const key = this.opts.bestMetric ?? 'loss';
    const v = metrics[key];
    let isBest = false;
    if (v !== undefined && Number.isFinite(v) && (this.best === null || v < this.best.value)) {
      this.best = { metric: key, value: v, step: this.step };
      isBest = true;
    }
    const rec: EvalRecord = { kind: 'eval', step: this.step, elapsedSec: (Date.now() - this.t0) / 1000, metrics };
    this.opts.onMetrics?.(rec);
    return { metrics, isBest };
  }

  /**
   * Train until `config.steps` (or `until`), evaluating every `evalEvery` steps. Stops early, after
   * the current step, when `signal` aborts. `onCheckpoint` is called at `checkpointEvery`, at a new
   * best eval, when interrupted, and at the end; the caller decides where to write.
   */
  async run(
    opts: {
      until?: number;
      signal?: AbortSignal;
      checkpointEvery?: number;
      onStep?: (r: StepResult) => void;
      onEval?: (metrics: Record<string, number>, isBest: boolean) => void | Promise<void>;
      onCheckpoint?: (reason: 'periodic' | 'best' | 'interrupt' | 'final', isBest: boolean) => Promise<void>;
    } = {},
  ): Promise<{ reason: 'done' | 'interrupted'; step: number }> {
    const until = opts.until ?? this.config.steps;
    const every = this.config.evalEvery;
    while (this.step < until) {
      if (opts.signal?.aborted) {
        await opts.onCheckpoint?.('interrupt', false);
        return { reason: 'interrupted', step: this.step };
      }
      const r = await this.trainStep();
      opts.onStep?.(r);
      let saved = false;
      if (every > 0 && this.step % every === 0 && this.opts.evaluate) {
        const { metrics, isBest } = await this.evaluate();
        await opts.onEval?.(metrics, isBest);
        if (isBest && opts.onCheckpoint) {
          await opts.onCheckpoint('best', true);
          saved = true;
        }
      }
      if (!saved && opts.checkpointEvery && this.step % opts.checkpointEvery === 0 && this.step < until) {
        await opts.onCheckpoint?.('periodic', false);
      }
      await yieldToEventLoop(); // let signal handlers (SIGINT) run between steps
    }
    await opts.onCheckpoint?.('final', false);
    return { reason: 'done', step: this.step };
  }

  /**
   * Everything needed to resume bit-exactly, as in-memory files. `weightsMetadata` goes into the
   * safetensors headers (the app records the model config there as `altar.config`, so that
   * model.safetensors alone loads with @altar/models' `loadModel`).
   */
  async snapshot(config: unknown = null, weightsMetadata: Record<string, string> = {}): Promise<Checkpoint> {
    const state: CheckpointState = {
      format: 'altar-checkpoint',
      version: 1,
      step: this.step,
      config,
      trainConfig: this.config,
      rng: { data: this.dataRng.state(), loss: this.lossRng.state() },
      data: { batches: this.batches, state: this.opts.dataState?.get() ?? null },
      optimizer: { t: this.optimizer.t },
      ema: this.ema ? { updates: this.ema.updates } : null,
      best: this.best,
      lastEval: this.lastEval,
      app: this.opts.appState?.get() ?? null,
      health: { lossFinite: this.lastLossFinite, weightsFinite: true },
      savedAt: new Date().toISOString(),
    };
    const meta = { format: 'altar', step: String(this.step), ...weightsMetadata };
    const files: Record<string, Uint8Array> = {
      [CHECKPOINT_FILES.model]: await tensorsToSafetensors(this.params, meta),
      [CHECKPOINT_FILES.optimizer]: await tensorsToSafetensors(this.optimizer.stateTensors(), {
        format: 'altar',
        step: String(this.step),
        t: String(this.optimizer.t),
      }),
    };
    if (this.ema) files[CHECKPOINT_FILES.ema] = await tensorsToSafetensors(this.ema.tensors(), meta);
    state.health!.weightsFinite = [CHECKPOINT_FILES.model, CHECKPOINT_FILES.ema].every(
      (f) => files[f] === undefined || firstNonFinite(files[f]) === null,
    );
    files[CHECKPOINT_FILES.state] = new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n');
    return { state, files };
  }

  /** Restore from files written by `snapshot()` (weights, optimizer, EMA, step, rng, data position). */
  restore(files: Record<string, Uint8Array>): CheckpointState {
    const need = (name: string): Uint8Array => {
      const f = files[name];
      if (!f) throw new AltarError('BAD_CHECKPOINT', `checkpoint lacks ${name}`);
      return f;
    };
    const state = parseCheckpointState(new TextDecoder().decode(need(CHECKPOINT_FILES.state)));
    const withTensors = (name: string, fn: (t: Record<string, tf.Tensor>) => void) => {
      const ts = decodeTensors(need(name), name);
      try {
        fn(ts);
      } finally {
        for (const t of Object.values(ts)) t.dispose();
      }
    };
    withTensors(CHECKPOINT_FILES.model, (ts) => assignParams(this.params, ts, CHECKPOINT_FILES.model));
    withTensors(CHECKPOINT_FILES.optimizer, (ts) => this.optimizer.setState(state.optimizer.t, ts));
    if (this.ema) {
      if (state.ema && files[CHECKPOINT_FILES.ema])
        withTensors(CHECKPOINT_FILES.ema, (ts) => this.ema!.setState(state.ema!.updates, ts));
      else
        throw new AltarError(
          'BAD_CHECKPOINT',
          'checkpoint has no EMA weights but this run keeps an EMA (train.emaDecay > 0)',
        );
    }
    this.step = state.step;
    this.batches = state.data.batches;
    this.dataRng = new Rng(state.rng.data);
    this.lossRng = new Rng(state.rng.loss);
    this.best = state.best;
    this.lastEval = state.lastEval;
    if (state.data.state !== null) this.opts.dataState?.set(state.data.state);
    if (state.app !== undefined && state.app !== null) this.opts.appState?.set(state.app);
    this.lastLossFinite = state.health?.lossFinite ?? true;
    return state;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.ema?.dispose();
  }
}
