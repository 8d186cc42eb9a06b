#!/usr/bin/env node
// Doc coverage: every symbol a package exports (each entry point of its `exports` map, as TypeDoc
// sees it through typedoc.json) needs a doc comment, and one with an `@example` block where the
// package is held to that. Levels per package are in tooling/doc-coverage.json:
//   "example"  every export has a summary and an @example (the finished standard),
//   "summary"  every export has a summary,
//   "report"   counted and printed, never failing (a package whose comments are still being written).
// A package missing from the file is held to "example". Prints a table per package, lists each
// missing symbol of a failing package, writes tooling/test-output/doc-coverage.json, exits 1 on a failure.
// Usage: node tooling/scripts/doc-coverage.mjs [--list]   (--list prints every undocumented symbol)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Application, LogLevel, ReflectionKind } from 'typedoc';
import { root } from './lib/workspace.mjs';

const listAll = process.argv.includes('--list');
const levels = JSON.parse(readFileSync(join(root, 'tooling', 'doc-coverage.json'), 'utf8')).packages;
process.chdir(root);
const app = await Application.bootstrapWithPlugins({ options: join(root, 'typedoc.json'), logLevel: LogLevel.Error });
const project = await app.convert();
if (!project) {
  process.stderr.write('doc coverage: TypeDoc could not convert the workspace (see the errors above)\n');
  process.exit(1);
}

/** The comment that documents a declaration: its own, or its first signature's (functions, methods). */
function commentOf(r) {
  if (r.comment) return r.comment;
  for (const s of r.signatures ?? []) if (s.comment) return s.comment;
  const decl = r.type?.declaration;
  for (const s of decl?.signatures ?? []) if (s.comment) return s.comment;
  return undefined;
}
const hasSummary = (c) => !!c && c.summary.some((p) => p.text.trim().length > 0);
const hasExample = (c) => !!c && c.blockTags.some((t) => t.tag === '@example');

const rows = [];
const failures = [];
for (const pkg of project.children ?? []) {
  const level = levels[pkg.name] ?? 'example';
  // A package with one entry point holds its declarations; with several, one module per entry point.
  const entries = (pkg.children ?? []).some((c) => c.kind === ReflectionKind.Module)
    ? pkg.children.filter((c) => c.kind === ReflectionKind.Module)
    : [pkg];
  let total = 0;
  const noSummary = [];
  const noExample = [];
  for (const entry of entries) {
    const where =
      entry === pkg || !entry.name ? pkg.name : entry.name.startsWith('@') ? entry.name : `${pkg.name}/${entry.name}`;
    for (const decl of entry.children ?? []) {
      if (decl.kind === ReflectionKind.Module) continue;
      total++;
      // A re-export of a symbol another entry point declares is a reference: its comment is the target's.
      const target =
        decl.kind === ReflectionKind.Reference && typeof decl.tryGetTargetReflectionDeep === 'function'
          ? (decl.tryGetTargetReflectionDeep() ?? decl)
          : decl;
      const c = commentOf(target);
      if (!hasSummary(c)) noSummary.push(`${where}: ${decl.name}`);
      if (!hasExample(c)) noExample.push(`${where}: ${decl.name}`);
    }
  }
  const missing =
    level === 'example' ? [...new Set([...noSummary, ...noExample])] : level === 'summary' ? noSummary : [];
  rows.push({
    package: pkg.name,
    level,
    exports: total,
    documented: total - noSummary.length,
    withExample: total - noExample.length,
    failing: missing.length,
  });
  if (missing.length > 0) failures.push({ package: pkg.name, level, missing });
  if (listAll)
    for (const s of noExample) process.stdout.write(`  ${noSummary.includes(s) ? 'no comment' : 'no example'}  ${s}\n`);
}

const w = Math.max(...rows.map((r) => r.package.length));
process.stdout.write(`\n${'package'.padEnd(w)}  level    exports  documented  with @example  failing\n`);
for (const r of rows) {
  process.stdout.write(
    `${r.package.padEnd(w)}  ${r.level.padEnd(7)}  ${String(r.exports).padStart(7)}  ${String(r.documented).padStart(10)}  ${String(r.withExample).padStart(13)}  ${String(r.failing).padStart(7)}\n`,
  );
}
mkdirSync(join(root, 'tooling', 'test-output'), { recursive: true });
writeFileSync(
  join(root, 'tooling', 'test-output', 'doc-coverage.json'),
  JSON.stringify({ date: new Date().toISOString(), rows, failures }, null, 2) + '\n',
);
if (failures.length > 0) {
  for (const f of failures)
    process.stderr.write(
      `\n${f.package} (level "${f.level}") is missing:\n${f.missing.map((m) => `  - ${m}`).join('\n')}\n`,
    );
  process.exit(1);
}
process.stdout.write(`\ndoc coverage: ok\n`);
