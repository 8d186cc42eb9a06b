/**
 * End-to-end tests: the built site (dist/, from `vite build`) served on 127.0.0.1 and driven in
 * Debian's headless Chromium through playwright-core, once per backend: WebGPU (SwiftShader, a
 * software adapter: slow, so the WebGPU pass uses fewer steps) and wasm (forced by ?backend=wasm).
 * PLAYGROUND_BACKENDS=webgpu,wasm (default) picks the passes. Screenshots go to test-output/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { serveStatic, type StaticServer } from './server.js';
import { launch, type Launched } from './browser.js';
import { parseState, serializeState } from '../src/state.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const out = join(here, '..', 'test-output');
const BACKENDS = (process.env['PLAYGROUND_BACKENDS'] ?? 'webgpu,wasm')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

/** Per-backend budgets: SwiftShader runs each kernel dispatch on the CPU, ~30× slower than wasm here. */
const PLAN: Record<
  string,
  {
    trainSteps: number;
    raceT: number;
    sweep: boolean;
    elboT: number;
    warmup: number;
    minDrop: number;
    sampleFamily: 'ar' | 'masked-diffusion';
    sampleT: number;
  }
> = {
  webgpu: {
    trainSteps: 8,
    raceT: 4,
    sweep: false,
    elboT: 4,
    warmup: 0,
    minDrop: 0.15,
    sampleFamily: 'masked-diffusion',
    sampleT: 6,
  },
  wasm: {
    trainSteps: 60,
    raceT: 16,
    sweep: true,
    elboT: 16,
    warmup: 80,
    minDrop: 1.0,
    sampleFamily: 'ar',
    sampleT: 16,
  },
};

let server: StaticServer;

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html')))
    throw new Error(
      `playground e2e: ${dist}/index.html is missing; run \`vite build\` first (the package's test script does)`,
    );
  mkdirSync(out, { recursive: true });
  server = await serveStatic(dist);
});

afterAll(async () => {
  await server?.close();
});

async function num(page: Page, testid: string): Promise<number> {
  const t = (await page.textContent(`[data-testid="${testid}"]`)) ?? '';
  return Number(t.replace(/[^0-9.\-]/g, ''));
}

/** Set a range input the way a drag does: input events, then change on release. */
async function setRange(page: Page, testid: string, value: number): Promise<void> {
  await page.$eval(
    `[data-testid="${testid}"]`,
    (el, v) => {
      const input = el as HTMLInputElement;
      input.value = String(v);
      input.dispatchEvent(new Event('input', { bubbles: true }));
      input.dispatchEvent(new Event('change', { bubbles: true }));
    },
    value,
  );
}

async function shot(page: Page, backend: string, name: string): Promise<void> {
  await page.screenshot({ path: join(out, `${backend}-${name}.png`), fullPage: true });
}

describe.each(BACKENDS)('playground on %s', (backend) => {
  const plan = PLAN[backend] ?? PLAN['wasm']!;
  let launched: Launched;
  let page: Page;
  const errors: string[] = [];

  const open = async (query: string): Promise<void> => {
    await page.goto(`${server.url}${query}`);
    await page.waitForSelector('[data-testid="backend"]:not([data-backend=""])', { timeout: 60_000 });
  };

  beforeAll(async () => {
    launched = await launch();
    page = await launched.browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await launched?.close();
  });

  it('loads on the requested backend with no console errors', async () => {
    await open(`?backend=${backend}`);
    const badge = page.locator('[data-testid="backend"]');
    expect(await badge.getAttribute('data-backend')).toBe(backend);
    expect(await badge.textContent()).toContain(backend);
    if (backend === 'webgpu') expect((await badge.textContent())?.toLowerCase()).toContain('swiftshader');
    await page.waitForSelector('[data-testid="forward-output"] .tok');
    expect(errors).toEqual([]);
  });

  it('renders every view', async () => {
    const views = ['forward', 'train', 'sample', 'race', 'elbo', 'checkpoint', 'text'];
    const marker: Record<string, string> = {
      forward: '[data-testid="t-slider"]',
      train: '[data-testid="train-start"]',
      sample: '[data-testid="sample-run"]',
      race: '[data-testid="race-run"]',
      elbo: '[data-testid="elbo-run"]',
      checkpoint: '[data-testid="checkpoint-load"]',
      text: '[data-testid="text-train-start"]',
    };
    for (const v of views) {
      await page.click(`[data-testid="nav-${v}"]`);
      await page.waitForSelector(marker[v]!);
      expect(new URL(page.url()).searchParams.get('view') ?? 'forward').toBe(v);
      expect(await page.locator('main [data-testid]').count()).toBeGreaterThan(0);
    }
    // The forward process on every source.
    for (const src of ['rings', 'shapes', 'hmm']) {
      await open(`?backend=${backend}&source=${src}${src === 'hmm' ? '' : '&process=gauss'}&t=0.3`);
      await page.waitForSelector(
        src === 'hmm'
          ? '[data-testid="forward-output"] .tok'
          : src === 'rings'
            ? '[data-testid="forward-canvas"]'
            : 'canvas.img',
      );
      await shot(page, backend, `forward-${src}`);
    }
    expect(errors).toEqual([]);
  });

  it('a short training run lowers the loss', async () => {
    await open(`?backend=${backend}&view=train`);
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="loss-value"]')?.getAttribute('data-step') ?? 0) >= n,
      plan.trainSteps,
      { timeout: 120_000, polling: 200 },
    );
    await page.click('[data-testid="train-pause"]');
    await page.waitForSelector('[data-testid="train-status"]:text("paused")', { timeout: 60_000 });
    const lv = page.locator('[data-testid="loss-value"]');
    const first = Number(await lv.getAttribute('data-first'));
    const last = Number(await lv.getAttribute('data-last3'));
    const entropy = await num(page, 'entropy-value');
    const speed = await num(page, 'train-speed');
    // An untrained model predicts ≈ uniformly: log2(32) = 5 bits; training must move towards the entropy (≈ 3.2).
    expect(first).toBeGreaterThan(4.5);
    expect(first).toBeLessThan(5.5);
    expect(last).toBeLessThan(first - plan.minDrop);
    expect(last).toBeGreaterThan(entropy - 0.25); // exact NLL can't beat the entropy rate (up to batch noise)
    expect(speed).toBeGreaterThan(0);
    console.log(
      `[${backend}] training: ${first.toFixed(3)} → ${last.toFixed(3)} bits/token in ${await lv.getAttribute('data-step')} steps, ${speed} tokens/s`,
    );
    await shot(page, backend, 'train');
    expect(errors).toEqual([]);
  });

  it('a trained model and its loss curve survive a reload', async () => {
    // Same page as the training run: paused, so the worker has already written the checkpoint.
    const step = Number(await page.getAttribute('[data-testid="loss-value"]', 'data-step'));
    expect(step).toBeGreaterThanOrEqual(plan.trainSteps);
    await page.reload();
    await page.waitForSelector('[data-testid="backend"]:not([data-backend=""])', { timeout: 60_000 });
    await page.waitForSelector('.toast:text("Restored from this browser")', { timeout: 60_000 });
    await page.waitForSelector('[data-testid="loss-chart"]', { timeout: 60_000 });
    expect(Number(await page.getAttribute('[data-testid="loss-value"]', 'data-step'))).toBe(step);
    expect(await num(page, 'train-step')).toBe(step);
    // Training goes on from the restored weights: the loss stays where it was, not back at log2(32) = 5.
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="loss-value"]')?.getAttribute('data-step') ?? 0) >= n,
      step + 2,
      { timeout: 120_000, polling: 200 },
    );
    await page.click('[data-testid="train-pause"]');
    await page.waitForSelector('[data-testid="train-status"]:text("paused")', { timeout: 60_000 });
    const lv = page.locator('[data-testid="loss-value"]');
    expect(Number(await lv.getAttribute('data-last'))).toBeLessThan(
      Number(await lv.getAttribute('data-first')) - plan.minDrop / 2,
    );
    expect(errors).toEqual([]);
  });

  it('exported checkpoints load back in the checkpoint view', async () => {
    await page.click('[data-testid="train-export"]');
    const downloads: string[] = [];
    for (const ext of ['json', 'safetensors']) {
      const [d] = await Promise.all([
        page.waitForEvent('download', { timeout: 60_000 }),
        page.click(`[data-testid="export-${ext}"]`),
      ]);
      const p = join(out, `${backend}-ckpt-${d.suggestedFilename()}`);
      await d.saveAs(p);
      downloads.push(p);
    }
    const cfgPath = downloads.find((p) => p.endsWith('.json'))!;
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as { model: { type: string } };
    expect(cfg.model.type).toBeTruthy();
    const params = await num(page, 'param-count');
    await page.click('[data-testid="nav-checkpoint"]');
    await page.setInputFiles('[data-testid="checkpoint-config"]', cfgPath);
    await page.setInputFiles(
      '[data-testid="checkpoint-weights"]',
      downloads.find((p) => p.endsWith('.safetensors'))!,
    );
    await page.click('[data-testid="checkpoint-load"]');
    await page.waitForSelector('[data-testid="checkpoint-params"]');
    expect(await num(page, 'checkpoint-params')).toBe(params);
    // A broken file is refused with a message that names the problem.
    await page.setInputFiles('[data-testid="checkpoint-weights"]', {
      name: 'model.safetensors',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from([1, 2, 3]),
    });
    await page.click('[data-testid="checkpoint-load"]');
    await page.waitForSelector('[data-testid="checkpoint-error"]');
    expect(await page.textContent('[data-testid="checkpoint-error"]')).toMatch(/safetensors/i);
    await page.setInputFiles(
      '[data-testid="checkpoint-weights"]',
      downloads.find((p) => p.endsWith('.safetensors'))!,
    );
    await page.click('[data-testid="checkpoint-load"]');
    await page.waitForSelector('[data-testid="checkpoint-params"]');
    if (backend === 'wasm') {
      await page.click('[data-testid="checkpoint-sample"]');
      await page.waitForSelector('[data-testid="checkpoint-samples"] .tok');
    }
    await shot(page, backend, 'checkpoint');
    expect(errors).toEqual([]);
  });

  it('sampling produces output, step by step', async () => {
    await page.click('[data-testid="nav-sample"]');
    await page.selectOption('[data-testid="family-select"]', plan.sampleFamily);
    await page.click('[data-testid="sample-run"]');
    await page.waitForSelector('[data-testid="sample-output"][data-done="true"]', { timeout: 120_000 });
    const chips = await page.locator('[data-testid="sample-output"] .tok:not(.tok-mask)').count();
    expect(chips).toBe(8 * 32); // every position of every sequence generated
    const nfe = await num(page, 'sample-nfe');
    if (plan.sampleFamily === 'ar') expect(nfe).toBe(32);
    else expect(nfe).toBeLessThanOrEqual(Number(new URL(page.url()).searchParams.get('T') ?? 16));
    expect(await num(page, 'sample-nll')).toBeGreaterThan(0);
    await shot(page, backend, 'sample');
    // The sampler choice: without the cache the same tokens cost a model call at every step.
    await page.selectOption('[data-testid="sampler-select"]', 'uncached');
    expect(new URL(page.url()).searchParams.get('sampler')).toBe('uncached');
    await page.click('[data-testid="sample-run"]');
    await page.waitForSelector('[data-testid="sample-output"][data-done="true"]', { timeout: 120_000 });
    expect(await page.textContent('.stage-head h3')).toMatch(/uncached|no cache/);
    expect(await num(page, 'sample-nfe')).toBe(
      plan.sampleFamily === 'ar' ? 32 : Number(new URL(page.url()).searchParams.get('T') ?? 16),
    );
    await page.selectOption('[data-testid="sampler-select"]', 'cached');
    expect(errors).toEqual([]);
  });

  it('the race reports NFE for both sides', async () => {
    await open(`?backend=${backend}&view=race&T=${plan.raceT}`);
    if (plan.warmup > 0) {
      await page.fill('[data-testid="race-train-steps"]', String(plan.warmup));
      await page.dispatchEvent('[data-testid="race-train-steps"]', 'change');
      await page.click('[data-testid="race-train"]');
      await page.waitForSelector('[data-testid="race-status"]:text("both models trained")', { timeout: 120_000 });
    }
    if (!plan.sweep) await page.uncheck('[data-testid="race-sweep-toggle"]');
    await page.click('[data-testid="race-run"]');
    await page.waitForFunction(
      () =>
        /\d/.test(document.querySelector('[data-testid="race-ar-nfe-nll"]')?.textContent ?? '') &&
        /\d/.test(document.querySelector('[data-testid="race-mdm-nfe-nll"]')?.textContent ?? ''),
      null,
      { timeout: 150_000, polling: 250 },
    );
    expect(await num(page, 'race-ar-nfe')).toBe(32); // AR: n = 32 sequential passes
    const mdmNfe = await num(page, 'race-mdm-nfe');
    expect(mdmNfe).toBeGreaterThanOrEqual(1);
    expect(mdmNfe).toBeLessThanOrEqual(plan.raceT); // diffusion: at most T passes (cached steps are free)
    if (plan.sweep) {
      await page.waitForSelector('[data-testid="race-sweep-chart"]', { timeout: 150_000 });
      if (plan.warmup > 0) {
        // After training, AR samples are (nearly) as likely under the source as its own samples.
        expect(await num(page, 'race-ar-nfe-nll')).toBeLessThan(4.2);
      }
    }
    await shot(page, backend, 'race');
    expect(errors).toEqual([]);
  });

  it('ELBO anatomy: the one-term estimator agrees with the full sum', async () => {
    // Same page as the race: the masked-diffusion model it warmed up is still in the worker.
    await page.click('[data-testid="nav-elbo"]');
    await setRange(page, 'T-slider', plan.elboT);
    expect(parseState(new URL(page.url()).search).state.T).toBe(plan.elboT);
    await page.click('[data-testid="elbo-run"]');
    await page.waitForSelector('[data-testid="elbo-output"]', { timeout: 150_000 });
    const total = await num(page, 'elbo-total');
    const est = await num(page, 'elbo-estimate');
    const se = Number(
      /±\s*([0-9.]+\d)/.exec((await page.textContent('[data-testid="elbo-estimate"] + .stat-sub')) ?? '')?.[1],
    );
    expect(se).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(0);
    // Unbiased: within 5 standard errors (+ the eval set's own sampling error) of the sum.
    expect(Math.abs(est - total)).toBeLessThan(5 * se + 0.15);
    await shot(page, backend, 'elbo');
    expect(errors).toEqual([]);
  });

  it('gaussian diffusion moves a point cloud onto the 2-D mixture', async () => {
    const steps = backend === 'webgpu' ? 3 : 30;
    await open(
      `?backend=${backend}&view=train&family=gaussian&source=grid&T=${backend === 'webgpu' ? 4 : 16}&batch=128`,
    );
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="loss-value"]')?.getAttribute('data-step') ?? 0) >= n,
      steps,
      { timeout: 120_000, polling: 200 },
    );
    await page.click('[data-testid="train-pause"]');
    await page.waitForSelector('[data-testid="train-status"]:text("paused")', { timeout: 60_000 });
    await page.click('[data-testid="nav-sample"]');
    expect(await page.inputValue('[data-testid="family-select"]')).toBe('gaussian');
    await page.click('[data-testid="sample-run"]');
    await page.waitForSelector('[data-testid="sample-output"][data-done="true"]', { timeout: 120_000 });
    expect(Number(await page.getAttribute('[data-testid="sample-output"]', 'data-points'))).toBe(600);
    expect(await num(page, 'sample-nfe')).toBe(backend === 'webgpu' ? 4 : 16); // DDPM: one call per step
    expect(Number.isFinite(await num(page, 'sample-nll'))).toBe(true);
    await shot(page, backend, 'sample-gaussian');
    expect(errors).toEqual([]);
  });

  it('gaussian diffusion on images: a U-Net trains and images emerge step by step', async () => {
    const steps = backend === 'webgpu' ? 2 : 40;
    const T = backend === 'webgpu' ? 3 : 12;
    await open(`?backend=${backend}&view=train&T=${T}`);
    // Picking the family loads its starting lr and batch into the URL.
    await page.selectOption('[data-testid="family-select"]', 'gaussian-image');
    const q = new URL(page.url()).searchParams;
    expect([q.get('family'), q.get('lr'), q.get('batch')]).toEqual(['gaussian-image', '0.003', '16']);
    await page.click('[data-testid="train-start"]');
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="loss-value"]')?.getAttribute('data-step') ?? 0) >= n,
      steps,
      { timeout: 180_000, polling: 200 },
    );
    await page.click('[data-testid="train-pause"]');
    await page.waitForSelector('[data-testid="train-status"]:text("paused")', { timeout: 120_000 });
    await page.waitForSelector('[data-testid="bound-chart"]');
    const bound = await num(page, 'bound-value');
    expect(bound).toBeGreaterThan(0); // bits per 8-bit pixel
    expect(bound).toBeLessThan(16);
    if (backend === 'wasm') {
      const lv = page.locator('[data-testid="loss-value"]');
      expect(Number(await lv.getAttribute('data-last3'))).toBeLessThan(
        0.8 * Number(await lv.getAttribute('data-first')),
      );
      console.log(
        `[${backend}] images: v-MSE ${Number(await lv.getAttribute('data-first')).toFixed(3)} → ${Number(await lv.getAttribute('data-last3')).toFixed(3)}, NELBO ${bound} bits/pixel, ${await num(page, 'train-speed')} pixels/s`,
      );
    }
    await shot(page, backend, 'train-images');
    await page.click('[data-testid="nav-sample"]');
    expect(await page.inputValue('[data-testid="family-select"]')).toBe('gaussian-image');
    await page.click('[data-testid="sample-run"]');
    await page.waitForSelector('[data-testid="sample-output"][data-images="16"]', { timeout: 120_000 });
    // The first frame is pure noise; the animation ends on the samples.
    await page.waitForSelector('[data-testid="sample-output"][data-done="true"]', { timeout: 60_000 });
    expect(await page.locator('[data-testid="sample-output"] canvas.img').count()).toBe(16);
    expect(await num(page, 'sample-nfe')).toBe(T);
    await shot(page, backend, 'sample-images');
    // The same run seen through the model's eyes: x̂0(z_t) at every step.
    await page.check('[data-testid="sample-x0"]');
    await page.waitForSelector('[data-testid="sample-output"][data-view="x0"]');
    expect(await page.locator('[data-testid="sample-output"] canvas.img').count()).toBe(16);
    await setRange(page, 'sample-step', 0);
    await shot(page, backend, 'sample-images-x0');
    expect(errors).toEqual([]);
  });

  it('URL state round-trips', async () => {
    const q = `?view=sample&backend=${backend}&family=masked-diffusion&size=small&seed=7&T=9`;
    await open(q);
    await page.waitForSelector('[data-testid="sample-run"]');
    expect(await page.inputValue('[data-testid="family-select"]')).toBe('masked-diffusion');
    expect(await page.inputValue('[data-testid="T-slider"]')).toBe('9');
    expect(await page.inputValue('[data-testid="seed"]')).toBe('7');
    // Change a control: the URL follows, and a reload restores it.
    await page.fill('[data-testid="seed"]', '11');
    await page.dispatchEvent('[data-testid="seed"]', 'change');
    const url = new URL(page.url());
    expect(url.searchParams.get('seed')).toBe('11');
    expect(parseState(url.search).state).toMatchObject({
      view: 'sample',
      family: 'masked-diffusion',
      size: 'small',
      seed: 11,
      T: 9,
    });
    expect(serializeState(parseState(url.search).state)).toBe(
      serializeState(parseState(`?${url.searchParams.toString()}`).state),
    );
    await page.reload();
    await page.waitForSelector('[data-testid="sample-run"]');
    expect(await page.inputValue('[data-testid="seed"]')).toBe('11');
    // Back/forward navigate between views.
    await page.click('[data-testid="nav-race"]');
    await page.waitForSelector('[data-testid="race-run"]');
    await page.goBack();
    await page.waitForSelector('[data-testid="sample-run"]');
    expect(errors).toEqual([]);
  });
});
