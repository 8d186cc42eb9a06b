/** Median of a non-empty sample. */
export declare function median(xs: readonly number[]): number;
/** Time `fn` `reps` times after `warmup` untimed calls; per-call times in ms. */
export declare function timeIt(fn: () => unknown, reps?: number, warmup?: number): Promise<number[]>;
/** Render rows as an aligned text table. */
export declare function formatTable(rows: Array<Record<string, unknown>>): string;
/** Write `data` as JSON to `<packageDir>/bench/results/<name>.json`; returns the path. */
export declare function writeBenchResult(packageDir: string, name: string, data: unknown): string;
/** Benchmarks shrink their sizes when ALTAR_BENCH_QUICK=1. */
export declare function benchQuick(): boolean;
