import type { ComputeClient } from '../client.js';
import type { AppState } from '../state.js';
import type { SourceInfo } from '../protocol.js';

export interface Ctx {
  client: ComputeClient;
  getState(): AppState;
  /** Merge a change into the URL state; `push` adds a history entry (default: replace). */
  setState(patch: Partial<AppState>, push?: boolean): void;
  tokenInfo(): Promise<SourceInfo>;
  toast(message: string, kind?: 'info' | 'error'): void;
}

export interface View {
  mount(root: HTMLElement): void;
  /** The URL state changed (e.g. back/forward, a control). */
  update(state: AppState): void;
  unmount(): void;
}
