/**
 * WebGPU subgroup reductions benchmark: the squared-norms and decode-attention WGSL kernels with subgroups on
 * (subgroupAdd / subgroupMax) against the workgroup-memory trees (ALTAR_WEBGPU_SUBGROUPS=0), in one run.
 *
 *   cd packages/backend && VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
 *     npx tsx --conditions=@altar/source bench/subgroups.bench.ts
 *
 * A mode is a device (subgroups are requested when the device is created), so modes run in alternating blocks
 * (on, off, on, off), each block restarting the webgpu backend and warming its pipelines first.
 * Cases: squared norms of the reference model's 44 parameters (4 layers, D 256), and one decode-attention step
 * (B 1, H 4, dh 64, rotary) at 256 and 1024 keys. Each timed call includes the read-back.
 * Env: ALTAR_BENCH_REPS (timed calls per block, default 5). Writes bench/results/subgroups.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAttention } from '../src/fused/decode-attention.js';
import { squaredNorms } from '../src/fused/ops.js';
import { initBackend } from '../src/init.js';
import { Rng } from '../src/rng.js';
import { registerWebgpuFactory, webgpuSubgroups } from '../src/webgpu-device.js';

const REPS = Number(process.env['ALTAR_BENCH_REPS'] ?? 5);
const BLOCKS = ['on', 'off', 'on', 'off'] as const;

const info = await initBackend('webgpu');
const rng = new Rng(9);
const D = 256;
const layer = [D * 3 * D, 3 * D, D * D, D, D, D, D * 4 * D, 4 * D, 4 * D * D, D, D];
const paramSizes = Array.from({ length: 4 }, () => layer).flat();
const params = paramSizes.map((n) => Float32Array.from(rng.normalArray(n)));
const attnCases = [256, 1024].map((keys) => ({
  keys,
  qkv: Float32Array.from(rng.normalArray(3 * 4 * 64)),
  k: Float32Array.from(rng.normalArray(4 * (keys - 1) * 64)),
  v: Float32Array.from(rng.normalArray(4 * (keys - 1) * 64)),
}));

type Case = { name: string; make: () => tf.Tensor[]; run: (xs: tf.Tensor[]) => tf.Tensor[] };
const cases: Case[] = [
  {
    name: `squared norms, ${paramSizes.length} tensors`,
    make: () => params.map((p) => tf.tensor1d(p)),
    run: (xs) => [squaredNorms(xs)],
  },
  ...attnCases.map(({ keys, qkv, k, v }): Case => ({
    name: `decode attention, ${keys} keys`,
    make: () => [
      tf.tensor2d(qkv, [1, 3 * 256]),
      tf.tensor4d(k, [1, 4, keys - 1, 64]),
      tf.tensor4d(v, [1, 4, keys - 1, 64]),
    ],
    run: ([q, kc, vc]) => decodeAttention(q!, kc!, vc!, { nHeads: 4, rope: true, ropeBase: 10000 }),
  })),
];

async function restart(on: boolean): Promise<void> {
  if (on) delete process.env['ALTAR_WEBGPU_SUBGROUPS'];
  else process.env['ALTAR_WEBGPU_SUBGROUPS'] = '0';
  tf.removeBackend('webgpu');
  registerWebgpuFactory(await import('@tensorflow/tfjs-backend-webgpu'));
  await tf.setBackend('webgpu');
  if (webgpuSubgroups() !== on) throw new Error(`subgroups are ${webgpuSubgroups()} after a restart asking for ${on}`);
}

async function timeOnce(c: Case, xs: tf.Tensor[]): Promise<number> {
  const t0 = performance.now();
  const out = c.run(xs);
  await Promise.all(out.map((o) => o.data()));
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}

const times = cases.map(() => ({ on: [] as number[], off: [] as number[] }));
for (const mode of BLOCKS) {
  await restart(mode === 'on');
  for (let i = 0; i < cases.length; i++) {
    const xs = cases[i]!.make();
    await timeOnce(cases[i]!, xs); // warm-up: pipeline compilation
    for (let r = 0; r < REPS; r++) times[i]![mode].push(await timeOnce(cases[i]!, xs));
    tf.dispose(xs);
  }
}
const rows = cases.map((c, i) => {
  const on = median(times[i]!.on);
  const off = median(times[i]!.off);
  return { case: c.name, 'subgroups ms': on, 'tree ms': off, 'speed-up': off / on, times: times[i] };
});
process.stdout.write(
  `\n${info.adapter}: WGSL reductions, subgroups vs workgroup-memory tree (median of ${2 * REPS} per mode, blocks on/off/on/off)\n` +
    formatTable(rows.map(({ times: _t, ...r }) => r)) +
    '\n',
);
const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = writeBenchResult(pkgDir, 'subgroups', {
  adapter: info.adapter,
  reps: REPS,
  results: rows,
  notes: 'subgroups on vs ALTAR_WEBGPU_SUBGROUPS=0, one process, alternating blocks; each call includes the read-back',
});
process.stdout.write(`wrote ${file}\n`);
process.exit(0);
