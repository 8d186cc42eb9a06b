#!/usr/bin/env node
// Consumer test: pack @altar/backend exactly as it would be published, install the tarball into a
// fresh project outside the workspace (plain npm, nothing hoisted from here), import it and train
// one gradient step through an embedding. Catches broken exports maps and missing files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'altar-consumer-'));
const sh = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] }).toString();
try {
  // The pnpm that runs this script: a JS entry (run with node) or, from pnpm 12, a native binary.
  const execpath = process.env.npm_execpath ?? '';
  const pnpm = /pnpm/.test(execpath) ? (/\.[cm]?js$/.test(execpath) ? [process.execPath, execpath] : [execpath]) : ['npx', '-y', 'pnpm@12.4.2'];
  sh(pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', work], join(root, 'packages', 'backend'));
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('pnpm pack produced no tarball');
  const app = join(work, 'app');
  sh('mkdir', ['-p', app], work);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball), '@tensorflow/tfjs-core@4.22.0'], app);
  writeFileSync(
    join(app, 'main.mjs'),
    `import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng, expectNoLeaks } from '@altar/backend';
for (const name of ['cpu', 'wasm']) {
  const info = await initBackend(name);
  await expectNoLeaks(async () => {
    const rng = new Rng(1);
    const table = rng.normal([5, 3]);
    const ids = tf.tensor1d([0, 4, 4], 'int32');
    const g = tf.grad((t) => tf.gather(t, ids).sum())(table);
    const v = Array.from(await g.data());
    const want = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2];
    if (JSON.stringify(v) !== JSON.stringify(want)) throw new Error(name + ': gather gradient ' + v);
    tf.dispose([table, ids, g]);
  });
  console.log('consumer ok on', info.name, '-', info.adapter);
}
`,
  );
  process.stdout.write(sh(process.execPath, ['main.mjs'], app));
} finally {
  rmSync(work, { recursive: true, force: true });
}
