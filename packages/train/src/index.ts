/**
 * The training step and loop over any loss and parameters: AdamW, LR schedule, clipping, EMA, NaN guard,
 * checkpoints as in-memory files, metrics.
 *
 * @module @altar/train
 */
export { defaultTrainConfig, resolveSyncEvery, resolveTrainConfig, type TrainConfig } from './config.js';
export { AdamW, ownedVariable, defaultAdamWConfig, type AdamWConfig, type ParamMap } from './optimizer.js';
export { Ema } from './ema.js';
export { lrAt, type LrScheduleConfig } from './schedule.js';
export {
  formatMetricsLine,
  parseMetricsLines,
  type MetricsRecord,
  type TrainRecord,
  type EvalRecord,
} from './metrics.js';
export { Trainer } from './trainer.js';
export {
  NonFiniteError,
  type EvalContext,
  type LossFn,
  type StepResult,
  type TrainerOptions,
} from './trainer-types.js';
export {
  CHECKPOINT_FILES,
  assignParams,
  decodeTensors,
  parseCheckpointState,
  type Checkpoint,
  type CheckpointState,
} from './checkpoint.js';
export { firstNonFinite, type NonFiniteEntry } from './health.js';
