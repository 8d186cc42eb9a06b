// Benchmark helper: time a case several times, take the median, compare against a baseline
// measured in the same run, print a table and write JSON under bench/results/.
// Medians and ratios, because the machine is shared and noisy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function median(xs) {
  if (xs.length === 0) throw new Error('median: empty sample');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function timeIt(fn, reps = 5, warmup = 1) {
  for (let i = 0; i < warmup; i++) await fn();
  const out = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export function formatTable(rows) {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v === undefined ? '' : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => vals.map((v, i) => v.padEnd(widths[i])).join('  ');
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
  ].join('\n');
}

export function writeBenchResult(packageDir, name, data) {
  // ALTAR_BENCH_OUT redirects results (used when a bundled bench runs on a borrowed GPU machine).
  const dir = process.env['ALTAR_BENCH_OUT'] ?? join(packageDir, 'bench', 'results');
  const file = join(dir, `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, data }, null, 2) + '\n');
  return file;
}

export const benchQuick = () => process.env['ALTAR_BENCH_QUICK'] === '1';
