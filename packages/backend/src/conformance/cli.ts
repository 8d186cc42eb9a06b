#!/usr/bin/env node
/**
 * `altar-conformance [--json] [--backends cpu,wasm,webgpu] [--out FILE] [--verbose]`
 * Runs the conformance suite and prints a table or JSON. Exit 1 if any op fails on any backend, or
 * a backend named in ALTAR_REQUIRE_BACKENDS is missing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseBackendChoice, requiredBackends } from '../init.js';
import type { BackendName } from '../init-types.js';
import { isSkipped, runConformance } from './suite.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    json: { type: 'boolean' },
    backends: { type: 'string' },
    out: { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('altar-conformance [--json] [--backends cpu,wasm,webgpu] [--out FILE] [--verbose]\n');
  process.exit(0);
}
const backends = (values.backends ?? 'cpu,wasm,webgpu')
  .split(',')
  .map((s) => parseBackendChoice(s.trim())) as BackendName[];
const required = requiredBackends();
const report = await runConformance({
  backends,
  required,
  onProgress: (m) => void process.stderr.write(`conformance: ${m}\n`),
});
const slim = {
  tolerance: report.tolerance,
  backends: report.backends.map((b) => (isSkipped(b) ? b : { ...b, results: values.verbose ? b.results : undefined })),
};
const json = JSON.stringify(slim, null, values.json ? 0 : 2);
if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
}
if (values.json) process.stdout.write(json + '\n');
else {
  for (const b of report.backends) {
    if (isSkipped(b)) process.stdout.write(`${b.name.padEnd(7)} skipped: ${b.skipped}\n`);
    else
      process.stdout.write(
        `${b.name.padEnd(7)} ${b.ops} ops, ${b.failed.length} failed, max abs ${b.maxAbsError.toExponential(2)}, max rel ${b.maxRelError.toExponential(2)}, ` +
          `train loss Δ ${b.trainStepLossDelta.toFixed(4)} (vs cpu ${b.trainLossMaxAbsErrorVsCpu.toExponential(2)}), ${b.seconds.toFixed(1)}s  [${b.adapter}]\n` +
          b.failed.map((f) => `        FAILED ${f}\n`).join(''),
      );
  }
}
const bad =
  report.backends.some((b) => !isSkipped(b) && b.failed.length > 0) ||
  required.some((r) => !report.backends.some((b) => b.name === r && !isSkipped(b)));
process.exit(bad ? 1 : 0);
