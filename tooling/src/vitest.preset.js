// Shared vitest preset. Workspace packages resolve each other's TypeScript sources through the
// `@altar/source` export condition, so tests never need a build first. Plain JS so that vitest can
// load it from a config file without a TypeScript loader.
import { defaultClientConditions, defaultServerConditions } from 'vite';

export const SOURCE_CONDITION = '@altar/source';

/** @param {import('./vitest.preset.js').AltarVitestOptions} [options] */
export function altarVitestConfig(options = {}) {
  return {
    resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
    ssr: {
      resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions], externalConditions: [SOURCE_CONDITION] },
    },
    test: {
      include: options.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      exclude: options.exclude ?? ['**/node_modules/**', '**/dist/**'],
      testTimeout: options.testTimeout ?? 120_000,
      hookTimeout: 120_000,
      // Two cores: one worker keeps tfjs's own threads from fighting the test pool.
      pool: 'forks',
      maxWorkers: 1,
      fileParallelism: false,
      // The JSON report feeds the workspace's "N passed, N failed" summary (tooling/scripts/test-all.mjs).
      reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
    },
  };
}
