/**
 * The training loop over any (model, loss) pair. A model is a map of trainable Variables; a loss is
 * a function (batch, rng) → scalar tensor. The trainer owns the optimizer (AdamW), the LR schedule,
 * global-norm clipping, gradient accumulation, the EMA, the NaN/Inf guard, periodic evaluation and
 * the random streams, and it can snapshot/restore all of that for bit-exact resume.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AltarError, Rng, silentLogger, type Logger, type RngState } from '@altar/backend';
import {
  CHECKPOINT_FILES,
  assignParams,
  decodeTensors,
  parseCheckpointState,
  type Checkpoint,
  type CheckpointState,
} from './checkpoint.js';
import { resolveSyncEvery, resolveTrainConfig, type TrainConfig } from './config.js';
import { Ema } from './ema.js';
import type { EvalRecord } from './metrics.js';
import { AdamW, type ParamMap } from './optimizer.js';
import { tensorsToSafetensors } from '@altar/backend';
import { lrAt } from './schedule.js';
import { firstNonFinite } from './health.js';
import type { StepResult, TrainerOptions } from './trainer-types.js';
import {
  accumulateGradients,
  controlConstants,
  nonFiniteError,
  nonFiniteMessage,
  readStep,
  readWindow,
  stepControl,
  stepRecord,
  type ControlConstants,
  type PendingStep,
} from './step-window.js';

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
  /** Steps between read-backs in `run()` (`config.syncEvery` resolved for the backend at construction). */
  readonly syncEvery: number;
  /** Steps run on the device whose stats are not read yet (only inside `run()`). */
  private pending: PendingStep[] = [];
  /** Under 'stop': whether every step of the window so far was finite (bool scalar on the device). */
  private windowGood: tf.Scalar | null = null;
  private windowStart = 0;
  /** The step control's constant scalars (uploaded on the first step, freed by dispose). */
  private consts: ControlConstants | null = null;
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
    this.syncEvery = resolveSyncEvery(this.config.syncEvery, tf.getBackend());
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

  /**
   * One optimizer step (accumSteps micro-batches), read back at once: returns its record. Throws NonFiniteError
   * under nonFinite 'stop'. (`run()` reads every `syncEvery` steps instead.)
   */
  async trainStep(): Promise<StepResult> {
    this.enqueueStep();
    const rs = await this.flush();
    return rs[rs.length - 1]!;
  }

  /**
   * Run one step on the device without reading anything back: gradients, the device-side clipping scale and NaN/Inf
   * mask, the masked AdamW and EMA updates. Its stats wait in `pending` for `flush()`.
   */
  private enqueueStep(): void {
    const c = this.config;
    if (this.pending.length === 0) this.windowStart = Date.now();
    const start = {
      batches: this.batches,
      data: this.dataRng.state(),
      loss: this.lossRng.state(),
      dataState: this.opts.dataState?.get() ?? null,
    };
    const lr = this.currentLr();
    const {
      grads: acc,
      lossSum,
      tokens,
    } = accumulateGradients({
      micro: c.accumSteps,
      nextBatch: () => {
        const b = this.opts.nextBatch(this.dataRng);
        this.batches += 1;
        return b;
      },
      ...(this.opts.disposeBatch ? { disposeBatch: this.opts.disposeBatch } : {}),
      tokensOf: (b) => this.tokensOf(b),
      loss: (b) => this.opts.loss(b, this.lossRng),
      vars: this.varList,
      nameOf: (v) => this.nameOfVar.get(v),
    });
    try {
      const names = Object.keys(acc);
      const stop = c.nonFinite === 'stop'; // the mask is sticky within the window
      this.consts ??= controlConstants(c);
      const grads = names.map((n) => acc[n]!);
      const ctl = stepControl(lossSum, grads, this.consts, stop ? this.windowGood : null);
      this.optimizer.applyControlled(acc, lr, ctl.gradScale, ctl.ok);
      this.ema?.updateMasked(ctl.ok);
      tf.dispose([ctl.ok, ctl.gradScale]);
      if (stop) {
        this.windowGood?.dispose();
        this.windowGood = ctl.go;
      } else ctl.go.dispose();
      this.step += 1;
      this.pending.push({ stats: ctl.stats, names, step: this.step, lr, tokens, start });
    } finally {
      lossSum.dispose();
      tf.dispose(Object.values(acc));
    }
  }

  /**
   * Read the pending steps back with one read, then report them in order (onMetrics, `onStep`, warnings). Under
   * 'stop' a bad step k ends the window: its mask kept every later step of the window from updating anything, and the
   * step counter, data position and random streams are set to what a read after every step would have left (step
   * k − 1, step k's batches drawn) before NonFiniteError is thrown. Each step's time is the window's divided evenly.
   */
  private async flush(onStep?: (r: StepResult) => void): Promise<StepResult[]> {
    const pend = this.pending;
    if (pend.length === 0) return [];
    this.pending = [];
    this.windowGood?.dispose();
    this.windowGood = null;
    const counters = [this.optimizer.deviceStep(), ...(this.ema ? [this.ema.deviceUpdates()] : [])];
    const { host, counts } = await readWindow(pend, counters);
    this.optimizer.syncStep(counts[0]!);
    this.ema?.syncUpdates(counts[1]!);
    const stepMs = (Date.now() - this.windowStart) / pend.length;
    const c = this.config;
    const out: StepResult[] = [];
    let offset = 0;
    for (let j = 0; j < pend.length; j++) {
      const p = pend[j]!;
      const r = readStep(host, offset, p.names, c.accumSteps);
      offset += 1 + p.names.length;
      const prevLargest = this.lastLargestGrad;
      this.lastLossFinite = Number.isFinite(r.loss);
      this.lastLargestGrad = r.largest;
      if (r.bad !== null && c.nonFinite === 'stop') {
        this.step = p.step - 1;
        const next = pend[j + 1]?.start;
        if (next) this.rewindTo(next);
        throw nonFiniteError(p.step, r, prevLargest);
      }
      if (r.bad !== null) this.logger.warn(`${nonFiniteMessage(p.step, r, prevLargest)}; update skipped`);
      const { rec, res } = stepRecord(p, r, stepMs, (this.windowStart + (j + 1) * stepMs - this.t0) / 1000);
      this.opts.onMetrics?.(rec);
      onStep?.(res);
      out.push(res);
    }
    return out;
  }

  /** Put the data position and random streams back to where a pending step began. */
  private rewindTo(start: PendingStep['start']): void {
    this.batches = start.batches;
    this.dataRng = new Rng(start.data);
    this.lossRng = new Rng(start.loss);
    if (start.dataState !== null) this.opts.dataState?.set(start.dataState);
  }

  /** Drop steps not read yet (restore, dispose). */
  private dropPending(): void {
    tf.dispose(this.pending.map((p) => p.stats));
    this.pending = [];
    this.windowGood?.dispose();
    this.windowGood = null;
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
   * best eval, when interrupted, and at the end; the caller decides where to write. Reads the losses back every
   * `syncEvery` steps and before each of those; `onStep` (and `onMetrics`) run at the read, in step order.
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
    try {
      while (this.step < until) {
        if (opts.signal?.aborted) {
          await this.flush(opts.onStep);
          await opts.onCheckpoint?.('interrupt', false);
          return { reason: 'interrupted', step: this.step };
        }
        this.enqueueStep();
        const evalNow = every > 0 && this.step % every === 0 && this.opts.evaluate !== undefined;
        const periodic = !!opts.checkpointEvery && this.step % opts.checkpointEvery === 0 && this.step < until;
        // read back every syncEvery steps, and before anything that looks at the state (eval, checkpoints, the end)
        if (this.pending.length >= this.syncEvery || evalNow || periodic || this.step >= until)
          await this.flush(opts.onStep);
        let saved = false;
        if (evalNow) {
          const { metrics, isBest } = await this.evaluate();
          await opts.onEval?.(metrics, isBest);
          if (isBest && opts.onCheckpoint) {
            await opts.onCheckpoint('best', true);
            saved = true;
          }
        }
        if (!saved && periodic) await opts.onCheckpoint?.('periodic', false);
        await yieldToEventLoop(); // let signal handlers (SIGINT) run between steps
      }
    } catch (e) {
      // the steps before the failure are reported first (a bad one among them throws its own error, as it would
      // have when read at once)
      await this.flush(opts.onStep);
      throw e;
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
    this.dropPending();
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
    this.dropPending();
    if (this.consts) tf.dispose(Object.values(this.consts).filter((x) => x instanceof tf.Tensor));
    this.consts = null;
    this.optimizer.dispose();
    this.ema?.dispose();
  }
}
