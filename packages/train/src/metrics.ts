/** Metrics records: one JSON object per line in `metrics.jsonl`. */

/**
 * A training step's record.
 *
 * @example
 * ```ts
 * const r: TrainRecord = { kind: 'train', step: 10, loss: 2.3, lr: 1e-3, gradNorm: 0.8, tokens: 4096, tokensPerSec: 20_000, stepMs: 205, elapsedSec: 2.1 };
 * writer.write(r);
 * ```
 */
export interface TrainRecord {
  kind: 'train';
  step: number;
  /** Mean loss over the step's micro-batches (the loss's own unit, usually nats per token). */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Tokens (or examples) processed by this step. */
  tokens: number;
  tokensPerSec: number;
  /** Wall time of this step in ms. */
  stepMs: number;
  /** Seconds since the run (or the resumed run) began. */
  elapsedSec: number;
  /** True when the update was skipped by the NaN/Inf guard. */
  skipped?: boolean;
}

/**
 * An evaluation's record: whatever the evaluator measured, by name.
 *
 * @example
 * ```ts
 * const r: EvalRecord = { kind: 'eval', step: 100, elapsedSec: 20, metrics: { bitsPerToken: 2.71 } };
 * ```
 */
export interface EvalRecord {
  kind: 'eval';
  step: number;
  elapsedSec: number;
  metrics: Record<string, number>;
}

/**
 * One line of `metrics.jsonl`: a training step or an evaluation, told apart by `kind`.
 *
 * @example
 * ```ts
 * const evals = parseMetricsLines(text).filter((r) => r.kind === 'eval'); // their step and metrics
 * ```
 */
export type MetricsRecord = TrainRecord | EvalRecord;

/**
 * One JSON line (no trailing newline); non-finite numbers become null, as JSON requires.
 *
 * @example
 * ```ts
 * formatMetricsLine({ kind: 'eval', step: 1, elapsedSec: 0.5, metrics: { loss: NaN } });
 * // '{"kind":"eval","step":1,"elapsedSec":0.5,"metrics":{"loss":null}}'
 * ```
 */
export function formatMetricsLine(r: MetricsRecord): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
}

/**
 * Parse metrics.jsonl text; throws naming the line number of a malformed line.
 *
 * @example
 * ```ts
 * const records = parseMetricsLines(readFileSync('run/metrics.jsonl', 'utf8'));
 * const losses = records.filter((r) => r.kind === 'train').map((r) => r.loss);
 * ```
 */
export function parseMetricsLines(text: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`metrics line ${i + 1} is not JSON`);
    }
    const k = (r as { kind?: unknown }).kind;
    if (k !== 'train' && k !== 'eval')
      throw new Error(`metrics line ${i + 1} has kind ${JSON.stringify(k)}, expected 'train' or 'eval'`);
    out.push(r as MetricsRecord);
  }
  return out;
}
