/**
 * The Text view's page-side memory of training: per family, the curve of training bits/char and the
 * validation evaluations of the model on one corpus (a new corpus, size or seed starts a new curve).
 * Kept for the visit (text models are not kept across reloads).
 */
import type { TextTrainEvent } from '../protocol.js';
import type { Family } from '../state.js';

export interface TextHistory {
  /** The corpus key the curve belongs to. */
  key: string;
  steps: number[];
  bits: number[];
  valSteps: number[];
  valBits: number[];
  valStdErr: number;
  running: boolean;
  charsPerSec: number;
  unigramBitsPerChar: number;
  paramCount: number;
}

const histories = new Map<Family, TextHistory>();

function fresh(key: string): TextHistory {
  return {
    key,
    steps: [],
    bits: [],
    valSteps: [],
    valBits: [],
    valStdErr: 0,
    running: false,
    charsPerSec: 0,
    unigramBitsPerChar: NaN,
    paramCount: 0,
  };
}

/** The family's curve, or null when it has none (or one of another corpus: `key` given). */
export function textHistoryOf(f: Family, key?: string): TextHistory | null {
  const h = histories.get(f);
  return h && (key === undefined || h.key === key) ? h : null;
}

export function recordTextEvent(e: TextTrainEvent): void {
  let h = histories.get(e.family);
  if (!h || h.key !== e.key || (h.steps.length && e.step < h.steps[h.steps.length - 1]!)) {
    h = fresh(e.key);
    histories.set(e.family, h);
  }
  h.running = e.running;
  h.charsPerSec = e.charsPerSec;
  h.unigramBitsPerChar = e.unigramBitsPerChar;
  h.paramCount = e.paramCount;
  if (Number.isFinite(e.bitsPerChar)) {
    h.steps.push(e.step);
    h.bits.push(e.bitsPerChar);
  }
  if (e.val && e.val.step !== h.valSteps[h.valSteps.length - 1]) {
    h.valSteps.push(e.val.step);
    h.valBits.push(e.val.bitsPerChar);
    h.valStdErr = e.val.stdErr;
  }
}

export function forgetTextHistory(f: Family): void {
  histories.delete(f);
}
