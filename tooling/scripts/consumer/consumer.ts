// Type-checked (not run) against the published .d.ts files, under moduleResolution node16 and
// bundler: every public entry point resolves, and a few signatures are used the documented way.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng, tensorsToSafetensors, type BackendInfo, type SafeTensor } from '@altar/backend';
import { expectNoLeaks, useBackend } from '@altar/backend/testing';
import { HmmSource, hmmOracleDenoiser, type TokenSource } from '@altar/data';
import { loadTokenizerJsonFile } from '@altar/data/node';
import { D3PMProcess, GaussianProcess, MaskedProcess, gaussianSchedule } from '@altar/noise';
import { d3pmNelbo, bitsPerToken } from '@altar/elbo';
import { createModel, loadModel, saveModel, type AnyModel, type ModelConfig } from '@altar/models';
import { saveModelFiles } from '@altar/models/node';
import { sampleMasked, type CostRecord, type SampleResult } from '@altar/samplers';
import { chiSquareTest, type ChiSquareResult } from '@altar/samplers/testing';
import { Trainer, ownedVariable, type StepResult, type TrainConfig } from '@altar/train';
import { saveCheckpoint } from '@altar/train/node';
import { buildRuntime, parseRunConfig, type FamilyRuntime, type RunConfig } from '@altar/recipes';

export async function typedUse(): Promise<number> {
  const info: BackendInfo = await initBackend('cpu');
  const rng = new Rng(0);
  const src: TokenSource = new HmmSource({ seqLen: 8 });
  const hmm = new HmmSource({ seqLen: 8 });
  const masked = new MaskedProcess({ vocabSize: hmm.vocabSize, schedule: 'log-linear' });
  const oracle = hmmOracleDenoiser(hmm, (t: number) => masked.marginalMatrix(t));
  const { samples, cost }: { samples: Int32Array; cost: CostRecord } = await sampleMasked(oracle, masked, {
    batch: 1,
    seqLen: 8,
    steps: 4,
    rng,
  });
  const d3pm = new D3PMProcess({ kind: 'absorbing', vocabSize: hmm.vocabSize, T: 4 });
  const x0: tf.Tensor2D = hmm.sampleTensor(2, rng);
  const nelbo: tf.Tensor1D = d3pmNelbo(
    d3pm,
    hmmOracleDenoiser(hmm, (u: number) => d3pm.noiseMatrix(u)),
    x0,
    rng,
    { sampling: 'uniform' },
  );
  const g = new GaussianProcess(gaussianSchedule('vp-cosine'));
  const config: ModelConfig = {
    type: 'ar-transformer',
    vocabSize: 16,
    dModel: 16,
    nLayers: 1,
    nHeads: 2,
  } as ModelConfig;
  const model: AnyModel = createModel(config);
  const again: AnyModel = loadModel(await saveModel(model));
  const file: Record<string, SafeTensor> = {};
  const bytes: Uint8Array = await tensorsToSafetensors({ x: x0 });
  const chi: ChiSquareResult = chiSquareTest([1, 2], [0.5, 0.5]);
  const w = tf.variable(tf.zeros([1]), true);
  const moment = ownedVariable(tf.zeros([1]));
  const cfg: Partial<TrainConfig> = { steps: 1 };
  const trainer = new Trainer<{ x: tf.Tensor }>({
    params: { w },
    loss: (b) => tf.mean(tf.mul(b.x, w)) as tf.Scalar,
    nextBatch: (r: Rng) => ({ x: r.normal([4]) }),
    disposeBatch: (b) => b.x.dispose(),
    config: cfg,
  });
  const step: StepResult = await trainer.trainStep();
  const run: RunConfig = parseRunConfig({ family: 'd3pm', diffusion: { T: 8, timesteps: 'importance' } });
  const T: number = run.family === 'd3pm' ? run.diffusion.T : 0; // the union narrows on `family`
  const recipe: FamilyRuntime = buildRuntime(run);
  recipe.dispose();
  const unused = [
    useBackend,
    expectNoLeaks,
    loadTokenizerJsonFile,
    saveModelFiles,
    saveCheckpoint,
    moment,
    src,
    file,
    info,
    again,
    g,
  ];
  const result: SampleResult | undefined = undefined;
  return (
    bitsPerToken(
      step.loss + chi.pValue + bytes.length + samples.length + cost.nfe + (await nelbo.data())[0]! + unused.length + T,
      8,
    ) + (result ? 1 : 0)
  );
}
