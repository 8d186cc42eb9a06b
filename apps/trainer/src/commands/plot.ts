import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HmmSource } from '@altar/data';
import { Rng } from '@altar/backend';
import { parseMetricsLines, type MetricsRecord } from '@altar/train';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../io.js';
import { parseSavedRunConfig } from '@altar/recipes';
import { writeDemoPlots, type DemoDetails, type DemoReport } from '../run/demo-report.js';
import { renderChart, type Series } from '../run/svg.js';

export const plotCommand: Command = {
  name: 'plot',
  summary: 'SVG plots of a run (loss curves) or a demo (loss, quality vs sampling cost, quality vs steps)',
  help: `altar plot DIR [--out DIR2]

DIR from altar train (has metrics.jsonl): writes loss.svg — training loss (bits/token, smoothed) and the
eval bits/token at each evaluation, beside the source entropy — and lr.svg (the learning-rate schedule).
DIR from altar demo (has report.json): (re)writes loss.svg, quality-vs-nfe.svg, quality-vs-wall.svg and
quality-vs-steps.svg (sample quality vs diffusion steps T, with the NELBO and AR for reference) and
bound-vs-T.svg (the diffusion model's T-step NELBO against T).
Plots are plain SVG (open in any browser). --out writes them elsewhere (default: DIR).

DIR with neither metrics.jsonl nor report.json is a usage error (exit 2).

Examples:
  altar plot runs/ar
  altar plot altar-demo`,
  async run(argv, io) {
    const { values, positionals } = parseFlags(argv, { out: { type: 'string' } }, true);
    if (positionals.length !== 1)
      throw new UsageError(`expected one directory, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    const dir = positionals[0]!;
    const out = values.out ?? dir;
    if (existsSync(join(dir, 'report.json'))) {
      let report: DemoReport;
      try {
        report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as DemoReport;
      } catch (e) {
        throw new UsageError(`${join(dir, 'report.json')}: not valid JSON (${(e as Error).message})`);
      }
      if (out !== dir)
        throw new UsageError(
          '--out is not supported for demo directories (their plots read models/*/metrics.jsonl in place)',
        );
      // details.json (optional) carries the bound-vs-T points.
      let details: DemoDetails | undefined;
      try {
        details = existsSync(join(dir, 'details.json'))
          ? (JSON.parse(readFileSync(join(dir, 'details.json'), 'utf8')) as DemoDetails)
          : undefined;
      } catch (e) {
        throw new UsageError(`${join(dir, 'details.json')}: not valid JSON (${(e as Error).message})`);
      }
      const files = writeDemoPlots(dir, report, details);
      io.out(files.map((f) => join(dir, f)).join('\n') + '\n');
      return 0;
    }
    const mfile = join(dir, 'metrics.jsonl');
    if (!existsSync(mfile))
      throw new UsageError(
        `${dir}: no metrics.jsonl or report.json here (is it an altar train --out or altar demo --out directory?)`,
      );
    let recs: MetricsRecord[];
    try {
      recs = parseMetricsLines(readFileSync(mfile, 'utf8'));
    } catch (e) {
      throw new UsageError(`${mfile}: ${(e as Error).message}`);
    }
    const train = recs.filter((r): r is Extract<MetricsRecord, { kind: 'train' }> => r.kind === 'train');
    const evals = recs.filter((r): r is Extract<MetricsRecord, { kind: 'eval' }> => r.kind === 'eval');
    const smooth: [number, number][] = train.map((r, i) => {
      const w = train.slice(Math.max(0, i - 4), i + 5);
      return [r.step, w.reduce((a, b) => a + b.loss, 0) / w.length / Math.LN2];
    });
    const series: Series[] = [{ name: 'train loss (smoothed)', points: smooth }];
    const ev = evals.filter((e) => e.metrics['bitsPerToken'] !== undefined && e.metrics['bitsPerToken'] !== null);
    if (ev.length)
      series.push({
        name: 'eval bits/token',
        points: ev.map((e) => [e.step, e.metrics['bitsPerToken']!]),
        markersOnly: true,
      });
    const hlines: { y: number; label: string }[] = [];
    const cfgFile = join(dir, 'config.json');
    if (existsSync(cfgFile)) {
      try {
        const cfg = parseSavedRunConfig(JSON.parse(readFileSync(cfgFile, 'utf8')));
        if (cfg.data.source === 'hmm') {
          const H = new HmmSource(cfg.data.hmm).entropyReport(new Rng(0), 1000).entropyBitsPerToken;
          hlines.push({ y: H, label: `source entropy ${H.toFixed(3)}` });
        }
      } catch {
        // a config we cannot read only loses the reference line
      }
    }
    writeFileSync(
      join(out, 'loss.svg'),
      renderChart({ title: `Training loss: ${dir}`, xLabel: 'step', yLabel: 'bits/token', series, hlines }),
    );
    writeFileSync(
      join(out, 'lr.svg'),
      renderChart({
        title: 'Learning rate',
        xLabel: 'step',
        yLabel: 'lr',
        series: [{ name: 'lr', points: train.map((r) => [r.step, r.lr]) }],
      }),
    );
    io.out(`${join(out, 'loss.svg')}\n${join(out, 'lr.svg')}\n`);
    return 0;
  },
};
