/** Messages between the page and the compute worker (all tensors live in the worker). */
import type { BackendInfo } from '@altar/backend';
import type { CorpusName, Family, ProcessName, Size, SourceName, TokenizerName } from './state.js';

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

/** The Text view's corpus: the built-in one, or the visitor's own text (sent by the page from IndexedDB). */
export interface TextCorpusReq {
  corpus: CorpusName;
  tokenizer: TokenizerName;
  /** corpus 'mine': the text and its name. */
  text?: string;
  name?: string;
}

/** A loaded corpus, as the Text view shows it. */
export interface TextCorpusInfo {
  /** Corpus, content hash and tokenizer: what a model trained on it is tied to. */
  key: string;
  corpus: CorpusName;
  /** The run config's data.text.path: 'builtin:shakespeare' or 'inline:<name>'. */
  path: string;
  name: string;
  tokenizer: TokenizerName;
  chars: number;
  tokens: number;
  vocabSize: number;
  contentHash: string;
  /** Characters per token over the validation split (1 for char tokens). */
  charsPerToken: number;
  /** The train split's unigram entropy: per token, and per character (the no-context baseline). */
  unigramBitsPerToken: number;
  unigramBitsPerChar: number;
  /** The first few hundred characters. */
  preview: string;
}

/** A Text-view training request: the family and size over a corpus. */
export interface TextTrainReq extends TextCorpusReq {
  family: Family;
  size: Size;
  lr: number;
  batch: number;
  seed: number;
}

/** Text samples: each row decoded, and every displayed step with unwritten positions as '█'. */
export interface TextSampleResult {
  family: Family;
  sampler: string;
  steps: number;
  rows: string[];
  /** frames[k][b]: row b after step k (the last frame = rows). */
  frames: string[][];
  nfe: number;
  wallMs: number;
  /** Infill: the template the rows were conditioned on ('_' = a gap), else ''. */
  template: string;
}

export interface TextSampleReq extends TextTrainReq {
  T: number;
  sampler: string;
  n: number;
  /** An infill template: gaps written as runs of '_', one token per underscore. Absent: unconditional. */
  template?: string;
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
  /** Text view: load (and tokenize) a corpus. */
  textCorpus: { req: TextCorpusReq; res: TextCorpusInfo };
  textTrainStart: { req: TextTrainReq; res: { paramCount: number; step: number } };
  /** Answers once the step in flight is done and the validation bits/char are measured. */
  textTrainPause: { req: { family: Family }; res: { step: number } | null };
  textTrainReset: { req: { family: Family }; res: null };
  /** Text samples (unconditional, or an infill of `template`). */
  textSample: { req: TextSampleReq; res: TextSampleResult };
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

/** Text view: a training step on a corpus, in bits per character. */
export interface TextTrainEvent {
  type: 'text-train';
  family: Family;
  /** The corpus key the model trains on. */
  key: string;
  step: number;
  /** Training loss of the step in bits per character (NaN for a loop's final event). */
  bitsPerChar: number;
  running: boolean;
  /** The latest validation evaluation (bits per character, held-out tail of the corpus). */
  val: { step: number; bitsPerChar: number; stdErr: number } | null;
  unigramBitsPerChar: number;
  charsPerSec: number;
  paramCount: number;
}

export type WorkerEvent = TrainEvent | TextTrainEvent | { type: 'log'; level: 'info' | 'warn'; message: string };

export type ToWorker = { id: number; name: RequestName; req: unknown };
export type FromWorker =
  | { kind: 'res'; id: number; ok: true; res: unknown }
  | { kind: 'res'; id: number; ok: false; error: string }
  | { kind: 'event'; event: WorkerEvent };
