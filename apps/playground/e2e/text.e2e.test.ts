/**
 * End-to-end tests of the Text view on the built site (dist/), once per backend like playground.e2e.test.ts
 * (WebGPU on SwiftShader: fewer steps; wasm forced by ?backend=wasm): a token family trains on the built-in
 * Tiny Shakespeare with finite bits/char beside the corpus's unigram entropy, samples come out as text step
 * by step, an infill keeps every given character exactly (AR refuses plainly), and your own text is kept in
 * IndexedDB across a reload, with the size limit's message. Screenshots go to test-output/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { serveStatic, type StaticServer } from './server.js';
import { launch, type Launched } from './browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const out = join(here, '..', 'test-output');
const BACKENDS = (process.env['PLAYGROUND_BACKENDS'] ?? 'webgpu,wasm')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const SEQ_LEN = 64; // TEXT_SEQ_LEN of lab/text-lab.ts (not imported: it brings tfjs)
const MASK = '█';
const TEMPLATE = 'To be, or ___ to be: that is the ________.';

/** SwiftShader runs every dispatch on the CPU: the WebGPU pass trains masked diffusion for a few steps only. */
const PLAN: Record<string, { family: 'ar' | 'masked-diffusion'; steps: number; batch: number; T: number }> = {
  webgpu: { family: 'masked-diffusion', steps: 3, batch: 8, T: 4 },
  wasm: { family: 'ar', steps: 30, batch: 16, T: 8 },
};

let server: StaticServer;

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html')))
    throw new Error(
      `text e2e: ${dist}/index.html is missing; run \`vite build\` first (the package's test script does)`,
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

async function rows(page: Page, testid: string): Promise<string[]> {
  return page.$$eval(`[data-testid="${testid}-row"]`, (els) => els.map((e) => e.textContent ?? ''));
}

describe.each(BACKENDS)('text view on %s', (backend) => {
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

  it('a text family trains on Shakespeare: bits/char shown, finite, beside the unigram entropy', async () => {
    await open(`?backend=${backend}&view=text&family=${plan.family}&batch=${plan.batch}&T=${plan.T}`);
    expect(await page.getAttribute('[data-testid="backend"]', 'data-backend')).toBe(backend);
    await page.waitForSelector('[data-testid="text-unigram"]', { timeout: 60_000 });
    expect(await page.textContent('[data-testid="text-corpus-name"]')).toContain('tinyshakespeare');
    expect(await num(page, 'text-tokens')).toBeGreaterThan(1_000_000); // 1.1 MB of characters
    const unigram = await num(page, 'text-unigram');
    expect(unigram).toBeGreaterThan(4); // Shakespeare's characters: ≈ 4.5 bits each
    expect(unigram).toBeLessThan(5);
    await page.click('[data-testid="text-train-start"]');
    await page.waitForFunction(
      (n) =>
        Number((document.querySelector('[data-testid="text-train-step"]')?.textContent ?? '0').replace(/,/g, '')) >= n,
      plan.steps,
      { timeout: 180_000, polling: 200 },
    );
    await page.click('[data-testid="text-train-pause"]');
    await page.waitForSelector('[data-testid="text-train-status"]:text("paused")', { timeout: 120_000 });
    await page.waitForSelector('[data-testid="text-val-bits"][data-value]', { timeout: 60_000 });
    const val = Number(await page.getAttribute('[data-testid="text-val-bits"]', 'data-value'));
    const trainBits = await num(page, 'text-train-bits');
    expect(Number.isFinite(val)).toBe(true);
    expect(Number.isFinite(trainBits)).toBe(true);
    expect(val).toBeGreaterThan(0);
    expect(val).toBeLessThan(12); // an untrained model: ≈ log2(65) = 6 bits/char (a NELBO a little more)
    expect(await num(page, 'text-unigram-bits')).toBeCloseTo(unigram, 3);
    await page.waitForSelector('[data-testid="text-loss-chart"]');
    console.log(`[${backend}] text ${plan.family}: validation ${val} bits/char, unigram ${unigram}`);
    await page.screenshot({ path: join(out, `${backend}-text-train.png`), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('sampling shows text, step by step', async () => {
    await page.click('[data-testid="text-sample-run"]');
    await page.waitForSelector('[data-testid="text-sample-output"][data-done="true"]', { timeout: 180_000 });
    const final = await rows(page, 'text-sample-output');
    expect(final).toHaveLength(4);
    for (const r of final) {
      expect(r).toHaveLength(SEQ_LEN); // one character per token
      expect(r).not.toContain(MASK);
    }
    const nfe = await num(page, 'text-sample-output-nfe');
    if (plan.family === 'ar') expect(nfe).toBe(SEQ_LEN);
    else expect(nfe).toBeLessThanOrEqual(plan.T);
    // The first step: AR has written one character; diffusion has revealed few.
    await page.$eval('[data-testid="text-sample-output-step"]', (el) => {
      (el as HTMLInputElement).value = '0';
      el.dispatchEvent(new Event('input', { bubbles: true }));
    });
    const first = await rows(page, 'text-sample-output');
    expect(first.every((r) => r.includes(MASK))).toBe(true);
    await page.screenshot({ path: join(out, `${backend}-text-sample.png`), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('infilling keeps the prompt exactly (and AR says it cannot infill)', async () => {
    await page.fill('[data-testid="text-infill-template"]', TEMPLATE);
    if (plan.family === 'ar') {
      await page.click('[data-testid="text-infill-run"]');
      await page.waitForSelector('[data-testid="text-infill-error"]:not([hidden])', { timeout: 60_000 });
      expect(await page.textContent('[data-testid="text-infill-error"]')).toMatch(/cannot infill/);
      await page.selectOption('[data-testid="text-family"]', 'masked-diffusion');
      expect(new URL(page.url()).searchParams.get('family')).toBe('masked-diffusion');
    }
    await page.click('[data-testid="text-infill-run"]');
    await page.waitForSelector('[data-testid="text-infill-output"][data-done="true"]', { timeout: 180_000 });
    const filled = await rows(page, 'text-infill-output');
    expect(filled).toHaveLength(4);
    for (const r of filled) {
      expect(r).toHaveLength(SEQ_LEN);
      for (let i = 0; i < TEMPLATE.length; i++) if (TEMPLATE[i] !== '_') expect(r[i]).toBe(TEMPLATE[i]);
      expect(r).not.toContain(MASK);
    }
    console.log(`[${backend}] infill: ${JSON.stringify(filled[0]!.slice(0, TEMPLATE.length))}`);
    await page.screenshot({ path: join(out, `${backend}-text-infill.png`), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('your own text is kept in this browser across a reload; past 8 MB it is refused with the limit', async () => {
    await open(`?backend=${backend}&view=text&corpus=mine`);
    await page.waitForSelector('[data-testid="text-input"]');
    const mine = 'Shall I compare thee to a summer’s day?\nThou art more lovely and more temperate.\n'.repeat(20);
    await page.fill('[data-testid="text-input"]', mine);
    await page.click('[data-testid="text-use"]');
    await page.waitForSelector('[data-testid="text-corpus-name"]:text("pasted text")', { timeout: 60_000 });
    expect(await num(page, 'text-tokens')).toBe(mine.length);
    await page.reload();
    await page.waitForSelector('[data-testid="text-corpus-name"]:text("pasted text")', { timeout: 60_000 });
    expect(await page.inputValue('[data-testid="text-input"]')).toBe(mine);
    await page.setInputFiles('[data-testid="text-file"]', {
      name: 'huge.txt',
      mimeType: 'text/plain',
      buffer: Buffer.alloc(8 * 1024 * 1024 + 1, 0x61),
    });
    await page.waitForSelector('[data-testid="text-error"]:not([hidden])');
    expect(await page.textContent('[data-testid="text-error"]')).toMatch(
      /"huge\.txt" is 8\.0 MB .*the limit is 8\.0 MB/,
    );
    // The kept text is untouched.
    await page.reload();
    await page.waitForSelector('[data-testid="text-corpus-name"]:text("pasted text")', { timeout: 60_000 });
    expect(errors).toEqual([]);
  });
});
