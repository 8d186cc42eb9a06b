import type { UserConfig } from 'vite';
export declare const SOURCE_CONDITION = '@altar/source';
export interface AltarVitestOptions {
  /** Per-test timeout in ms; tfjs on wasm/SwiftShader is slow, so the default is generous. */
  testTimeout?: number;
  include?: string[];
  exclude?: string[];
}
export declare function altarVitestConfig(options?: AltarVitestOptions): UserConfig;
