/**
 * altar's side of the reference-model comparison with PyTorch (`pnpm bench:reference`, which also runs
 * ../shared/peers/torch_reference.py and prints the ratios). The same network as the peer: byte vocabulary
 * 256, pre-LN GPT blocks with a GELU MLP (4×), learned positions, tied head; `ref` is d 256 × 4 layers ×
 * 4 heads, sequence 256, batch 16; `gpt2-small` is d 768 × 12 × 12, sequence 1024, batch 8.
 *
 * Measures (medians): training tokens/s through @altar/train's Trainer.run (forward, backward, AdamW; the loss
 * read back once per train.syncEvery steps: 'auto' = 1 on wasm/cpu, 16 on webgpu; --sync-every N overrides; the
 * train_step counts are per step, so `reads` is 1/N), cached AR decode ms/token through @altar/samplers (batch 1, greedy, every token read back, as the
 * peer does), and one bidirectional denoiser pass (batch 1, n = sequence). For each it also counts, per
 * step / token / pass, the kernel dispatches, the device→host reads, the host→device uploads and the
 * tensors allocated, and where the time goes: the costliest kernels of one profiled run with their times
 * (GPU timestamp queries on webgpu, the host clock on cpu/wasm). Prints one JSON line.
 *
 * Usage: tsx --conditions=@altar/source apps/trainer/bench/reference.bench.ts [--backend wasm] [--size ref]
 *        [--steps 4] [--fused 1|0] [--batch B] [--decode N] [--sync-every auto|N]
 *        (--fused 0: plain compositions and tfjs's own wasm kernels, the baseline)
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setFusedKernels } from '@altar/backend';
import { arNll } from '@altar/elbo';
import { createModel, type ArTransformer, type DiffusionTransformer } from '@altar/models';
import { sampleAr } from '@altar/samplers';
import { Rng } from '@altar/backend';
import { Trainer } from '@altar/train';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}
const size = arg('size', 'ref');
if (size !== 'ref' && size !== 'gpt2-small') throw new Error(`--size must be ref or gpt2-small, got ${size}`);
const fused = arg('fused', '1') !== '0';
if (!fused) process.env['ALTAR_FUSED'] = '0'; // read by initBackend (wasm fast paths) and the fused ops
const steps = Number(arg('steps', size === 'ref' ? '4' : '2'));
const [D, L, H, S, B0] = size === 'ref' ? [256, 4, 4, 256, 16] : [768, 12, 12, 1024, 8];
// --batch: a smaller training batch, for counting dispatches and syncs on a slow (software) adapter
const B = Number(arg('batch', String(B0)));
const V = 256;
const decodeTokens = Number(arg('decode', String(S)));
const syncArg = arg('sync-every', 'auto');
const syncEvery = syncArg === 'auto' ? ('auto' as const) : Number(syncArg);

const info = await initBackend(arg('backend', 'wasm'));
const nullAdapter = /null-backend/.test(info.adapter);
setFusedKernels(fused);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const METADATA_ONLY = new Set(['Reshape', 'Identity']);

interface Counts {
  /** Kernels that launch work (every kernel but the buffer-sharing Reshape / Identity). */
  dispatches: number;
  /** Every kernel the engine ran. */
  kernels: number;
  /** Device→host reads by the program (await t.data()). */
  reads: number;
  /** Host reads made inside kernels (readSync). */
  kernelHostReads: number;
  uploads: number;
  allocations: number;
  /** webgpu: shader pipelines compiled during the run (0 once warm, whatever the sizes). */
  compiles?: number;
}

/** Time per kernel name inside one profiled run: GPU timestamps on webgpu, the host clock on cpu/wasm. */
interface KernelTimes {
  /** Sum of every kernel's time (ms). */
  kernelMs: number;
  /** Wall time of the profiled run itself (ms); profiling adds a submit and a wait per kernel on webgpu. */
  profiledWallMs: number;
  /** The costliest kernel names, most first: calls and milliseconds in the run. */
  top: { name: string; calls: number; ms: number; share: number }[];
}

/** Aggregate the per-kernel times of tf.profile's dispatches by kernel name (unresolved times count as 0). */
function kernelTimes(kernels: readonly { name: string; kernelTimeMs: unknown }[], wallMs: number): KernelTimes {
  const by = new Map<string, { calls: number; ms: number }>();
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' && Number.isFinite(k.kernelTimeMs) ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    by.set(k.name, e);
  }
  const total = [...by.values()].reduce((s, e) => s + e.ms, 0);
  const top = [...by.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, 12)
    .map(([name, e]) => ({
      name,
      calls: e.calls,
      ms: +e.ms.toFixed(3),
      share: total > 0 ? +(e.ms / total).toFixed(3) : 0,
    }));
  return { kernelMs: +total.toFixed(3), profiledWallMs: +wallMs.toFixed(1), top };
}

/** Run `fn` under tf.profile with the backend's read/write entry points counted. */
async function counted(fn: () => Promise<unknown>): Promise<{ counts: Counts; times: KernelTimes }> {
  const be = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
  const c = { reads: 0, kernelHostReads: 0, uploads: 0 };
  const pipelines = () => Object.keys((be as unknown as { pipelineCache?: object }).pipelineCache ?? {}).length;
  const pipelines0 = pipelines();
  const orig = { read: be['read'], readSync: be['readSync'], write: be['write'] };
  // The program's reads are `await t.data()` (backend.read); readSync is what kernels themselves read on
  // the host (index checks on cpu/wasm), counted apart.
  be['read'] = function (this: unknown, ...a: unknown[]) {
    c.reads++;
    return orig.read!.apply(this, a);
  };
  be['readSync'] = function (this: unknown, ...a: unknown[]) {
    c.kernelHostReads++;
    return orig.readSync!.apply(this, a);
  };
  // write(values, …) with values = null is an allocation (wasm's makeOutput), not an upload.
  be['write'] = function (this: unknown, ...a: unknown[]) {
    if (a[0] != null) c.uploads++;
    return orig.write!.apply(this, a);
  };
  try {
    const t0 = performance.now();
    const prof = await tf.profile(async () => {
      await fn();
    });
    const wallMs = performance.now() - t0;
    // Copy before any later profile reuses the object. Reshape and Identity only share the input's
    // buffer (cpu, webgpu, and wasm with altar's kernels): no work is launched, so they are not dispatches.
    // Scopes (custom-gradient forwards, recorded as 'unnamed scope') wrap kernels that are recorded on
    // their own as well: they are neither kernels nor dispatches, and their time would count twice.
    const backendName = tf.getBackend();
    const ran = prof.kernels.filter((k) => tf.getKernel(k.name, backendName) !== undefined);
    const kernels = ran.length;
    const work = ran.filter((k) => !METADATA_ONLY.has(k.name));
    const allocations = work.reduce((s, k) => s + k.outputShapes.length, 0);
    return {
      counts: {
        dispatches: work.length,
        kernels,
        allocations,
        ...c,
        ...(info.name === 'webgpu' ? { compiles: pipelines() - pipelines0 } : {}),
      },
      times: kernelTimes(work, wallMs),
    };
  } finally {
    Object.assign(be, orig);
  }
}

const per = (c: Counts, n: number): Counts => ({
  dispatches: c.dispatches / n,
  kernels: c.kernels / n,
  reads: c.reads / n,
  kernelHostReads: c.kernelHostReads / n,
  uploads: c.uploads / n,
  allocations: c.allocations / n,
  ...(c.compiles !== undefined ? { compiles: c.compiles / n } : {}),
});
const perTimes = (t: KernelTimes, n: number): KernelTimes => ({
  kernelMs: +(t.kernelMs / n).toFixed(3),
  profiledWallMs: +(t.profiledWallMs / n).toFixed(1),
  top: t.top.map((k) => ({ ...k, calls: k.calls / n, ms: +(k.ms / n).toFixed(3) })),
});

// ---------------------------------------------------------------- training
const common = {
  vocabSize: V,
  dModel: D,
  nLayers: L,
  nHeads: H,
  maxLen: S,
  positions: 'learned',
  mlp: 'gelu',
  mlpRatio: 4,
  dropout: 0,
  seed: 1,
} as const;
const lm = createModel({
  ...common,
  type: 'ar-transformer',
  attention: 'full',
  window: 64,
  norm: 'layernorm',
  linearChunk: 64,
}) as ArTransformer;
const rng = new Rng(7);
const x = tf.tensor2d(
  Int32Array.from(rng.uniformArray(B * S), (u) => Math.floor(u * V)),
  [B, S],
  'int32',
);
const y = tf.tensor2d(
  Int32Array.from(rng.uniformArray(B * S), (u) => Math.floor(u * V)),
  [B, S],
  'int32',
);
const params: Record<string, tf.Variable> = {};
for (const [k, v] of Object.entries(lm.getWeights())) params[k] = v as tf.Variable;
const trainer = new Trainer({
  params,
  loss: () => tf.div(tf.mean(arNll(lm.forward(x), y)), S) as tf.Scalar,
  nextBatch: () => null,
  tokensPerBatch: B * S,
  // Dawn's null adapter (ALTAR_DAWN_FLAGS=backend=null) runs no kernel, so its numbers are garbage: skip the
  // non-finite updates it produces instead of stopping (the kernels dispatched are the same).
  config: { lr: 3e-4, steps: 1000, warmupSteps: 0, syncEvery, nonFinite: nullAdapter ? 'skip' : 'stop' },
});
// One window = syncEvery steps and one read-back; times and counts are per step (the window's divided evenly).
const W = trainer.syncEvery;
const trainWindow = () => trainer.run({ until: trainer.step + W });
await trainer.run({ until: trainer.step + 2 }); // warm-up: kernels compiled, shaders cached
const trainProf = await counted(trainWindow);
const trainCounts = per(trainProf.counts, W);
const stepMs: number[] = [];
for (let i = 0; i < Math.max(1, Math.round(steps / W)); i++) {
  const t0 = performance.now();
  await trainWindow();
  stepMs.push((performance.now() - t0) / W);
}
const trainTensors = tf.memory().numTensors;
await trainWindow();
const trainLeak = tf.memory().numTensors - trainTensors;
trainer.dispose();

// ---------------------------------------------------------------- AR decode (batch 1, greedy)
const decode = async (n: number) =>
  sampleAr(lm as never, { prompt: [[0]], length: n, rng: new Rng(3), temperature: 0 });
await decode(8);
const decodeProf = await counted(() => decode(16));
const decodeCounts = per(decodeProf.counts, 16);
const dec = await decode(decodeTokens);
const decodeMsPerToken = dec.cost.wallMs / decodeTokens;
lm.dispose();
x.dispose();
y.dispose();

// ---------------------------------------------------------------- one denoiser pass (batch 1, n = S)
const dit = createModel({ ...common, type: 'diffusion-transformer', timeConditioning: false }) as DiffusionTransformer;
const zt = tf.tensor2d(
  Int32Array.from(rng.uniformArray(S), (u) => Math.floor(u * (V + 1))),
  [1, S],
  'int32',
);
const pass = async () => {
  const logits = dit.predictX0Logits(zt, 0.5);
  await logits.data();
  logits.dispose();
};
await pass();
const denoiseProf = await counted(pass);
const denoiseCounts = denoiseProf.counts;
const passMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  await pass();
  passMs.push(performance.now() - t0);
}
dit.dispose();
zt.dispose();

const step = median(stepMs);
const kernelTimeSource = nullAdapter
  ? "none (Dawn's null adapter runs no kernel)"
  : info.name === 'webgpu'
    ? (tf.backend() as unknown as { supportTimestampQuery?: boolean }).supportTimestampQuery
      ? 'gpu timestamp queries'
      : 'none (the adapter has no timestamp-query)'
    : 'host clock around each kernel';
process.stdout.write(
  `${JSON.stringify({
    impl: 'altar',
    backend: info.name,
    adapter: info.adapter,
    fused,
    ...(info.wasmFma !== undefined ? { wasm_fma: info.wasmFma } : {}),
    size,
    params: Object.values(params).reduce((s, v) => s + v.size, 0),
    batch: B,
    seq: S,
    train_tokens_per_s: Math.round((B * S * 1000) / step),
    train_step_ms: +step.toFixed(1),
    sync_every: W,
    ar_decode_ms_per_token_kv: +decodeMsPerToken.toFixed(3),
    denoise_pass_ms: +median(passMs).toFixed(2),
    counts: { train_step: trainCounts, decode_token: decodeCounts, denoise_pass: denoiseCounts },
    // Where the time goes: per step / token / pass. On webgpu the kernel times are the GPU's own (timestamp
    // queries; 0 where the adapter lacks them); the measured time minus kernel_ms is host and dispatch cost.
    // (Dawn's null adapter: no kernel times at all, its timestamps are garbage.)
    profile: nullAdapter
      ? { kernel_time_source: kernelTimeSource }
      : {
          kernel_time_source: kernelTimeSource,
          train_step: perTimes(trainProf.times, W),
          decode_token: perTimes(decodeProf.times, 16),
          denoise_pass: denoiseProf.times,
        },
    train_step_tensor_leak: trainLeak,
  })}\n`,
);
