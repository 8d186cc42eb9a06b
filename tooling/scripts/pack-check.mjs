#!/usr/bin/env node
// Publish check: `pnpm publish -r --dry-run`, then pack every publishable package exactly as it would
// be published and fail on anything a user would trip over:
//   - LICENSE (identical to the root one), README.md or package.json missing from a tarball;
//   - a target of `exports` / `main` / `types` / `bin` missing (the `@altar/source` condition is the
//     workspace's own TS-source condition and is not checked);
//   - a dist/*.js without its .d.ts (packages that publish types);
//   - benchmarks, tests or test output in a tarball; stale build output (a dist file whose source is gone);
//   - a `workspace:` range left in the packed package.json;
//   - a runtime import in dist of a package the manifest does not declare (dependencies, peers, optional).
// Prints each tarball's size and file count and writes them to tooling/test-output/pack-report.json.
// Usage: node tooling/scripts/pack-check.mjs [--keep DIR] [--no-dry-run] [--prune-stale]
//   --keep DIR      leave the tarballs in DIR (the consumer test installs them)
//   --prune-stale   first delete tsc output in dist/ whose source file is gone (left by a rename in a
//                   working tree that is never cleaned), instead of failing on it
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packPackage, pnpmCommand, publishablePackages, root, tarballFiles, tarballText } from './lib/workspace.mjs';

const args = process.argv.slice(2);
const keepAt = args.indexOf('--keep');
const dest = keepAt >= 0 ? args[keepAt + 1] : mkdtempSync(join(tmpdir(), 'altar-pack-'));
if (!dest) throw new Error('pack-check: --keep needs a folder');
mkdirSync(dest, { recursive: true });
const problems = [];

if (!args.includes('--no-dry-run')) {
  const pnpm = pnpmCommand();
  const r = spawnSync(pnpm[0], [...pnpm.slice(1), 'publish', '-r', '--dry-run', '--no-git-checks'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0)
    problems.push(
      `pnpm publish -r --dry-run failed (exit ${r.status ?? r.signal}):\n${(r.stdout ?? '') + (r.stderr ?? '')}`,
    );
  else process.stdout.write(`pnpm publish -r --dry-run: ok\n`);
}

const rootLicense = readFileSync(join(root, 'LICENSE'), 'utf8');
const forbidden = [
  /(^|\/)(bench|test|tests|__tests__|test-output|e2e|coverage)\//,
  /\.(test|spec|bench)\.[cm]?[jt]sx?(\.map)?$/,
  /\.d\.(test|spec|bench)\./,
  /\.tsbuildinfo$/,
];
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Every string leaf of an exports map, with the condition path that leads to it. */
function exportTargets(node, path = []) {
  if (typeof node === 'string') return [{ target: node, path }];
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => exportTargets(v, [...path, k]));
}
const bareName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

/** tsc outputs under dist/ whose source under src/ no longer exists. */
function staleOutputs(pkgDir) {
  const out = [];
  const walk = (rel) => {
    const abs = join(pkgDir, 'dist', rel);
    if (!existsSync(abs)) return;
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      const m = /^(.*?)(\.d\.ts|\.js)(\.map)?$/.exec(r);
      if (m && !['.ts', '.tsx', '.mts', '.js'].some((ext) => existsSync(join(pkgDir, 'src', m[1] + ext)))) out.push(r);
    }
  };
  walk('');
  return out;
}

const report = [];
for (const pkg of publishablePackages()) {
  const bad = (msg) => problems.push(`${pkg.name}: ${msg}`);
  if (args.includes('--prune-stale')) {
    const stale = staleOutputs(pkg.dir);
    for (const r of stale) rmSync(join(pkg.dir, 'dist', r));
    if (stale.length > 0)
      process.stdout.write(`${pkg.name}: removed ${stale.length} stale dist file(s): ${stale.join(', ')}\n`);
  }
  const tarball = packPackage(pkg, dest);
  const files = tarballFiles(tarball);
  const has = new Set(files);
  for (const f of ['package.json', 'README.md', 'LICENSE']) if (!has.has(f)) bad(`${f} missing from the tarball`);
  if (has.has('LICENSE') && tarballText(tarball, 'LICENSE') !== rootLicense)
    bad('LICENSE differs from the root LICENSE');
  const manifest = JSON.parse(tarballText(tarball, 'package.json'));
  if (JSON.stringify(manifest).includes('workspace:')) bad('packed package.json still has a workspace: range');
  const targets = [
    ...exportTargets(manifest.exports ?? {})
      .filter((t) => !t.path.includes('@altar/source'))
      .map((t) => ({ target: t.target, what: `exports[${t.path.map((p) => JSON.stringify(p)).join('][')}]` })),
    ...['main', 'types', 'module']
      .filter((k) => typeof manifest[k] === 'string')
      .map((k) => ({ target: manifest[k], what: k })),
    ...Object.entries(typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {})).map(
      ([k, v]) => ({ target: v, what: `bin.${k}` }),
    ),
  ];
  for (const { target, what } of targets) {
    if (target.includes('*')) continue;
    const file = target.replace(/^\.\//, '');
    if (!has.has(file)) bad(`${what} → ${target} is not in the tarball`);
  }
  const publishesTypes = targets.some((t) => t.target.endsWith('.d.ts'));
  const declared = new Set([
    manifest.name,
    ...Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies }),
  ]);
  for (const f of files) {
    if (forbidden.some((re) => re.test(f))) bad(`${f} should not be published (bench, test or build-cache file)`);
    const m = /^dist\/(.*)\.js$/.exec(f);
    if (!m) continue;
    if (publishesTypes && !has.has(`dist/${m[1]}.d.ts`)) bad(`${f} has no dist/${m[1]}.d.ts`);
    if (!['.ts', '.tsx', '.mts', '.js'].some((ext) => existsSync(join(pkg.dir, 'src', m[1] + ext)))) {
      bad(`${f} is stale build output (no src/${m[1]}.ts): rebuild from a clean dist (pnpm clean && pnpm build)`);
    }
    const text = tarballText(tarball, f);
    for (const im of text.matchAll(
      /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm,
    )) {
      const spec = im[1] ?? im[2] ?? im[3];
      if (!spec || spec.startsWith('.') || spec.startsWith('#') || builtins.has(spec) || builtins.has(bareName(spec)))
        continue;
      if (!declared.has(bareName(spec)))
        bad(`${f} imports ${spec}, which package.json does not declare as a dependency or peer`);
    }
  }
  const size = statSync(tarball).size;
  report.push({
    name: pkg.name,
    version: pkg.version,
    tarball: tarball.slice(dest.length + 1),
    bytes: size,
    files: files.length,
  });
}

const w = Math.max(...report.map((r) => r.name.length));
process.stdout.write(`\n${'package'.padEnd(w)}  tarball kB  files\n`);
for (const r of report)
  process.stdout.write(
    `${r.name.padEnd(w)}  ${(r.bytes / 1024).toFixed(1).padStart(10)}  ${String(r.files).padStart(5)}\n`,
  );
mkdirSync(join(root, 'tooling', 'test-output'), { recursive: true });
writeFileSync(
  join(root, 'tooling', 'test-output', 'pack-report.json'),
  JSON.stringify({ date: new Date().toISOString(), packages: report, problems }, null, 2) + '\n',
);
if (keepAt < 0) rmSync(dest, { recursive: true, force: true });
if (problems.length > 0) {
  process.stderr.write(`\npack check: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`\npack check: ${report.length} packages ok\n`);
