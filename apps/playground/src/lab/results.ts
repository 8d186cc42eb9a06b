/**
 * A sampler run as the page receives it: token rows and frames with the true NLL of the samples under
 * the HMM, points with their NLL under the mixture, images with the model's bound (no known density).
 */
import type { AnyModel } from '@altar/models';
import { hmmSampleBits, mixtureSampleBits } from '@altar/recipes';
import type { SampleResult } from '../protocol.js';
import type { Family } from '../state.js';
import type { SlotSource } from './checkpoint-io.js';
import type { SampleRun } from './runtime.js';
import type { Sources } from './sources.js';

export function sampleResult(
  src: Sources,
  f: Family,
  run: SampleRun,
  batch: number,
  model: AnyModel,
  source: SlotSource,
  boundBits: number | null,
): SampleResult {
  // Continuous families carry their frames in `images` / `points`, not as token rows.
  const cont = {
    family: f,
    sampler: run.sampler,
    steps: run.steps,
    samples: [],
    frames: [],
    cost: run.cost,
    paramCount: model.paramCount(),
  };
  if (run.imageFrames) {
    const im = run.imageFrames;
    // Procedural images have no known density: the sample view shows the model's bound instead.
    return {
      ...cont,
      nllBits: NaN,
      images: {
        size: im.size,
        channels: im.channels,
        batch,
        frames: im.frames.map((fr) => Array.from(fr)),
        x0Frames: im.x0Frames.map((fr) => Array.from(fr)),
        boundBits,
      },
    };
  }
  if (run.pointFrames && source !== 'hmm' && source !== 'shapes') {
    const g = src.gmm(source);
    const xs = run.pointFrames[run.pointFrames.length - 1]!;
    return {
      ...cont,
      nllBits: mixtureSampleBits(g, xs, xs.length / g.dim),
      points: {
        frames: run.pointFrames.map((p) => Array.from(p)),
        means: src.sourceInfo(source).means ?? [],
        entropyBits: src.sourceInfo(source).entropyBits ?? 0,
      },
    };
  }
  const N = src.hmm.seqLen;
  return {
    family: f,
    sampler: run.sampler,
    steps: run.steps,
    samples: Array.from({ length: batch }, (_, b) => Array.from(run.samples.subarray(b * N, b * N + N))),
    frames: run.frames.map((fr) => fr.map((r) => Array.from(r))),
    cost: run.cost,
    nllBits: hmmSampleBits(src.hmm, run.samples, batch),
    paramCount: model.paramCount(),
  };
}
