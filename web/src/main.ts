/**
 * The dashboard's entry: routes to a view, reads its data, re-draws it when a
 * live event says it may have changed, and keeps the person's place (focus,
 * scroll, open <details>) across re-draws.
 */
import './style.css';
import type { ApiEvent, StatusView } from '../../src/server/api/types.ts';
import { api, authHeaders, getToken, setToken } from './api.ts';
import { h } from './dom.ts';
import { parseRoute, type Route } from './router.ts';
import { subscribe, type LiveState } from './sse.ts';
import { errorPanel } from './ui.ts';
import type { Context, View } from './view.ts';
import { incidentView } from './views/incident.ts';
import { incidentsView } from './views/incidents.ts';
import { meshView } from './views/mesh.ts';
import { overview } from './views/overview.ts';

const main = document.getElementById('main') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;

let status: StatusView | null = null;
let current: { route: Route; view: View<unknown> } | null = null;
let lastData = '';
let loading = false;
let again = false;
let announcement = '';

function viewFor(route: Route): View<unknown> | null {
  switch (route.view) {
    case 'overview':
      return overview;
    case 'mesh':
      return meshView(route.layer);
    case 'incidents':
      return incidentsView;
    case 'incident':
      return incidentView(route.id);
    case 'not-found':
      return null;
  }
}

const context: Context = {
  get status() {
    return status;
  },
  get zone() {
    return status?.zone ?? 'UTC';
  },
  refresh: () => void load(true),
  announce(message) {
    announcement = message;
    showLive();
  },
};

/** Replaces the view's content, keeping focus, open <details> and scroll where they were. */
function draw(node: Node): void {
  const focused = document.activeElement;
  const focusKey =
    focused instanceof HTMLElement && main.contains(focused)
      ? focused.id ||
        focused.getAttribute('data-approve') ||
        focused.getAttribute('data-download') ||
        focused.textContent
      : null;
  const open = new Set(
    [...main.querySelectorAll('details[open]')].map((d) => d.id).filter((id) => id !== ''),
  );
  const y = window.scrollY;
  main.replaceChildren(node);
  for (const id of open) document.getElementById(id)?.setAttribute('open', '');
  if (focusKey !== null) {
    const target = [...main.querySelectorAll<HTMLElement>('button, a, select, summary')].find(
      (el) =>
        (el.id ||
          el.getAttribute('data-approve') ||
          el.getAttribute('data-download') ||
          el.textContent) === focusKey,
    );
    target?.focus({ preventScroll: true });
  }
  window.scrollTo(0, y);
}

/** Reads the current view's data; draws only when it changed. Calls that overlap are merged into one more read. */
async function load(force = false): Promise<void> {
  if (current === null) return;
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  const { route, view } = current;
  try {
    const data = await view.load();
    if (current?.route !== route) return;
    const json = JSON.stringify(data);
    if (force || json !== lastData) {
      lastData = json;
      document.title = `${view.title(data)} · NodeWarden`;
      draw(view.render(data, context));
      main.setAttribute('aria-busy', 'false');
    }
  } catch (error) {
    if (current?.route === route) {
      lastData = '';
      draw(h('div', null, h('h1', null, 'Could not read the data'), errorPanel(error)));
    }
  } finally {
    loading = false;
    if (again) {
      again = false;
      void load();
    }
  }
}

function navigate(): void {
  const route = parseRoute(location.hash);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[data-nav]')) {
    const active =
      a.dataset['nav'] === route.view ||
      (route.view === 'incident' && a.dataset['nav'] === 'incidents');
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = viewFor(route);
  lastData = '';
  if (view === null) {
    current = null;
    main.replaceChildren(
      h('h1', null, 'No such page'),
      h(
        'p',
        null,
        `Nothing lives at #${route.view === 'not-found' ? route.path : ''}. `,
        h('a', { href: '#/' }, 'Back to the overview'),
      ),
    );
    return;
  }
  current = { route, view };
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(h('p', null, 'Loading…'));
  void load();
  main.focus({ preventScroll: true });
}

let liveState: LiveState = 'connecting';
let liveDetail = '';
function showLive(): void {
  const words: Record<LiveState, string> = {
    connecting: 'connecting…',
    live: 'live',
    retrying: `reconnecting (${liveDetail})`,
    unauthorized: 'live updates refused: token needed',
  };
  live.textContent =
    announcement === '' ? words[liveState] : `${words[liveState]} · ${announcement}`;
  live.className = `live ${liveState}`;
}

function onEvent(name: string, data: string): void {
  let event: ApiEvent | null = null;
  try {
    event = JSON.parse(data) as ApiEvent;
  } catch {
    event = null;
  }
  if (event !== null && (event.type === 'hello' || event.type === 'tick')) status = event.status;
  // An event this page does not know: re-read, so a newer server never leaves the page stale.
  if (event === null || event.type !== name || current === null || current.view.staleOn(event))
    void load();
}

function tokenDialog(): void {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    value: getToken() ?? '',
  });
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'token-h' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'token-h' }, 'Bearer token'),
      h(
        'p',
        null,
        'The controller’s API wants a token (read, or admin to approve). The demo needs none. It is kept for this tab only.',
      ),
      h('label', { for: 'token' }, 'Token '),
      input,
      h(
        'p',
        { class: 'actions' },
        h('button', { value: 'save', class: 'primary' }, 'Save'),
        h('button', { value: 'clear' }, 'Clear'),
        h('button', { value: 'cancel' }, 'Cancel'),
      ),
    ),
  );
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'save') setToken(input.value);
    if (dialog.returnValue === 'clear') setToken(null);
    dialog.remove();
    if (dialog.returnValue === 'save' || dialog.returnValue === 'clear') location.reload();
  });
  document.body.append(dialog);
  dialog.showModal();
}

document.getElementById('token-button')?.addEventListener('click', tokenDialog);
window.addEventListener('hashchange', navigate);

async function start(): Promise<void> {
  try {
    status = await api.status();
  } catch {
    // The view's own read will show what is wrong.
  }
  navigate();
  subscribe(
    api.eventsUrl,
    authHeaders,
    (e) => onEvent(e.event, e.data),
    (state, detail) => {
      liveState = state;
      liveDetail = detail;
      showLive();
      // After a reconnect, re-read: events may have been missed.
      if (state === 'live') void load();
    },
  );
}

void start();
