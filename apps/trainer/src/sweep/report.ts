/**
 * `altar sweep report`: the results of a sweep's finished points as a table (markdown and JSON) and SVG plots
 * across the grid: bits per token against each numeric grid key, bits against sampling cost, and the NELBO
 * against the number of diffusion steps T where the family has it.
 */
import { renderChart, type Series } from '../run/svg.js';
import type { PointResult } from './run-point.js';
import type { Sweep } from './spec.js';
import type { PointState, SweepStatus } from './status.js';

/**
 * One row of the report: a point, its state and (once done) its results.
 *
 * @example
 * ```ts
 * const row: ReportRow = buildReport(sweep, status).rows[0]!;
 * row.bitsPerToken; // null until the point is done
 * ```
 */
export interface ReportRow {
  id: string;
  label: string;
  assignments: Record<string, unknown>;
  seed: number | null;
  state: PointState;
  family: string;
  unit: string | null;
  boundKind: string | null;
  bitsPerToken: number | null;
  stdErr: number | null;
  /** Text sources: bits per character (null otherwise). */
  bitsPerChar: number | null;
  sourceEntropyBitsPerToken: number | null;
  boundVsT: { T: number; bitsPerToken: number; stdErr: number }[];
  sampler: string | null;
  sampleSteps: number | null;
  nfe: number | null;
  weightBytesLoaded: number | null;
  sampleWallMs: number | null;
  trainSeconds: number | null;
  /** Times the point was started (more than 1: retried or re-delivered), with the step each start resumed from. */
  starts: number;
  resumedFrom: number[];
  failedReason: string | null;
}

/**
 * The report: rows, the markdown table and the SVG files (name → document).
 *
 * @example
 * ```ts
 * const r: SweepReport = buildReport(sweep, status);
 * writeFileSync('report.md', r.markdown);
 * ```
 */
export interface SweepReport {
  sweep: string;
  gridKeys: string[];
  rows: ReportRow[];
  markdown: string;
  svgs: Record<string, string>;
}

const f4 = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(4));

function bytes(b: number | null): string {
  if (b === null || !Number.isFinite(b)) return '-';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  const i = b <= 0 ? 0 : Math.min(u.length - 1, Math.floor(Math.log10(b) / 3));
  return `${(b / 10 ** (3 * i)).toPrecision(3)} ${u[i]}`;
}

function toRow(p: Sweep['points'][number], j: SweepStatus['jobs'][number] | undefined): ReportRow {
  const r: PointResult | null = j?.result ?? null;
  return {
    id: p.id,
    label: p.label,
    assignments: p.assignments,
    seed: p.seed,
    state: j?.state ?? 'missing',
    family: p.config.family,
    unit: r?.unit ?? null,
    boundKind: r?.boundKind ?? null,
    bitsPerToken: r?.bitsPerToken ?? null,
    stdErr: r?.stdErr ?? null,
    bitsPerChar: r?.bitsPerChar ?? null,
    sourceEntropyBitsPerToken: r?.sourceEntropyBitsPerToken ?? null,
    boundVsT: r?.boundVsT ?? [],
    sampler: r?.sampling.sampler ?? null,
    sampleSteps: r?.sampling.steps ?? null,
    nfe: r?.sampling.nfe ?? null,
    weightBytesLoaded: r?.sampling.weightBytesLoaded ?? null,
    sampleWallMs: r?.sampling.wallMs ?? null,
    trainSeconds: r?.trainSeconds ?? null,
    starts: r?.starts.length ?? j?.deliveries ?? 0,
    resumedFrom: r?.starts.map((s) => s.resumeFromStep) ?? [],
    failedReason: j?.failedReason ?? null,
  };
}

function markdownTable(sweep: Sweep, rows: ReportRow[]): string {
  const unit = rows.find((r) => r.unit !== null)?.unit ?? 'token';
  const Ts = [...new Set(rows.flatMap((r) => r.boundVsT.map((b) => b.T)))].sort((a, b) => a - b);
  const perChar = rows.some((r) => r.bitsPerChar !== null);
  const head = [
    'point',
    'state',
    'family',
    `bits/${unit}`,
    '± s.e.',
    ...(perChar ? ['bits/char'] : []),
    'bound',
    'gap to source',
    ...Ts.map((T) => `NELBO T=${T}`),
    'sampler (steps)',
    'NFE',
    'weight bytes',
    'sample ms',
    'train s',
    'starts (resumed from)',
  ];
  const lines = [
    `# Sweep ${sweep.name}`,
    '',
    `${rows.length} points, grid: ${sweep.gridKeys.join(', ') || '(none)'}`,
    '',
  ];
  lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const gap =
      r.bitsPerToken !== null && r.sourceEntropyBitsPerToken !== null
        ? r.bitsPerToken - r.sourceEntropyBitsPerToken
        : null;
    const cells = [
      r.label,
      r.state,
      r.family,
      f4(r.bitsPerToken),
      f4(r.stdErr),
      ...(perChar ? [f4(r.bitsPerChar)] : []),
      r.boundKind ?? '-',
      f4(gap),
      ...Ts.map((T) => f4(r.boundVsT.find((b) => b.T === T)?.bitsPerToken ?? null)),
      r.sampler === null ? '-' : `${r.sampler} (${r.sampleSteps})`,
      r.nfe === null ? '-' : String(r.nfe),
      bytes(r.weightBytesLoaded),
      r.sampleWallMs === null ? '-' : r.sampleWallMs.toFixed(1),
      r.trainSeconds === null ? '-' : r.trainSeconds.toFixed(1),
      r.resumedFrom.length ? `${r.starts} (${r.resumedFrom.join(', ')})` : String(r.starts),
    ];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  const failed = rows.filter((r) => r.state === 'failed');
  if (failed.length) {
    lines.push('', '## Failed', '');
    for (const r of failed) lines.push(`- ${r.label}: ${(r.failedReason ?? '').split('\n')[0]}`);
  }
  return lines.join('\n') + '\n';
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** bits against one numeric grid key: a series per combination of the other keys, seeds averaged. */
function chartVsKey(key: string, sweep: Sweep, done: ReportRow[], unit: string): string | null {
  const xs = done.map((r) => r.assignments[key]);
  if (!xs.every((x) => typeof x === 'number') || new Set(xs).size < 2) return null;
  const others = sweep.gridKeys.filter((k) => k !== key);
  const groups = new Map<string, Map<number, number[]>>();
  for (const r of done) {
    const g = others.map((k) => `${k}=${JSON.stringify(r.assignments[k])}`).join(' ') || 'all points';
    const byX = groups.get(g) ?? new Map<number, number[]>();
    const x = r.assignments[key] as number;
    byX.set(x, [...(byX.get(x) ?? []), r.bitsPerToken!]);
    groups.set(g, byX);
  }
  const series: Series[] = [...groups].map(([name, byX]) => ({
    name,
    points: [...byX].sort((a, b) => a[0] - b[0]).map(([x, ys]) => [x, mean(ys)] as [number, number]),
  }));
  const nums = xs as number[];
  const logX = Math.min(...nums) > 0 && Math.max(...nums) / Math.min(...nums) >= 8;
  const ent = done.find((r) => r.sourceEntropyBitsPerToken !== null)?.sourceEntropyBitsPerToken;
  return renderChart({
    title: `${sweep.name}: bits/${unit} vs ${key}`,
    xLabel: key,
    yLabel: `bits/${unit} (mean over seeds)`,
    series,
    logX,
    ...(ent != null ? { hlines: [{ y: ent, label: 'source entropy' }] } : {}),
  });
}

/**
 * Build the report from the sweep and its queue status.
 *
 * @example
 * ```ts
 * const r = buildReport(loadSweep('sweep.yaml'), await sweepStatus(queue, sweep));
 * Object.keys(r.svgs); // ['bits-vs-model.dModel.svg', 'bits-vs-sampling-cost.svg', …]
 * ```
 */
export function buildReport(sweep: Sweep, status: SweepStatus): SweepReport {
  const byId = new Map(status.jobs.map((j) => [j.id, j]));
  const rows = sweep.points.map((p) => toRow(p, byId.get(p.id)));
  const done = rows.filter((r) => r.bitsPerToken !== null && Number.isFinite(r.bitsPerToken));
  const unit = done[0]?.unit ?? 'token';
  const svgs: Record<string, string> = {};
  for (const k of sweep.gridKeys) {
    const svg = chartVsKey(k, sweep, done, unit);
    if (svg !== null) svgs[`bits-vs-${k.replace(/[^A-Za-z0-9._-]+/g, '_')}.svg`] = svg;
  }
  const costed = done.filter((r) => r.weightBytesLoaded !== null && r.weightBytesLoaded > 0);
  if (costed.length) {
    svgs['bits-vs-sampling-cost.svg'] = renderChart({
      title: `${sweep.name}: quality vs sampling cost`,
      xLabel: 'weight bytes loaded per sampling call',
      yLabel: `bits/${unit}`,
      logX: true,
      series: [...new Set(costed.map((r) => r.family))].map((fam) => {
        const rs = costed.filter((r) => r.family === fam);
        return {
          name: fam,
          markersOnly: true,
          points: rs.map((r) => [r.weightBytesLoaded!, r.bitsPerToken!] as [number, number]),
          labels: rs.map((r) => r.label),
        };
      }),
    });
  }
  const withT = done.filter((r) => r.boundVsT.length > 0);
  if (withT.length) {
    svgs['nelbo-vs-T.svg'] = renderChart({
      title: `${sweep.name}: NELBO vs diffusion steps T`,
      xLabel: 'T (sampling steps)',
      yLabel: `NELBO, bits/${unit}`,
      logX: true,
      series: withT.map((r) => ({
        name: r.label,
        points: r.boundVsT.map((b) => [b.T, b.bitsPerToken] as [number, number]),
      })),
    });
  }
  return { sweep: sweep.name, gridKeys: sweep.gridKeys, rows, markdown: markdownTable(sweep, rows), svgs };
}
