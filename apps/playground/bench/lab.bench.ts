/**
 * The playground's compute, measured outside the browser (`pnpm --filter @altar/playground bench`):
 * the worker's own composition root (src/lab/lab.ts: the same models, losses, Trainer and samplers the
 * page drives) run in Node on each backend in ALTAR_BENCH_BACKENDS (default wasm,cpu). Per family at the
 * `tiny` size and the family's starting batch: training throughput (tokens, points or pixels per second:
 * median over chunks of steps after a warm-up chunk) and the race's sampling wall time (AR n = 32 steps
 * vs masked diffusion T = 16, batch 8). Ratios are against the first backend of the run. With the
 * `webgpu` package and a GPU this is Dawn, the WebGPU implementation Chromium ships: the closest measure
 * of the page's speed on that GPU without a browser.
 * Env: ALTAR_BENCH_QUICK=1 (fewer steps), ALTAR_BENCH_OUT (results folder).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendName } from '@altar/backend';
import { benchQuick, formatTable, median, writeBenchResult } from '@altar/tooling/bench';
import { Lab } from '../src/lab/lab.js';
import { FAMILY_TRAIN_DEFAULTS, type Family } from '../src/state.js';

const quick = benchQuick();
const BACKENDS = (process.env['ALTAR_BENCH_BACKENDS'] ?? 'wasm,cpu').split(',').map((s) => s.trim()) as BackendName[];
/** perExample: tokens per sequence (n = 32), 1 per point, pixels per 16×16 image. */
const FAMILIES: Array<{
  family: Family;
  source: 'hmm' | 'grid' | 'shapes';
  unit: string;
  perExample: number;
  chunk: number;
}> = [
  { family: 'ar', source: 'hmm', unit: 'tokens/s', perExample: 32, chunk: 5 },
  { family: 'masked-diffusion', source: 'hmm', unit: 'tokens/s', perExample: 32, chunk: 5 },
  { family: 'ssm', source: 'hmm', unit: 'tokens/s', perExample: 32, chunk: 5 },
  { family: 'gaussian', source: 'grid', unit: 'points/s', perExample: 1, chunk: 10 },
  { family: 'gaussian-image', source: 'shapes', unit: 'pixels/s', perExample: 256, chunk: 3 },
];
const CHUNKS = quick ? 3 : 5;

interface Row {
  backend: string;
  family: string;
  unitsPerSec: number;
  unit: string;
  msPerStep: number;
  ratio: number;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const race: Array<Record<string, unknown>> = [];
  const base = new Map<string, number>();
  for (const b of BACKENDS) {
    const info = await initBackend(b);
    const lab = new Lab(() => undefined);
    for (const f of FAMILIES) {
      const { lr, batch } = FAMILY_TRAIN_DEFAULTS[f.family];
      const cfg = { family: f.family, size: 'tiny' as const, source: f.source, lr, batch, seed: 0 };
      await lab.trainSteps(cfg, f.chunk); // warm-up: kernels compiled, shaders cached
      const ms: number[] = [];
      for (let c = 0; c < CHUNKS; c++) {
        const t0 = performance.now();
        await lab.trainSteps(cfg, f.chunk);
        ms.push((performance.now() - t0) / f.chunk);
      }
      const msPerStep = median(ms);
      const ups = (batch * f.perExample) / (msPerStep / 1000);
      const key = f.family;
      if (!base.has(key)) base.set(key, ups);
      rows.push({
        backend: `${info.name} (${info.adapter})`,
        family: f.family,
        unitsPerSec: Math.round(ups),
        unit: f.unit,
        msPerStep,
        ratio: ups / base.get(key)!,
      });
    }
    // The race: AR writes n = 32 tokens in 32 passes, masked diffusion in T = 16 (both trained above).
    const ar = await lab.sample('ar', 16, 1, 8, 'tiny');
    const mdm = await lab.sample('masked-diffusion', 16, 1, 8, 'tiny');
    race.push({
      backend: info.name,
      arNfe: ar.cost.nfe,
      arMs: ar.cost.wallMs,
      mdmNfe: mdm.cost.nfe,
      mdmMs: mdm.cost.wallMs,
      arOverMdm: ar.cost.wallMs / mdm.cost.wallMs,
    });
    for (const f of FAMILIES) lab.trainReset(f.family);
  }
  process.stdout.write(
    `${formatTable(rows.map((r) => ({ ...r, msPerStep: Number(r.msPerStep.toFixed(2)), ratio: Number(r.ratio.toFixed(2)) })))}\n\n${formatTable(race)}\n`,
  );
  const file = writeBenchResult(join(dirname(fileURLToPath(import.meta.url)), '..'), 'lab', { quick, rows, race });
  process.stdout.write(`wrote ${file}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
