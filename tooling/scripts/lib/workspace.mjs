// Shared helpers of the release scripts: the workspace's publishable packages, the pnpm that runs
// us, and packing a package into a tarball exactly as `pnpm publish` would.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The pnpm that runs this script: a JS entry (run with node) or, from pnpm 12, a native binary. */
export function pnpmCommand() {
  const execpath = process.env.npm_execpath ?? '';
  return /pnpm/.test(execpath)
    ? /\.[cm]?js$/.test(execpath)
      ? [process.execPath, execpath]
      : [execpath]
    : ['npx', '-y', 'pnpm@12.4.2'];
}

/** Every workspace package that is not private: { name, version, dir (absolute), rel, manifest }. */
export function publishablePackages() {
  const out = [];
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const file = join(base, name, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      if (manifest.private) continue;
      out.push({
        name: manifest.name,
        version: manifest.version,
        dir: join(base, name),
        rel: `${group}/${name}`,
        manifest,
      });
    }
  }
  return out;
}

/** `pnpm pack` one package into `dest`; returns the tarball's absolute path. */
export function packPackage(pkg, dest) {
  const pnpm = pnpmCommand();
  const before = new Set(existsSync(dest) ? readdirSync(dest) : []);
  execFileSync(pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', dest], {
    cwd: pkg.dir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const made = readdirSync(dest).filter((f) => f.endsWith('.tgz') && !before.has(f));
  if (made.length !== 1)
    throw new Error(`pnpm pack ${pkg.name}: expected one new tarball in ${dest}, found ${made.length}`);
  return join(dest, made[0]);
}

/** The file list of a tarball, without the leading `package/`. */
export function tarballFiles(tarball) {
  return execFileSync('tar', ['tzf', tarball])
    .toString()
    .split('\n')
    .filter((l) => l && !l.endsWith('/'))
    .map((l) => l.replace(/^package\//, ''));
}

/** One file of a tarball, as text. */
export function tarballText(tarball, file) {
  return execFileSync('tar', ['xzf', tarball, '-O', `package/${file}`]).toString();
}
