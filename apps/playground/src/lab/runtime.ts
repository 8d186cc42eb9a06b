/**
 * What a playground family offers the Lab (lab.ts): a model, its training loss and a sampler that also
 * returns the frames the views animate. Token families: token-runtime.ts; continuous: continuous.ts.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '@altar/backend';
import type { AnyModel } from '@altar/models';
import type { MaskedProcess, GaussianScheduleKind } from '@altar/noise';
import type { RunConfig } from '@altar/recipes';
import type { CostRecord } from '@altar/samplers';
import type { LossFn } from '@altar/train';
import type { Family } from '../state.js';

export interface SampleRun {
  samples: Int32Array; // (B*N) row-major
  cost: CostRecord;
  /** Snapshots of z (−1 = masked / not generated yet), one per displayed step. */
  frames: Int32Array[][];
  /** Gaussian family: z after each model call, (B*2) row-major; the last entry is the samples. */
  pointFrames?: Float32Array[];
  /** Image family: z after each model call, (B*H*W*C) row-major (H = W = size); the last entry is the samples. */
  imageFrames?: {
    size: number;
    channels: number;
    frames: Float32Array[];
    /** The model's x̂0 at each call (clipped); the last = the samples. */ x0Frames: Float32Array[];
  };
  sampler: string;
  steps: number;
}

export interface FamilyRuntime {
  family: Family;
  model: AnyModel;
  /** The run config the recipe was built from (@altar/recipes): what an export writes, with the trainer's lr, seed and step. */
  runConfig: RunConfig;
  /** The masked process (masked-diffusion only; for the ELBO anatomy). */
  masked: MaskedProcess | null;
  /** Mean loss in nats per token: exact NLL (AR, SSM) or a one-sample NELBO (diffusion); continuous families: the prediction MSE. */
  loss: LossFn<tf.Tensor2D>;
  /** Continuous families: units per example for the speed figure (1 per point, H·W·C per image) and the training batch. */
  unitsPerExample?: number;
  nextBatch?: (rng: Rng, n: number) => tf.Tensor2D;
  /** Continuous families: the noise schedule, and the scale the model divides the data by (x / scale). */
  continuous?: { process: GaussianScheduleKind; dataScale: number };
  /** Continuous families: a one-sample VDM NELBO of n fresh examples, bits per dimension of the data. */
  boundBits?: (rng: Rng, n: number) => Promise<{ bits: number; stdErr: number }>;
  /** `sampler`: one of SAMPLERS_BY_FAMILY[family] (state.ts); the family's default when absent. */
  sample(rng: Rng, batch: number, steps: number, sampler?: string): Promise<SampleRun>;
  dispose(): void;
}
