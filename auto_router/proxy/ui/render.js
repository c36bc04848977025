// DOM builders. Every piece of data goes in as text (textContent, attribute values), never
// as markup: a provider's name or an upstream's error message cannot become HTML here.
import {
  bars,
  chartsOf,
  eventCells,
  keysOf,
  overflowText,
  providerState,
  requestCells,
  resetText,
  runCells,
  sessionCells,
  sparkline,
  statCells,
  statsRows,
  untilText,
  windowView,
} from "./format.js";

const SVG = "http://www.w3.org/2000/svg";

/** el("p", {class: "x", "data-until": 5}, "text", child...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A text that counts down on the page's clock: app.js's tick rewrites it every second. */
function ticking(until, now, prefix = "") {
  return el("span", { class: "ticking", "data-until": until, "data-prefix": prefix }, prefix + untilText(until, now));
}

export function tick(root, now) {
  for (const node of root.querySelectorAll(".ticking[data-until]")) {
    const text = node.dataset.prefix + untilText(Number(node.dataset.until), now);
    if (node.textContent !== text) node.textContent = text;
  }
  for (const node of root.querySelectorAll(".resets[data-reset]")) {
    const text = resetText(Number(node.dataset.reset), now);
    if (node.textContent !== text) node.textContent = text;
  }
}

function bar(w, now) {
  const view = windowView(w, now);
  const left = view.usedPercent === null ? null : 100 - view.usedPercent;
  const fill = el("div", { class: `fill ${view.level}` });
  // CSSOM, not a style attribute: the policy allows no inline styles.
  fill.style.width = `${left ?? 0}%`;
  const meter = el(
    "div",
    {
      class: "bar",
      role: "meter",
      "aria-label": `${view.name} left`,
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": left ?? 0,
      "data-window": view.name,
      "data-used": view.usedPercent ?? "",
    },
    fill,
  );
  const reset = view.resetAt === null ? null : el("span", { class: "resets", "data-reset": view.resetAt }, view.reset);
  return el(
    "li",
    { class: "window" },
    el("span", { class: "wname" }, view.name),
    meter,
    el("span", { class: "wdetail" }, view.detail),
    reset,
  );
}

function stateBadge(item, now) {
  const state = providerState(item, now);
  const badge = el("span", { class: `badge ${state.kind}`, "data-state": state.kind }, state.label);
  const until = state.until === null ? null : ticking(state.until, now, " ");
  return [badge, until];
}

function button(label, action, data, extra = {}) {
  return el("button", { type: "button", "data-action": action, ...data, ...extra }, label);
}

function keyTroubled(k, now) {
  const state = providerState(k, now).kind;
  return state === "cooling" || state === "circuit";
}

function keyRows(backend, p, now) {
  const keys = keysOf(p);
  if (!keys.length) return null;
  return el(
    "ul",
    { class: "keys", "aria-label": `keys of ${p.name}` },
    ...keys.map((k) =>
      el(
        "li",
        { class: "key", "data-key": k.id },
        el("code", {}, k.masked),
        ...stateBadge(k, now),
        k.problem ? el("span", { class: "reason" }, String(k.problem)) : null,
        // A key that cooled down or tripped its circuit can be put back at once.
        keyTroubled(k, now)
          ? button("Reset key", "reset-key", { "data-backend": backend.name, "data-provider": p.name, "data-key": k.id }, { "aria-label": `reset key ${k.masked}` })
          : null,
        // In or out of disabled_keys: a change of the file, confirmed first (app.js).
        k.id
          ? button(
              k.disabled ? "Enable key" : "Disable key",
              k.disabled ? "enable-key" : "disable-key",
              { "data-backend": backend.name, "data-provider": p.name, "data-key": k.id },
              { "aria-label": `${k.disabled ? "enable" : "disable"} key ${k.masked}` },
            )
          : null,
        Array.isArray(k.headroom) && k.headroom.length
          ? el("ul", { class: "windows" }, ...k.headroom.map((w) => bar(w, now)))
          : null,
      ),
    ),
  );
}

function providerCard(backend, p, now, tested) {
  const data = { "data-backend": backend.name, "data-provider": p.name };
  const head = el(
    "div",
    { class: "phead" },
    el("h4", {}, p.name),
    ...stateBadge(p, now),
    el("span", { class: "ptype" }, [p.type, p.model].filter(Boolean).join(" · ")),
  );
  const overflow =
    backend.overflow && backend.overflow.from === p.name
      ? el("p", { class: "overflow" }, overflowText(backend.overflow, now))
      : null;
  const reason = p.cooldown_reason ? el("p", { class: "reason" }, `reason: ${String(p.cooldown_reason).slice(0, 200)}`) : null;
  const windows = Array.isArray(p.headroom) && p.headroom.length
    ? el("ul", { class: "windows", "aria-label": `headroom of ${p.name}` }, ...p.headroom.map((w) => bar(w, now)))
    : null;
  const result = tested ? testLine(tested) : null;
  const actions = el(
    "div",
    { class: "actions" },
    p.current || p.enabled === false ? null : button("Set current", "set-current", data),
    button("Test", "test", data),
    p.enabled === false
      ? button("Enable", "enable", data)
      : button("Disable", "disable", data),
  );
  return el(
    "li",
    { class: `provider ${providerState(p, now).kind}`, ...data },
    head,
    p.description ? el("p", { class: "desc" }, p.description) : null,
    overflow,
    reason,
    windows,
    keyRows(backend, p, now),
    result,
    actions,
  );
}

function testLine(r) {
  if (r.pending) return el("p", { class: "test", role: "status" }, "testing…");
  const parts = [r.healthy ? "healthy" : "unhealthy"];
  if (typeof r.latency_ms === "number") parts.push(`${Math.round(r.latency_ms)} ms`);
  if (typeof r.models === "number") parts.push(`${r.models} models`);
  if (r.error) parts.push(String(r.error));
  return el("p", { class: `test ${r.healthy ? "ok" : "bad"}`, role: "status" }, `test: ${parts.join(", ")}`);
}

export function renderBackends(status, tests) {
  const now = status.now;
  const backends = status.backends || [];
  if (!backends.length) return [el("p", {}, "No backends are configured. `auto-router config init` writes starter files.")];
  return backends.map((b) => {
    const data = { "data-backend": b.name };
    const title = el(
      "div",
      { class: "bhead" },
      el("h3", {}, b.name),
      b.enabled === false ? el("span", { class: "badge disabled" }, "disabled") : null,
      b.default ? el("span", { class: "tag" }, "default") : null,
      el("span", { class: "tag" }, String(b.strategy || "sticky")),
      el("span", { class: "current" }, b.current ? `current: ${b.current}` : "no current provider"),
      el("span", { class: "actions" }, button("Rotate", "rotate", data), button("Reset", "reset", data)),
    );
    const list = (b.providers || []).length
      ? el("ul", { class: "providers" }, ...b.providers.map((p) => providerCard(b, p, now, tests.get(`${b.name}/${p.name}`))))
      : el("p", {}, "No providers: fallback mode, no rotation.");
    return el("article", { class: "backend", ...data }, title, list);
  });
}

export function renderFeed(rows) {
  return rows.map((r) =>
    el(
      "tr",
      { "data-id": r.id ?? "", class: r.status >= 400 ? "error" : (r.failed || []).length ? "failover" : "" },
      ...requestCells(r).map((cell, i) => el("td", { "data-col": i }, cell)),
    ),
  );
}

export function renderEvents(events) {
  return events.map((e) => el("li", { "data-kind": String(e.kind || "event") }, ...eventCells(e).map((c, i) => el("span", { class: `e${i}` }, c))));
}

function spark(values) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 80 20");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "latency of recent requests");
  const points = sparkline(values, 80, 20);
  if (points) {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points);
    svg.append(line);
  }
  return svg;
}

export function renderStats(summary, recent) {
  return statsRows(summary).map((row) => {
    const mine = recent.filter((r) => `${r.backend || "-"}/${r.provider || "-"}` === row.name);
    const latencies = mine.map((r) => r.duration_ms).reverse();
    return el(
      "tr",
      { "data-provider": row.name },
      el("th", { scope: "row" }, row.name),
      ...statCells(row.stats).map((c) => el("td", {}, c)),
      el("td", {}, spark(latencies)),
    );
  });
}

export function renderSessions(rows) {
  return rows.map((s) =>
    el("tr", { "data-session": s.id }, ...sessionCells(s).map((c, i) => el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {}, el("span", {}, c)))),
  );
}

export function renderRuns(runs) {
  return runs.map((r) => {
    const cells = runCells(r);
    const lines = Array.isArray(r.summary) ? r.summary : [];
    return el(
      "li",
      { class: `run ${r.outcome === "ok" ? "ok" : "bad"}`, "data-run": String(r.run_id || "") },
      el("div", { class: "rhead" }, ...cells.map((c, i) => el("span", { class: `r${i}` }, c))),
      lines.length ? el("ul", { class: "summary" }, ...lines.map((line) => el("li", {}, String(line)))) : null,
    );
  });
}

function barChart(chart, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 120 32");
  svg.setAttribute("class", `chart ${chart.name}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${chart.name}, ${label}: ${chart.total}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const main = bars(chart.values, 120, 32);
  // The second series (errors among requests, p50 under p95) on the first's scale.
  const max = Math.max(0, ...chart.values.map((v) => v || 0));
  const over = chart.over ? bars(chart.over, 120, 32, max) : [];
  for (const [rects, kind] of [[main, "v"], [over, "o"]]) {
    for (const r of rects) {
      if (!r.h) continue;
      const rect = document.createElementNS(SVG, "rect");
      for (const [k, v] of Object.entries({ x: r.x, y: r.y, width: r.w, height: r.h })) rect.setAttribute(k, String(v));
      rect.setAttribute("class", kind);
      svg.append(rect);
    }
  }
  return svg;
}

/** Per provider, its charts over the period: requests (errors in red), latency (p95, p50
 * inside), tokens, cost. */
export function renderCharts(found, label) {
  return ((found && found.providers) || []).map((series) => {
    const name = `${series.backend || "-"}/${series.provider || "-"}`;
    return el(
      "li",
      { class: "pcharts", "data-provider": name },
      el("h3", {}, name),
      ...chartsOf(series).map((chart) =>
        el("figure", { "data-chart": chart.name }, barChart(chart, label), el("figcaption", {}, `${chart.name}: ${chart.total}`)),
      ),
    );
  });
}
