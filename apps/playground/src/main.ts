/** The playground shell: header + backend badge, view routing from the URL, the compute worker. */
import './style.css';
import type { BackendInfo } from '@altar/backend';
import { ComputeClient } from './client.js';
import { h, clear } from './ui/dom.js';
import { parseState, serializeState, VIEWS, type AppState, type View as ViewName } from './state.js';
import { recordTrainEvent, restoreHistories, saveHistories } from './store.js';
import type { SourceInfo } from './protocol.js';
import type { Ctx, View } from './views/view.js';
import { ForwardView } from './views/forward.js';
import { TrainView } from './views/train.js';
import { SampleView } from './views/sample.js';
import { RaceView } from './views/race.js';
import { ElboView } from './views/elbo.js';
import { CheckpointView } from './views/checkpoint.js';
import { TextView } from './views/text.js';
import { recordTextEvent } from './views/text-history.js';

const TITLES: Record<ViewName, string> = {
  forward: 'Forward process',
  train: 'Train',
  sample: 'Sample',
  race: 'The race',
  elbo: 'ELBO anatomy',
  checkpoint: 'Checkpoint',
  text: 'Text',
};

const parsed = parseState(location.search);
let state: AppState = parsed.state;
const client = new ComputeClient();
client.on((e) => {
  if (e.type === 'train') recordTrainEvent(e);
  else if (e.type === 'text-train') recordTextEvent(e);
  else if (e.type === 'log' && e.level === 'warn') toast(e.message, 'error');
});

const badge = h(
  'div.badge.pending',
  { 'data-testid': 'backend', 'data-backend': '' },
  h('span.dot'),
  h('span.badge-name', {}, 'starting backend…'),
);
const nav = h('nav.tabs');
const main = h('main.view', { 'data-testid': 'view' });
const toasts = h('div.toasts');
const notice = h('div.notice', { hidden: true, 'data-testid': 'backend-notice' });
const app = document.getElementById('app')!;
app.append(
  h(
    'header.top',
    {},
    h(
      'div.brand',
      {},
      h('span.logo', {}, 'altar'),
      h('span.tagline', {}, 'alternatives to autoregressive models · in your browser'),
    ),
    nav,
    badge,
  ),
  notice,
  main,
  toasts,
);

function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const t = h(`div.toast.${kind}`, { role: 'status' }, message);
  toasts.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}
for (const w of parsed.warnings) toast(`URL: ${w}`, 'error');

let tokenInfoP: Promise<SourceInfo> | null = null;
const ctx: Ctx = {
  client,
  getState: () => state,
  setState(patch, push = false) {
    const next = { ...state, ...patch };
    const url = `${location.pathname}${serializeState(next)}`;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
    apply(next);
  },
  tokenInfo: () => (tokenInfoP ??= client.call('sourceInfo', { source: 'hmm' })),
  toast,
};

const factories: Record<ViewName, () => View> = {
  forward: () => new ForwardView(ctx),
  train: () => new TrainView(ctx),
  sample: () => new SampleView(ctx),
  race: () => new RaceView(ctx),
  elbo: () => new ElboView(ctx),
  checkpoint: () => new CheckpointView(ctx),
  text: () => new TextView(ctx),
};

let current: { name: ViewName; view: View } | null = null;
let ready = false;

function renderNav(): void {
  clear(nav);
  for (const v of VIEWS) {
    const href = `${location.pathname}${serializeState({ ...state, view: v })}`;
    const a = h(
      'a.tab',
      { href, 'data-testid': `nav-${v}`, 'aria-current': v === state.view ? 'page' : undefined },
      TITLES[v],
    );
    a.addEventListener('click', (ev) => {
      ev.preventDefault();
      ctx.setState({ view: v }, true);
    });
    nav.append(a);
  }
}

function apply(next: AppState): void {
  state = next;
  document.title = `altar · ${TITLES[state.view]}`;
  renderNav();
  if (!ready) return;
  if (!current || current.name !== state.view) {
    current?.view.unmount();
    clear(main);
    main.dataset['view'] = state.view;
    const view = factories[state.view]();
    current = { name: state.view, view };
    view.mount(main);
  } else {
    current.view.update(state);
  }
}

window.addEventListener('popstate', () => apply(parseState(location.search).state));
// The loss curves are written a second after each event; a reload in between must not lose them.
window.addEventListener('pagehide', () => saveHistories());

function showBackend(info: BackendInfo): void {
  badge.className = `badge ${info.name === 'webgpu' ? 'ok' : 'warn'}`;
  badge.dataset['backend'] = info.name;
  clear(badge);
  badge.append(h('span.dot'), h('span.badge-name', {}, info.name), h('span.badge-adapter', {}, info.adapter));
  badge.title = `${info.name} on ${info.adapter}\n${info.reason}\ntfjs ${info.version}, float${info.floatPrecision}`;
  if (info.name !== 'webgpu') {
    const why = /webgpu: ([^;]*)/.exec(info.reason)?.[1];
    notice.hidden = false;
    notice.className = 'notice warn';
    notice.textContent =
      state.backend === 'auto'
        ? `WebGPU is not in use${why ? ` (${why})` : ''}. Running on ${info.name} instead: ${info.adapter}.`
        : `Running on ${info.name} as requested in the URL (backend=${state.backend}).`;
  } else if (info.softwareFallback) {
    notice.hidden = false;
    notice.className = 'notice info';
    notice.textContent = `WebGPU runs on a software adapter (${info.adapter}): correct but slow.`;
  }
}

async function boot(): Promise<void> {
  renderNav();
  main.append(h('div.placeholder.tall', {}, 'Starting the compute worker…'));
  try {
    const info = await client.call('init', { backend: state.backend });
    showBackend(info);
  } catch (e) {
    badge.className = 'badge err';
    badge.dataset['backend'] = 'none';
    clear(badge);
    badge.append(h('span.dot'), h('span.badge-name', {}, 'no backend'));
    notice.hidden = false;
    notice.className = 'notice err';
    notice.textContent = `${(e as Error).message}. Try ?backend=auto or ?backend=wasm.`;
    clear(main);
    return;
  }
  await restoreModels();
  ready = true;
  clear(main);
  apply(state);
}

/** Models trained in an earlier visit come back from this browser's storage, with their loss curves. */
async function restoreModels(): Promise<void> {
  try {
    const restored = await client.call('restore', {});
    restoreHistories(new Map(restored.map((m) => [m.family, m.step])));
    if (restored.length)
      toast(
        `Restored from this browser: ${restored.map((m) => `${m.family} (step ${m.step})`).join(', ')}. Reset a family to forget it.`,
      );
  } catch (e) {
    toast(`Could not restore saved models: ${(e as Error).message}`, 'error');
  }
}

void boot();
