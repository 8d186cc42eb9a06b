import { defineConfig } from 'vitest/config';
import { altarVitestConfig } from '@altar/tooling/vitest';

// The playground's tests are end-to-end: they serve the built site (dist/) and drive headless
// Chromium through playwright-core, once on WebGPU (SwiftShader) and once forced to wasm.
const base = altarVitestConfig({ include: ['e2e/**/*.test.ts', 'src/**/*.test.ts'], testTimeout: 180_000 });
export default defineConfig({ ...base, test: { ...base.test } });
