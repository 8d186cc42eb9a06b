#!/usr/bin/env node
// Consumer test: pack every publishable package exactly as it would be published, install all the
// tarballs (with the tfjs peers) into one fresh project outside the workspace, then
//   1. import every entry point of every package's `exports` map by its public name,
//   2. run one tiny program per package through public exports only (tooling/scripts/consumer/*.mjs),
//   3. run the CLI from the installed bin (`npx altar --help`),
//   4. type-check tooling/scripts/consumer/consumer.ts against the published .d.ts files under
//      moduleResolution node16 and bundler.
// The install is pnpm's, offline from the workspace's store (every dependency is already there after
// `pnpm install`); only when that fails does it retry with --prefer-offline.
// Usage: node tooling/scripts/consumer-test.mjs [--tarballs DIR] (DIR from pack-check.mjs --keep)
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packPackage, pnpmCommand, publishablePackages, root } from './lib/workspace.mjs';

const args = process.argv.slice(2);
const t0 = Date.now();
const work = mkdtempSync(join(tmpdir(), 'altar-consumer-'));
const pnpm = pnpmCommand();
const results = [];
const record = (name, ok, detail = '') => {
  results.push({ name, ok });
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}\n`);
};

try {
  const pkgs = publishablePackages();
  const tarAt = args.indexOf('--tarballs');
  const tarDir = tarAt >= 0 ? args[tarAt + 1] : join(work, 'tarballs');
  mkdirSync(tarDir, { recursive: true });
  const tarball = {};
  for (const p of pkgs) {
    const prefix = p.name.replace(/^@/, '').replace('/', '-') + '-' + p.version + '.tgz';
    const existing = readdirSync(tarDir).find((f) => f === prefix);
    tarball[p.name] = existing ? join(tarDir, existing) : packPackage(p, tarDir);
  }

  const app = join(work, 'app');
  mkdirSync(app);
  const version = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const deps = Object.fromEntries(pkgs.map((p) => [p.name, `file:${tarball[p.name]}`]));
  Object.assign(deps, {
    '@tensorflow/tfjs-core': '4.22.0',
    typescript: version('typescript'),
    '@types/node': version('@types/node'),
  });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'altar-consumer', private: true, type: 'module', dependencies: deps }, null, 2),
  );
  // The tarballs depend on each other by version (0.1.0), which the registry does not have yet:
  // point those at the tarballs too. Install scripts: none is needed to run on cpu/wasm.
  const yaml = [
    'overrides:',
    ...pkgs.map((p) => `  '${p.name}': 'file:${tarball[p.name]}'`),
    'autoInstallPeers: false',
    'strictPeerDependencies: false',
    'allowBuilds:',
    '  core-js: false',
    '  esbuild: false',
    '  webgpu: false',
    '  protobufjs: false',
    '  msgpackr-extract: false', // @altar/trainer → bullmq → msgpackr's optional native decoder (pure-JS fallback)
    '',
  ].join('\n');
  writeFileSync(join(app, 'pnpm-workspace.yaml'), yaml);
  const store = execFileSync(pnpm[0], [...pnpm.slice(1), 'store', 'path'], { cwd: root })
    .toString()
    .trim();
  const install = (mode) =>
    spawnSync(pnpm[0], [...pnpm.slice(1), 'install', mode, '--store-dir', store, '--reporter=append-only'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 240_000,
    });
  let r = install('--offline');
  if (r.status !== 0) {
    process.stdout.write(
      `offline install failed, retrying with --prefer-offline:\n${(r.stdout ?? '').slice(-2000)}${r.stderr ?? ''}\n`,
    );
    r = install('--prefer-offline');
  }
  record(
    'install every tarball outside the workspace',
    r.status === 0,
    r.status === 0 ? `${pkgs.length} packages` : `${(r.stdout ?? '').slice(-3000)}${r.stderr ?? ''}`,
  );
  if (r.status !== 0) throw new Error('install failed');

  const consumerDir = join(root, 'tooling', 'scripts', 'consumer');
  for (const f of readdirSync(consumerDir)) if (/\.(mjs|ts)$/.test(f)) copyFileSync(join(consumerDir, f), join(app, f));
  const runNode = (file, label) => {
    const res = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8', timeout: 180_000 });
    const out = ((res.stdout ?? '') + (res.stderr ?? ''))
      .trim()
      .split('\n')
      .filter((l) => !/Hi, looks like|=====/.test(l));
    record(label, res.status === 0, res.status === 0 ? (out.at(-1) ?? '') : out.slice(-25).join('\n'));
  };

  // 1. Every entry point of every exports map imports by its public name (types-only entries excepted).
  const entries = [];
  for (const p of pkgs) {
    const exp = p.manifest.exports ?? { '.': p.manifest.main };
    for (const [sub, target] of Object.entries(typeof exp === 'string' ? { '.': exp } : exp)) {
      if (sub.endsWith('.json') || sub.includes('*')) continue;
      if (
        target &&
        typeof target === 'object' &&
        !('import' in target) &&
        !('default' in target) &&
        !('node' in target)
      )
        continue;
      entries.push(sub === '.' ? p.name : `${p.name}/${sub.slice(2)}`);
    }
  }
  writeFileSync(
    join(app, 'entries.mjs'),
    `const names = ${JSON.stringify(entries)};\nfor (const n of names) {\n  const m = await import(n);\n  if (Object.keys(m).length === 0) throw new Error(n + ' exports nothing');\n}\nconsole.log('imported ' + names.length + ' entry points: ' + names.join(', '));\n`,
  );
  runNode('entries.mjs', 'every exports entry point imports');

  // 2. One program per package.
  for (const p of pkgs) {
    const short = p.name.split('/')[1];
    const file = `${short}.mjs`;
    if (readdirSync(app).includes(file)) runNode(file, `${p.name} program`);
  }

  // 3. The CLI from the installed bin.
  const trainer = pkgs.find((p) => p.manifest.bin && Object.keys(p.manifest.bin).includes('altar'));
  if (trainer) {
    const res = spawnSync('npx', ['--no-install', 'altar', '--help'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    const out = (res.stdout ?? '') + (res.stderr ?? '');
    record(
      `${trainer.name}: npx altar --help`,
      res.status === 0 && /train/.test(out) && /sample/.test(out),
      res.status === 0 ? out.trim().split('\n')[0] : out.slice(-2000),
    );
  }

  // 4. Type-check a consumer against the published .d.ts files.
  const base = {
    target: 'ES2022',
    lib: ['ES2022', 'DOM'],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: ['node'],
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
  };
  for (const [label, opts] of [
    ['node16', { module: 'Node16', moduleResolution: 'Node16' }],
    ['bundler', { module: 'ESNext', moduleResolution: 'Bundler' }],
  ]) {
    writeFileSync(
      join(app, `tsconfig.${label}.json`),
      JSON.stringify({ compilerOptions: { ...base, ...opts }, files: ['consumer.ts'] }, null, 2),
    );
    const res = spawnSync(
      process.execPath,
      [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', `tsconfig.${label}.json`],
      { cwd: app, encoding: 'utf8', timeout: 180_000 },
    );
    // skipLibCheck is off so that our own .d.ts files are checked too; tfjs 4.22's declarations have
    // errors of their own under strict settings (`Long`, tfjs-layers), which are not ours to fail on.
    const errors = ((res.stdout ?? '') + (res.stderr ?? '')).split('\n').filter((l) => /error TS\d+/.test(l));
    const ours = errors.filter((l) => !/node_modules\/\.pnpm\/@tensorflow\+/.test(l));
    const note = `${errors.length - ours.length} error(s) inside tfjs's own .d.ts ignored`;
    record(
      `type-check consumer.ts (moduleResolution ${label})`,
      (res.status === 0 || errors.length > 0) && ours.length === 0,
      ours.length === 0 ? note : `${ours.join('\n')}\n${((res.stdout ?? '') + (res.stderr ?? '')).slice(-3000)}`,
    );
  }
} catch (e) {
  if (!results.some((r) => !r.ok)) record('consumer test', false, String(e?.stack ?? e));
} finally {
  rmSync(work, { recursive: true, force: true });
}
const failed = results.filter((r) => !r.ok).length;
const passed = results.length - failed;
mkdirSync(join(root, 'tooling', 'test-output'), { recursive: true });
writeFileSync(
  join(root, 'tooling', 'test-output', 'consumer.json'),
  JSON.stringify({ passed, failed, results, seconds: (Date.now() - t0) / 1000 }, null, 2) + '\n',
);
process.stdout.write(
  `\nconsumer test: ${passed} passed, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)}s\n`,
);
process.exit(failed > 0 ? 1 : 0);
