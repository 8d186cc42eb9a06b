/** A progress bar for stderr: step/total, loss, tokens/s and ETA; redraws in place on a TTY, prints sparse lines otherwise. */
import type { CommandIO } from '../io.js';

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '--';
  if (sec < 60) return `${sec.toFixed(0)}s`;
  const m = Math.floor(sec / 60);
  const s = Math.round(sec % 60);
  return m < 60 ? `${m}m${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

export class ProgressBar {
  private readonly t0 = Date.now();
  private lastDraw = 0;
  private lastLine = -1;
  private readonly startStep: number;
  private width = 0;
  constructor(
    private readonly io: CommandIO,
    private readonly label: string,
    private readonly total: number,
    startStep = 0,
  ) {
    this.startStep = startStep;
  }

  /** Render for `step`; `extra` is appended (e.g. "loss 2.71 bits"). */
  update(step: number, fields: { loss?: number; lossUnit?: string; tokensPerSec?: number; extra?: string }): void {
    const now = Date.now();
    const done = step >= this.total;
    const elapsed = (now - this.t0) / 1000;
    const rate = (step - this.startStep) / Math.max(elapsed, 1e-3);
    const eta = rate > 0 ? (this.total - step) / rate : NaN;
    const frac = this.total > 0 ? Math.min(1, step / this.total) : 1;
    const barW = 20;
    const filled = Math.round(frac * barW);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(barW - filled)}]`;
    const parts = [`${this.label} ${bar} ${step}/${this.total}`];
    if (fields.loss !== undefined)
      parts.push(`loss ${fields.loss.toFixed(3)}${fields.lossUnit ? ' ' + fields.lossUnit : ''}`);
    if (fields.tokensPerSec !== undefined) parts.push(`${formatRate(fields.tokensPerSec)} tok/s`);
    parts.push(done ? `${formatDuration(elapsed)}` : `ETA ${formatDuration(eta)}`);
    if (fields.extra) parts.push(fields.extra);
    const line = parts.join('  ');
    if (this.io.isTTY) {
      if (!done && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      const pad = Math.max(0, this.width - line.length);
      this.width = line.length;
      this.io.err(`\r${line}${' '.repeat(pad)}${done ? '\n' : ''}`);
    } else {
      // Non-TTY (logs, CI): a line at every 10% and at the end.
      const decile = Math.floor(frac * 10);
      if (decile === this.lastLine && !done) return;
      if (done && this.lastLine === 10) return;
      this.lastLine = done ? 10 : decile;
      this.io.err(line + '\n');
    }
  }

  /** A message that must not be overwritten by the next redraw. */
  note(text: string): void {
    if (this.io.isTTY && this.width > 0) this.io.err(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
    this.io.err(text + '\n');
  }
}
