/** Messages between the page and the compute worker (all tensors live in the worker). */
import type { BackendInfo } from '@altar/backend';
import type { Family, ProcessName, Size, SourceName } from './state.js';

export interface SamplerCostMsg {
  nfe: number;
  weightBytesLoaded: number;
  flops: number;
  wallMs: number;
  tokens: number;
  tokensPerSec: number;
  peakTensorBytes: number;
}

export interface SourceInfo {
  kind: 'tokens' | 'points' | 'images';
  name: string;
  /** Bits per token (tokens) or per dimension (points); null where unknown (images). */
  entropyBits: number | null;
  marginalBits: number | null;
  vocabSize: number;
  seqLen: number;
  glyphs: string[];
  groups: number[];
  means?: Array<[number, number]>;
}

/** A noise schedule sampled on a grid t = 0, 1/100, …, 1 (from @altar/noise), for the scrubber. */
export interface ScheduleGrid {
  name: string;
  alpha: number[];
  sigma?: number[];
}

export type ForwardData =
  | { kind: 'tokens'; info: SourceInfo; schedule: ScheduleGrid; x: number[][]; u: number[][]; repl: number[][] }
  | { kind: 'points'; info: SourceInfo; schedule: ScheduleGrid; x: number[]; eps: number[] }
  | { kind: 'images'; info: SourceInfo; schedule: ScheduleGrid; size: number; x: number[][]; eps: number[][] };

export interface TrainConfigMsg {
  family: Family;
  size: Size;
  source: SourceName;
  lr: number;
  batch: number;
  seed: number;
}

export interface ModelSummary {
  family: Family;
  paramCount: number;
  bytesPerWeight: number;
  step: number;
  origin: string;
  config: Record<string, unknown>;
}

export interface SampleResult {
  family: Family;
  /** Sampler used, e.g. 'ar (KV cache)', 'masked (cached)', 'd3pm'. */
  sampler: string;
  /** Steps the sampler took (n for AR, T for diffusion). */
  steps: number;
  samples: number[][];
  frames: number[][][];
  cost: SamplerCostMsg;
  /** Mean −log₂ p(x)/n of the samples under the true source (bits per token, or per dimension for points). */
  nllBits: number;
  paramCount: number;
  /** Gaussian family: the point cloud after each model call (flattened (B, 2)), the last = the samples. */
  points?: { frames: number[][]; means: Array<[number, number]>; entropyBits: number };
  /**
   * Image family: the batch of images after each model call, each frame flattened (B, size, size, channels),
   * pixels in [−1, 1] (noise can exceed it); the last frame is the samples. boundBits: the model's latest
   * NELBO in bits/dim (null before the first evaluation), since the images have no known density.
   */
  images?: {
    size: number;
    channels: number;
    batch: number;
    frames: number[][];
    /** The model's x̂0 at each call; the last = the samples. */ x0Frames: number[][];
    boundBits: number | null;
  };
}

export interface RaceResult {
  ar: SampleResult;
  mdm: SampleResult;
  n: number;
  T: number;
  entropyBits: number;
}

export interface SweepPoint {
  T: number;
  nfe: number;
  weightBytesLoaded: number;
  wallMs: number;
  nllBits: number;
}

export interface ElboResult {
  T: number;
  terms: number[];
  total: number;
  estimates: number[];
  entropyBits: number;
}

export interface Requests {
  init: { req: { backend: string }; res: BackendInfo };
  forward: { req: { source: SourceName; process: ProcessName; seed: number }; res: ForwardData };
  sourceInfo: { req: { source: SourceName }; res: SourceInfo };
  trainStart: { req: TrainConfigMsg; res: ModelSummary };
  trainPause: { req: { family: Family }; res: ModelSummary | null };
  /** Loads the models an earlier visit kept in this browser (IndexedDB); answers what was restored. */
  restore: { req: Record<string, never>; res: ModelSummary[] };
  trainReset: { req: { family: Family }; res: null };
  /** Run `steps` training steps synchronously (the "train both" warm-up of the race). */
  trainSteps: { req: TrainConfigMsg & { steps: number }; res: ModelSummary };
  models: { req: Record<string, never>; res: ModelSummary[] };
  /** sampler: 'auto' or one of SAMPLERS_BY_FAMILY[family] (state.ts). */
  sample: {
    req: { family: Family; T: number; seed: number; batch: number; size: Size; sampler?: string };
    res: SampleResult;
  };
  race: { req: { T: number; seed: number; batch: number; size: Size }; res: RaceResult };
  sweep: {
    req: { Ts: number[]; seed: number; batch: number; size: Size };
    res: { points: SweepPoint[]; ar: SweepPoint; entropyBits: number };
  };
  elbo: { req: { T: number; seed: number; draws: number; size: Size }; res: ElboResult };
  exportCheckpoint: { req: { family: Family }; res: { config: string; safetensors: Uint8Array } };
  loadCheckpoint: { req: { config: string; safetensors: Uint8Array }; res: ModelSummary };
}

export type RequestName = keyof Requests;

export type TrainEvent = {
  type: 'train';
  family: Family;
  step: number;
  bits: number;
  running: boolean;
  tokensPerSec: number;
  entropyBits: number | null;
  /** Continuous families: the latest NELBO evaluation (bits/dim) and the step it was made at. */
  bound: { step: number; bits: number; stdErr: number } | null;
  /** What tokensPerSec counts. */
  unit: 'token' | 'point' | 'pixel';
};

export type WorkerEvent = TrainEvent | { type: 'log'; level: 'info' | 'warn'; message: string };

export type ToWorker = { id: number; name: RequestName; req: unknown };
export type FromWorker =
  | { kind: 'res'; id: number; ok: true; res: unknown }
  | { kind: 'res'; id: number; ok: false; error: string }
  | { kind: 'event'; event: WorkerEvent };
