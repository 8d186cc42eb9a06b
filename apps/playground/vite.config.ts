import { defineConfig, defaultClientConditions } from 'vite';

// Workspace packages resolve to their TypeScript sources through the '@altar/source' export
// condition (first), so neither dev nor build needs the packages built. base './' makes the built
// site work from any static file server and any sub-path.
const conditions = ['@altar/source', ...defaultClientConditions];

export default defineConfig({
  base: './',
  resolve: { conditions },
  worker: { format: 'es' },
  build: { target: 'es2022', outDir: 'dist', chunkSizeWarningLimit: 4000, sourcemap: false },
  // tfjs ships prebundled ESM; keep the optimizer from rewriting the workspace sources.
  optimizeDeps: {
    exclude: [
      '@altar/backend',
      '@altar/data',
      '@altar/noise',
      '@altar/elbo',
      '@altar/models',
      '@altar/samplers',
      '@altar/train',
    ],
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
