import { defineConfig } from 'vitest/config';
import { altarVitestConfig } from '@altar/tooling/vitest';

export default defineConfig(altarVitestConfig());
