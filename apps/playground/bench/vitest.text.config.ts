import { defineConfig } from 'vitest/config';
import { altarVitestConfig } from '@altar/tooling/vitest';

// `pnpm --filter @altar/playground bench:text`: the Text view's measurement runs under Vite (the worker's
// modules import the built-in corpus as a `?url` asset, which plain Node cannot load).
const base = altarVitestConfig({ include: ['bench/**/*.measure.ts'], testTimeout: 1_800_000 });
export default defineConfig({ ...base, test: { ...base.test } });
