/**
 * Page-side memory that outlives view switches and reloads: loss histories (and the continuous
 * families' bound evaluations) and the latest training status. Histories are kept in localStorage
 * next to the models the worker keeps in IndexedDB, and cut back to the saved model's step on reload.
 */
import type { Family } from './state.js';
import type { TrainEvent } from './protocol.js';

export interface TrainHistory {
  steps: number[];
  bits: number[];
  /** Continuous families: NELBO evaluations in bits/dim at these steps. */
  boundSteps: number[];
  boundBits: number[];
  /** Standard error of the latest bound evaluation (its per-example spread / √n). */
  boundStdErr: number;
  running: boolean;
  tokensPerSec: number;
  entropyBits: number | null;
  unit: TrainEvent['unit'];
}

export const histories = new Map<Family, TrainHistory>();

export function historyOf(f: Family): TrainHistory {
  let h = histories.get(f);
  if (!h) {
    h = {
      steps: [],
      bits: [],
      boundSteps: [],
      boundBits: [],
      boundStdErr: 0,
      running: false,
      tokensPerSec: 0,
      entropyBits: null,
      unit: 'token',
    };
    histories.set(f, h);
  }
  return h;
}

/** A history keeps at most this many points: past it, every other point is dropped (the curve keeps its shape). */
const MAX_POINTS = 4000;

function thin(h: TrainHistory): void {
  if (h.steps.length <= MAX_POINTS) return;
  h.steps = h.steps.filter((_, i) => i % 2 === 1);
  h.bits = h.bits.filter((_, i) => i % 2 === 1);
}

export function recordTrainEvent(e: TrainEvent): void {
  const h = historyOf(e.family);
  h.running = e.running;
  h.tokensPerSec = e.tokensPerSec;
  h.entropyBits = e.entropyBits;
  h.unit = e.unit;
  if (Number.isFinite(e.bits)) {
    h.steps.push(e.step);
    h.bits.push(e.bits);
    thin(h);
  }
  if (e.bound && e.bound.step !== h.boundSteps[h.boundSteps.length - 1]) {
    h.boundSteps.push(e.bound.step);
    h.boundBits.push(e.bound.bits);
    h.boundStdErr = e.bound.stdErr;
  }
  // A pause (or the end of a run) is written at once: the worker has just saved the model, and a reload
  // may follow immediately; while running, writes are batched.
  if (!e.running) saveHistories();
  else scheduleSave();
}

export function forgetHistory(f: Family): void {
  histories.delete(f);
  scheduleSave();
}

const KEY = 'altar.playground.histories.v1';
let saveTimer: ReturnType<typeof setTimeout> | null = null;

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (some private modes throw on access)
  }
}

function scheduleSave(): void {
  if (saveTimer !== null) return;
  saveTimer = setTimeout(() => {
    saveTimer = null;
    saveHistories();
  }, 1000);
}

export function saveHistories(): void {
  const st = storage();
  if (!st) return;
  try {
    st.setItem(KEY, JSON.stringify([...histories.entries()]));
  } catch {
    // Quota: the curves are a convenience, the models are kept by the worker.
  }
}

/**
 * Brings back the curves of the models the worker restored (family → saved step): points after the saved
 * step were trained after the last save and are gone with the weights, so they are cut.
 */
export function restoreHistories(savedSteps: Map<Family, number>): void {
  const st = storage();
  if (!st) return;
  let stored: Array<[Family, TrainHistory]> = [];
  try {
    stored = JSON.parse(st.getItem(KEY) ?? '[]') as Array<[Family, TrainHistory]>;
  } catch {
    stored = [];
  }
  for (const [f, h] of stored) {
    const step = savedSteps.get(f);
    if (step === undefined || !Array.isArray(h.steps) || !Array.isArray(h.boundSteps) || !Array.isArray(h.boundBits))
      continue;
    // How many points of a series were recorded at or before the saved step.
    const upTo = (steps: number[]): number => {
      const k = steps.findIndex((s) => s > step);
      return k < 0 ? steps.length : k;
    };
    const n = upTo(h.steps);
    const nb = upTo(h.boundSteps);
    histories.set(f, {
      ...h,
      steps: h.steps.slice(0, n),
      bits: h.bits.slice(0, n),
      boundSteps: h.boundSteps.slice(0, nb),
      boundBits: h.boundBits.slice(0, nb),
      boundStdErr: Number(h.boundStdErr) || 0,
      running: false,
    });
  }
  saveHistories();
}

/** Mean of each value and the k − 1 before it (fewer at the start). */
export function trailingMean(values: number[], k: number): number[] {
  return values.map((_, i) => {
    const w = values.slice(Math.max(0, i - k + 1), i + 1);
    return w.reduce((a, b) => a + b, 0) / w.length;
  });
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
