#!/usr/bin/env node
// The workspace's whole test run (the README's test command ends here):
//   1. build every package (the consumer and CLI tests use the built output),
//   2. every package's vitest suite, one package at a time (2 cores),
//   3. the backend conformance suite (JSON), honouring ALTAR_REQUIRE_BACKENDS,
//   4. the publish check: `pnpm publish -r --dry-run`, then pack every publishable package and check
//      each tarball's contents (tooling/scripts/pack-check.mjs),
//   5. the consumer test: install every tarball into one project outside the workspace, import each
//      entry point, run one program per package, run the CLI, type-check a consumer (consumer-test.mjs;
//      each of its checks counts as one test),
//   6. the doc-coverage check (tooling/scripts/doc-coverage.mjs, levels in tooling/doc-coverage.json),
// then prints one summary line "N passed, N failed" and exits non-zero if anything failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// The pnpm that runs this script: a JS entry (run with node) or, from pnpm 12, a native binary.
const execpath = process.env.npm_execpath ?? '';
const pnpm = /pnpm/.test(execpath)
  ? /\.[cm]?js$/.test(execpath)
    ? [process.execPath, execpath]
    : [execpath]
  : ['npx', '-y', 'pnpm@12.4.2'];

function run(label, cmd, args, opts = {}) {
  const t0 = Date.now();
  process.stdout.write(`\n=== ${label}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  const ok = r.status === 0;
  process.stdout.write(
    `=== ${label}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`,
  );
  return ok;
}

const workspaceDirs = ['packages', 'apps'].flatMap((d) =>
  existsSync(join(root, d))
    ? readdirSync(join(root, d))
        .map((n) => join(root, d, n))
        .filter((p) => existsSync(join(p, 'package.json')))
    : [],
);
for (const dir of workspaceDirs) rmSync(join(dir, 'test-output', 'vitest.json'), { force: true });

const steps = [];
steps.push(['build', run('build', pnpm[0], [...pnpm.slice(1), 'run', 'build'])]);
steps.push([
  'unit tests',
  run('unit tests (vitest, every package)', pnpm[0], [
    ...pnpm.slice(1),
    'exec',
    'turbo',
    'run',
    'test',
    '--concurrency=1',
    '--continue',
  ]),
]);
steps.push([
  'conformance',
  run('backend conformance', process.execPath, [
    'packages/backend/dist/conformance/cli.js',
    '--json',
    '--out',
    'packages/backend/test-output/conformance.json',
  ]),
]);
const tarballs = mkdtempSync(join(tmpdir(), 'altar-tarballs-'));
const consumerReport = join(root, 'tooling', 'test-output', 'consumer.json');
rmSync(consumerReport, { force: true });
try {
  steps.push([
    'pack check',
    run('publish dry run + pack check (every publishable package)', process.execPath, [
      'tooling/scripts/pack-check.mjs',
      '--keep',
      tarballs,
      '--prune-stale',
    ]),
  ]);
  steps.push([
    'consumer',
    run('consumer test (every tarball, installed outside the workspace)', process.execPath, [
      'tooling/scripts/consumer-test.mjs',
      '--tarballs',
      tarballs,
    ]),
  ]);
} finally {
  rmSync(tarballs, { recursive: true, force: true });
}
steps.push([
  'doc coverage',
  run('doc coverage (every export documented, per tooling/doc-coverage.json)', process.execPath, [
    'tooling/scripts/doc-coverage.mjs',
  ]),
]);
steps.push(['format', run('format check (prettier)', pnpm[0], [...pnpm.slice(1), 'run', 'format:check'])]);

let passed = 0;
let failed = 0;
const missing = [];
for (const dir of workspaceDirs) {
  const file = join(dir, 'test-output', 'vitest.json');
  if (!existsSync(file)) {
    missing.push(dir);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  // A suite that failed to load has no failing tests of its own: count it once.
  failed += (r.numFailedTests ?? 0) || (r.numFailedTestSuites ?? 0);
}
// Each non-vitest step counts as one test, except the consumer test, which reports its checks.
for (const [name, ok] of steps.slice(2)) {
  if (name === 'consumer' && existsSync(consumerReport)) {
    const c = JSON.parse(readFileSync(consumerReport, 'utf8'));
    passed += c.passed;
    failed += c.failed;
    if (!ok && c.failed === 0) failed++;
  } else ok ? passed++ : failed++;
}
const stepFailed = steps.filter(([, ok]) => !ok).map(([n]) => n);
if (missing.length > 0)
  process.stdout.write(`\nno vitest report from: ${missing.map((m) => m.slice(root.length + 1)).join(', ')}\n`);
if (stepFailed.length > 0) process.stdout.write(`failed steps: ${stepFailed.join(', ')}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed > 0 || stepFailed.length > 0 || missing.length > 0 ? 1 : 0);
