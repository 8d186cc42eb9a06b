/**
 * Longer runs than the tests afford, for looking at: trains the image family and the 2-D Gaussian family
 * in headless Chromium (built dist/, wasm unless SHOWCASE_BACKEND says otherwise) and saves screenshots
 * of their Train and Sample views under test-output/showcase-*.png, printing the figures shown.
 *   pnpm --filter @altar/playground build && pnpm --filter @altar/playground showcase
 * Env: SHOWCASE_IMAGE_STEPS (default 400), SHOWCASE_POINT_STEPS (default 1000; 0 skips), SHOWCASE_BACKEND (wasm),
 * SHOWCASE_SIZE (tiny | small, both families).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { launch } from './browser.js';
import { serveStatic } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'test-output');
const backend = process.env['SHOWCASE_BACKEND'] ?? 'wasm';
const imageSteps = Number(process.env['SHOWCASE_IMAGE_STEPS'] ?? 400);
const pointSteps = Number(process.env['SHOWCASE_POINT_STEPS'] ?? 1000);
const size = process.env['SHOWCASE_SIZE'] === 'small' ? 'small' : 'tiny';

async function text(page: Page, testid: string): Promise<string> {
  return ((await page.textContent(`[data-testid="${testid}"]`)) ?? '').trim();
}

async function train(page: Page, query: string, steps: number, name: string): Promise<void> {
  await page.goto(query);
  await page.waitForSelector('[data-testid="backend"]:not([data-backend=""])', { timeout: 60_000 });
  await page.click('[data-testid="train-start"]');
  const t0 = Date.now();
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="loss-value"]')?.getAttribute('data-step') ?? 0) >= n,
    steps,
    { timeout: 1_800_000, polling: 1000 },
  );
  await page.click('[data-testid="train-pause"]');
  await page.waitForSelector('[data-testid="train-status"]:text("paused")', { timeout: 120_000 });
  process.stdout.write(
    `${name}: ${steps} steps in ${((Date.now() - t0) / 1000).toFixed(0)} s; loss ${await text(page, 'loss-value')}, NELBO ${await text(page, 'bound-value')} bits/dim, speed ${await text(page, 'train-speed')}\n`,
  );
  await page.screenshot({ path: join(out, `showcase-${name}-train.png`), fullPage: true });
  await page.click('[data-testid="nav-sample"]');
  await page.click('[data-testid="sample-run"]');
  await page.waitForSelector('[data-testid="sample-output"][data-done="true"]', { timeout: 300_000 });
  process.stdout.write(`${name}: sample NFE ${await text(page, 'sample-nfe')}, ${await text(page, 'sample-nll')}\n`);
  await page.screenshot({ path: join(out, `showcase-${name}-sample.png`), fullPage: true });
  if (await page.$('[data-testid="sample-x0"]')) {
    // Images: a quarter of the way through, what the model already sees in the noise.
    await page.check('[data-testid="sample-x0"]');
    const max = Number(await page.getAttribute('[data-testid="sample-step"]', 'max'));
    await page.$eval(
      '[data-testid="sample-step"]',
      (el, v) => {
        (el as HTMLInputElement).value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      },
      Math.round(max / 4),
    );
    await page.screenshot({ path: join(out, `showcase-${name}-sample-x0.png`), fullPage: true });
    await page.uncheck('[data-testid="sample-x0"]');
    await page.screenshot({ path: join(out, `showcase-${name}-sample-z.png`), fullPage: true });
  }
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const server = await serveStatic(join(here, '..', 'dist'));
  const l = await launch();
  try {
    const page = await l.browser.newPage();
    page.on('pageerror', (e) => process.stderr.write(`pageerror: ${e.message}\n`));
    await train(
      page,
      `${server.url}?backend=${backend}&view=train&family=gaussian-image&size=${size}&lr=0.003&batch=16&T=32`,
      imageSteps,
      `images-${size}`,
    );
    if (pointSteps > 0)
      await train(
        page,
        `${server.url}?backend=${backend}&view=train&family=gaussian&size=${size}&source=grid&batch=128&T=32`,
        pointSteps,
        `grid-${size}`,
      );
  } finally {
    await l.close();
    await server.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
