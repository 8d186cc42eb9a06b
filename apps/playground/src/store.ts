/** Page-side memory that outlives view switches: loss histories and the latest training status. */
import type { Family } from './state.js';
import type { TrainEvent } from './protocol.js';

export interface TrainHistory {
  steps: number[];
  bits: number[];
  running: boolean;
  tokensPerSec: number;
  entropyBits: number | null;
}

export const histories = new Map<Family, TrainHistory>();

export function historyOf(f: Family): TrainHistory {
  let h = histories.get(f);
  if (!h) {
    h = { steps: [], bits: [], running: false, tokensPerSec: 0, entropyBits: null };
    histories.set(f, h);
  }
  return h;
}

export function recordTrainEvent(e: TrainEvent): void {
  const h = historyOf(e.family);
  h.running = e.running;
  h.tokensPerSec = e.tokensPerSec;
  h.entropyBits = e.entropyBits;
  if (Number.isFinite(e.bits)) {
    h.steps.push(e.step);
    h.bits.push(e.bits);
  }
}

/** Exponential moving average of a series (for the smoothed loss curve). */
export function ema(values: number[], beta = 0.9): number[] {
  const out: number[] = [];
  let m = NaN;
  values.forEach((v, i) => {
    m = i === 0 ? v : beta * m + (1 - beta) * v;
    out.push(m);
  });
  return out;
}
