// The dashboard: state, the management API calls, the live feed, the buttons.
// The token comes once in the URL fragment (#token=..., which browsers never send), is
// taken off the address bar at once and kept in sessionStorage for this tab only; every
// call sends it as "Authorization: Bearer". No cookie, no query string.
import { errorMessage, feedKey, mergeFeed, parseSSE, tokenFromFragment } from "./format.js";
import { renderBackends, renderCharts, renderEvents, renderFeed, renderRuns, renderSessions, renderStats, tick } from "./render.js";

const STORE = "auto-router-token";
const POLL_MS = 2000;
const STATS_MS = 5000;
const RUNS_MS = 15000; // a run's summary reads its requests: not as often as the rest
const MAX_EVENTS = 50;
const MAX_FEED = 50;

const state = {
  token: null,
  offset: 0, // server clock minus ours, seconds
  status: null,
  statusText: "",
  requests: [],
  // The event stream is open: the feed grows from its "request" events, and
  // /v1/requests is read only to fill a gap (first load, after a reconnect).
  live: false,
  feedRead: false,
  events: [],
  tests: new Map(),
  period: "1h",
  refreshing: null,
  again: false,
  stopped: false,
};

const $ = (id) => document.getElementById(id);
const serverNow = () => Date.now() / 1000 + state.offset;

function takeToken() {
  const fromUrl = tokenFromFragment(location.hash);
  if (fromUrl) {
    sessionStorage.setItem(STORE, fromUrl);
    history.replaceState(null, "", location.pathname + location.search);
    return fromUrl;
  }
  return sessionStorage.getItem(STORE);
}

class Refused extends Error {}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const data = await resp.json().catch(() => null);
  if (resp.status === 401 || resp.status === 403) throw new Refused(errorMessage(resp.status, data));
  if (!resp.ok) throw new Error(errorMessage(resp.status, data));
  return data;
}

function notice(text, kind = "error") {
  const box = $("notice");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function connection(text, kind) {
  const node = $("conn");
  if (node.textContent !== text) node.textContent = text;
  node.className = kind;
}

function stop(message) {
  state.stopped = true;
  connection("not connected", "bad");
  notice(message);
}

// -- drawing: only what changed is replaced, so nothing flashes and focus stays ----------

function replaceKeepingFocus(container, nodes) {
  const focused = document.activeElement;
  const key = focused && focused.dataset && focused.dataset.action
    ? `[data-action="${focused.dataset.action}"][data-backend="${CSS.escape(focused.dataset.backend || "")}"]` +
      (focused.dataset.provider ? `[data-provider="${CSS.escape(focused.dataset.provider)}"]` : "") +
      (focused.dataset.key ? `[data-key="${CSS.escape(focused.dataset.key)}"]` : "")
    : null;
  const inside = key && container.contains(focused);
  container.replaceChildren(...nodes);
  if (inside) {
    const again = container.querySelector(key);
    if (again) again.focus();
  }
}

function drawStatus() {
  if (!state.status) return;
  const text = JSON.stringify({ s: state.status.backends, t: [...state.tests] });
  if (text !== state.statusText) {
    state.statusText = text;
    replaceKeepingFocus($("backends"), renderBackends({ ...state.status, now: serverNow() }, state.tests));
  }
  tick($("backends"), serverNow());
}

function drawFeed() {
  const body = $("feed-rows");
  const ids = state.requests.map(feedKey).join(",");
  if (body.dataset.ids === ids) return;
  body.dataset.ids = ids;
  body.replaceChildren(...renderFeed(state.requests));
  $("feed-empty").hidden = state.requests.length > 0;
}

function drawEvents() {
  $("events").replaceChildren(...renderEvents(state.events));
  $("events-empty").hidden = state.events.length > 0;
}

// -- reading -------------------------------------------------------------------------

async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return state.refreshing;
  }
  state.refreshing = (async () => {
    do {
      state.again = false;
      await readAll();
    } while (state.again && !state.stopped);
  })().finally(() => {
    state.refreshing = null;
  });
  return state.refreshing;
}

async function readAll() {
  try {
    // Polling the log is the fallback: while the stream is live its events feed the table.
    const poll = !state.live || !state.feedRead;
    const [status, requests] = await Promise.all([
      api("GET", "/v1/status"),
      poll ? api("GET", `/v1/requests?limit=${MAX_FEED}`).catch(() => null) : null,
    ]);
    state.offset = status.now - Date.now() / 1000;
    state.status = await withKeys(status);
    if (requests && Array.isArray(requests.requests)) {
      state.requests = mergeFeed(requests.requests, state.requests, MAX_FEED);
      state.feedRead = state.live;
    }
    connection("live", "ok");
    drawStatus();
    drawFeed();
    await readSessions();
  } catch (err) {
    if (err instanceof Refused) stop(`The proxy refused the token: ${err.message}. Open the page again with \`auto-router ui\`.`);
    else connection(`cannot reach the proxy (${err.message})`, "bad");
  }
}

/** Key pools, when the provider listing has them: joined into the status rows. */
async function withKeys(status) {
  const listing = await api("GET", "/v1/providers").catch(() => null);
  if (!listing || !Array.isArray(listing.providers)) return status;
  const keys = new Map(listing.providers.filter((p) => Array.isArray(p.keys)).map((p) => [`${p.backend}/${p.name}`, p.keys]));
  if (!keys.size) return status;
  for (const b of status.backends || []) {
    for (const p of b.providers || []) {
      const found = keys.get(`${b.name}/${p.name}`);
      if (found && !p.keys) p.keys = found;
    }
  }
  return status;
}

/** Draws `rows` into the table body `id` only when they changed (no flashing). */
function drawRows(id, rows, render) {
  const body = $(id);
  const text = JSON.stringify(rows);
  if (body.dataset.shown === text) return;
  body.dataset.shown = text;
  body.replaceChildren(...render(rows));
}

async function readSessions() {
  const found = await api("GET", "/v1/sessions").catch(() => null);
  const rows = (found && found.sessions) || [];
  drawRows("sessions-rows", rows, renderSessions);
  $("sessions-empty").hidden = rows.length > 0;
}

async function readRuns() {
  const found = await api("GET", "/v1/runs?limit=20").catch(() => null);
  const runs = (found && found.runs) || [];
  drawRows("runs", runs, renderRuns);
  $("runs-empty").hidden = runs.length > 0;
}

async function readStats() {
  try {
    const [summary, series] = await Promise.all([
      api("GET", `/v1/stats?since=${state.period}`),
      api("GET", `/v1/stats/series?since=${state.period}`).catch(() => null),
    ]);
    $("stats-rows").replaceChildren(...renderStats(summary, state.requests));
    $("stats-empty").hidden = (summary.providers || []).length > 0;
    const label = state.period === "1d" ? "last day, by hour" : "last hour, by 5 minutes";
    drawRows("charts", series ? series.providers : [], () => renderCharts(series, label));
  } catch (err) {
    if (err instanceof Refused) stop(`The proxy refused the token: ${err.message}`);
  }
}

async function follow() {
  while (!state.stopped) {
    try {
      const resp = await fetch("/v1/events?feed=1", {
        headers: { authorization: `Bearer ${state.token}` },
        cache: "no-store",
        credentials: "omit",
      });
      if (resp.status === 401 || resp.status === 403) {
        stop("The proxy refused the token for the event stream.");
        return;
      }
      if (!resp.ok || !resp.body) throw new Error(`events: ${resp.status}`);
      document.body.dataset.events = "open"; // tests wait for it; so can a reader
      state.live = true;
      state.feedRead = false; // what came while the stream was down is read once from the log
      refresh();
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parsed = parseSSE(buffer + value);
        buffer = parsed.rest;
        for (const message of parsed.events) onEvent(message);
      }
    } catch (err) {
      connection("reconnecting…", "warn");
    }
    document.body.dataset.events = "closed";
    state.live = false;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

function onEvent(message) {
  let data = {};
  try {
    data = JSON.parse(message.data);
  } catch {
    data = { message: message.data };
  }
  if (!data.kind) data.kind = message.event;
  if (data.kind === "request") {
    state.requests = mergeFeed([data], state.requests, MAX_FEED);
    drawFeed();
    return; // a request changes no provider's state: the rotation events say when one does
  }
  state.events.unshift(data);
  state.events.length = Math.min(state.events.length, MAX_EVENTS);
  drawEvents();
  refresh();
}

// -- steering ------------------------------------------------------------------------

const CHANGES_FILES = new Set(["enable", "disable", "enable-key", "disable-key"]);

function confirmChange(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.showModal();
    $("confirm-no").focus();
  });
}

async function act(button) {
  const { action, backend, provider } = button.dataset;
  const b = encodeURIComponent(backend || "");
  const p = encodeURIComponent(provider || "");
  const who = (provider ? `${backend}/${provider}` : backend) + (action.endsWith("-key") ? ` key ${button.dataset.key}` : "");
  if (CHANGES_FILES.has(action)) {
    const ok = await confirmChange(`${action.startsWith("enable") ? "Enable" : "Disable"} ${who}? This changes your configuration file (comments are kept).`);
    if (!ok) return;
  }
  button.disabled = true;
  try {
    if (action === "set-current") await api("PUT", "/v1/settings/active_provider", { backend, provider });
    else if (action === "rotate") await api("POST", `/v1/backends/${b}/rotate`);
    else if (action === "reset") await api("POST", `/v1/backends/${b}/reset`);
    else if (action === "reset-key") await api("POST", `/v1/providers/${b}/${p}/keys/${encodeURIComponent(button.dataset.key)}/reset`);
    else if (action === "enable-key" || action === "disable-key") await api("POST", `/v1/providers/${b}/${p}/keys/${encodeURIComponent(button.dataset.key)}/${action.replace("-key", "")}`);
    else if (action === "enable" || action === "disable") await api("POST", `/v1/providers/${b}/${p}/${action}`);
    else if (action === "test") await test(who, b, p);
    notice(action === "test" ? "" : `${who}: ${button.textContent.toLowerCase()} done`, "ok");
  } catch (err) {
    notice(`${who}: ${err.message}`);
  } finally {
    button.disabled = false;
    await refresh();
  }
}

async function test(who, b, p) {
  state.tests.set(who, { pending: true });
  drawStatus();
  try {
    state.tests.set(who, await api("POST", `/v1/providers/${b}/${p}/test`));
  } catch (err) {
    state.tests.set(who, { healthy: false, error: err.message });
  }
}

// -- start ---------------------------------------------------------------------------

function start() {
  state.token = takeToken();
  if (!state.token) {
    stop("No management token. Open this page with `auto-router ui`, which starts the proxy if needed and passes the token in the address (after #, never sent to any server).");
    return;
  }
  $("backends").addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (target) act(target);
  });
  for (const radio of document.querySelectorAll("input[name=period]")) {
    radio.addEventListener("change", () => {
      state.period = radio.value;
      readStats();
    });
  }
  refresh().then(() => Promise.all([readStats(), readRuns()]));
  follow();
  setInterval(() => !state.stopped && refresh(), POLL_MS);
  setInterval(() => {
    if (!state.stopped) readStats();
  }, STATS_MS);
  setInterval(() => !state.stopped && readRuns(), RUNS_MS);
  setInterval(() => state.status && tick($("backends"), serverNow()), 1000);
}

start();
