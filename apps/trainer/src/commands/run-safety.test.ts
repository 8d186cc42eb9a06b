/**
 * Run directories, exit codes and file-system errors (issue 15): what `altar train/eval/sample` do with a non-empty
 * or impossible --out, a corrupt or non-finite checkpoint, a disk that fills up mid-save, and a resume.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@altar/backend/testing';
import { parseMetricsLines } from '@altar/train';
import { listCheckpoints, loadCheckpoint } from '@altar/train/node';
import { captureIO, tempDir, tinyConfig } from '../../test/helpers.js';
import { main } from '../main.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await useBackend('cpu');
});

const run = async (argv: string[]) => {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
};

describe('one exit-code table', () => {
  it('an invalid state.json is exit 1 for eval, sample and train --resume alike; a missing directory exit 2', async () => {
    const cfg = tinyConfig(dir, { checkpoint: { every: 0, keepLast: 1 } }, 'codes.json');
    const out = join(dir, 'codes');
    expect((await run(['train', cfg, '--out', out, '--backend', 'cpu'])).code).toBe(0);
    writeFileSync(join(out, 'step-00000006', 'state.json'), '{"format":"bogus"}');
    for (const argv of [
      ['eval', out, '--backend', 'cpu'],
      ['sample', out, '--backend', 'cpu'],
      ['train', cfg, '--out', out, '--resume', out, '--backend', 'cpu'],
    ]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err).toMatch(/state\.json: not an altar checkpoint/);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
    for (const argv of [
      ['eval', join(dir, 'nowhere')],
      ['sample', join(dir, 'nowhere')],
      ['train', cfg, '--out', join(dir, 'fresh'), '--resume', join(dir, 'nowhere')],
    ]) {
      const r = await run([...argv, '--backend', 'webgpu']);
      expect(r.code, argv.join(' ')).toBe(2);
      // paths are checked before the backend starts: the error and the usage hint, nothing else
      expect(r.err.trim().split('\n')).toEqual([
        expect.stringMatching(/nowhere: no such checkpoint directory/),
        expect.stringMatching(/^Run 'altar \w+ --help' for usage\.$/),
      ]);
    }
  });

  it('the table is in altar --help and in every command help', async () => {
    const top = await run(['--help']);
    expect(top.out).toMatch(/Exit codes: 0 ok; 1 runtime or data error [\s\S]*2 usage or config error/);
    for (const c of ['train', 'eval', 'sample', 'demo', 'plot', 'bound', 'cost', 'backend']) {
      const r = await run([c, '--help']);
      expect(r.out, c).toMatch(/Exit codes: 0 ok; 1 runtime or data error/);
      expect(r.out, c).toMatch(/130 interrupted by Ctrl-C, 143 by SIGTERM/);
      expect(r.out.match(/Exit codes/g), c).toHaveLength(1);
    }
  });
});

describe('the run directory', () => {
  it('a non-empty --out is refused (exit 2, the old run untouched) unless --resume or --overwrite', async () => {
    const cfg = tinyConfig(dir, { eval: { batches: 1, batchSize: 8, samples: 0 } }, 'nonempty.json');
    const out = join(dir, 'nonempty');
    expect((await run(['train', cfg, '--out', out, '--backend', 'cpu'])).code).toBe(0);
    const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const again = await run(['train', cfg, '--out', out, '--set', 'train.seed=2', '--backend', 'cpu']);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/--out .*nonempty: the directory is not empty .*pass --resume .* --overwrite/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe(before);
    // --overwrite clears the old run first: no step directory of seed 1 is left beside seed 2's
    writeFileSync(join(out, 'step-00000099'), ''); // a stray run artefact, deleted too
    const ow = await run(['train', cfg, '--out', out, '--overwrite', '--set', 'train.seed=2', '--backend', 'cpu']);
    expect(ow.code).toBe(0);
    expect(existsSync(join(out, 'step-00000099'))).toBe(false);
    expect(listCheckpoints(out).every((c) => (loadCheckpoint(c.dir).state.trainConfig.seed as number) === 2)).toBe(
      true,
    );
    expect(
      parseMetricsLines(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).filter((r) => r.kind === 'train'),
    ).toHaveLength(6);
    // …but never a directory holding files a run does not write
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const foreign = await run(['train', cfg, '--out', out, '--overwrite', '--backend', 'cpu']);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toMatch(/--overwrite: .* holds 'notes\.txt', which altar train does not write/);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
    const both = await run(['train', cfg, '--out', out, '--overwrite', '--resume', out]);
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/--resume and --overwrite contradict/);
  });

  it('--out on /proc, /sys or /dev (also through a symlink) is refused at once, before the backend starts', async () => {
    const cfg = tinyConfig(dir, {}, 'special.json');
    symlinkSync('/proc', join(dir, 'proc-link'));
    for (const out of ['/proc/altar-run', '/sys/altar/run', '/dev/altar-run', join(dir, 'proc-link', 'x', 'y')]) {
      const t0 = Date.now();
      const r = await run(['train', cfg, '--out', out, '--backend', 'webgpu']);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.code, out).toBe(2);
      expect(r.err, out).toMatch(/--out .*: \/(proc|sys|dev) is a kernel pseudo file system/);
      expect(r.err.trim().split('\n')).toHaveLength(2);
    }
  });

  it('demo, the text demo and sweep refuse a pseudo file system too (they create directories the same way)', async () => {
    for (const argv of [
      ['demo', '--quick', '--out', '/proc/altar-demo', '--backend', 'webgpu'],
      ['demo', '--data', 'shakespeare', '--out', '/sys/altar-demo', '--backend', 'webgpu'],
    ]) {
      const t0 = Date.now();
      const r = await run(argv);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/--out .*: \/(proc|sys) is a kernel pseudo file system/);
    }
  });

  it('a file where a directory is expected: one line naming the path, exit 1', async () => {
    const cfg = tinyConfig(dir, {}, 'file.json');
    writeFileSync(join(dir, 'plain-file'), 'x');
    for (const out of [join(dir, 'plain-file'), join(dir, 'plain-file', 'run')]) {
      const r = await run(['train', cfg, '--out', out, '--backend', 'cpu']);
      expect(r.code, out).toBe(1);
      expect(r.err.trim().split('\n')).toEqual([
        `altar train: cannot create ${out}: ${join(dir, 'plain-file')} exists and is a file, not a directory`,
      ]);
    }
  });

  it('a disk that fills up mid-save (ENOSPC), turns read-only (EROFS) or refuses permission: one line, exit 1, the last checkpoint intact, no .tmp-* left', async () => {
    const cfg = tinyConfig(dir, { eval: { batches: 1, batchSize: 8, samples: 0 } }, 'enospc.json');
    const require = createRequire(import.meta.url);
    const fs = require('node:fs') as typeof import('node:fs');
    const realOpen = fs.openSync;
    for (const [code, text] of [
      ['ENOSPC', 'no space left on device'],
      ['EROFS', 'read-only file system'],
      // as root chmod does not restrict, so permission errors are injected too
      ['EACCES', 'permission denied'],
      ['EPERM', 'operation not permitted'],
    ] as const) {
      const out = join(dir, `full-${code}`);
      fs.openSync = ((p: import('node:fs').PathLike, ...rest: unknown[]) => {
        if (String(p).includes('.tmp-step-00000004')) {
          throw Object.assign(new Error(`${code}: ${text}, open '${String(p)}'`), { code, syscall: 'open', path: p });
        }
        return (realOpen as (...a: unknown[]) => number)(p, ...rest);
      }) as typeof fs.openSync;
      syncBuiltinESMExports();
      let r;
      try {
        r = await run(['train', cfg, '--out', out, '--backend', 'cpu']);
      } finally {
        fs.openSync = realOpen;
        syncBuiltinESMExports();
      }
      expect(r.code, code).toBe(1);
      expect(r.err).toMatch(
        new RegExp(`\\naltar train: cannot open ${out}/\\.tmp-step-00000004-\\d+/\\S+: ${text} \\(${code}\\)\\n$`),
      );
      expect(r.err).not.toMatch(/internal error|\n\s+at /);
      expect(readdirSync(out).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
      expect(loadCheckpoint(out).state.step).toBe(3); // the best checkpoint at the step-3 eval: the last good one
    }
  });
});

describe('a corrupt checkpoint to resume from', () => {
  it('is reported before the backend starts (no banner), exit 1', async () => {
    const cfg = tinyConfig(dir, { eval: { batches: 1, batchSize: 8, samples: 0 } }, 'corrupt.json');
    const out = join(dir, 'corrupt');
    expect((await run(['train', cfg, '--out', out, '--backend', 'cpu'])).code).toBe(0);
    writeFileSync(join(out, 'step-00000006', 'state.json'), '{"format":');
    const r = await run(['train', cfg, '--out', out, '--resume', out, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([
      expect.stringMatching(/^altar train: .*step-00000006\/state\.json: not valid JSON/),
    ]);
  });
});
