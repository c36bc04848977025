// The dashboard's pure logic: no DOM, no network, so tests can run each function alone
// (tests/ui/test_format.py calls them through a real browser's page.evaluate).
// Every function tolerates missing fields: the API grows (key pools, subscription windows,
// new event kinds) and the page must show what it gets, plainly, without a change here.

/** The management token in a URL fragment such as "#token=ara_x" (null when absent). */
export function tokenFromFragment(hash) {
  const text = String(hash || "").replace(/^#/, "");
  const value = new URLSearchParams(text).get("token");
  return value ? value : null;
}

/** "45s", "3m12s", "1h02m", "2d03h": the time left, never negative. */
export function countdown(seconds) {
  let s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s}s`;
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** "14:05" in the browser's time zone; with the date when it is not today. */
export function clockAt(ts, now) {
  const when = new Date(ts * 1000);
  const hm = `${String(when.getHours()).padStart(2, "0")}:${String(when.getMinutes()).padStart(2, "0")}`;
  const today = new Date(now * 1000);
  if (when.toDateString() === today.toDateString()) return hm;
  return `${when.getFullYear()}-${String(when.getMonth() + 1).padStart(2, "0")}-${String(when.getDate()).padStart(2, "0")} ${hm}`;
}

/** "12:03:59" for the live feed. */
export function timeOfDay(ts) {
  const d = new Date(ts * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** As the CLI writes costs: "$0.21", "$0.0042" for small sums, "?" when unknown. */
export function formatCost(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "?";
  const v = Number(value);
  if (v === 0 || v >= 0.1) return `$${v.toFixed(2)}`;
  if (v < 0.0001) return "<$0.0001"; // priced, just small: not "$0.0000", which reads as free
  return `$${v.toFixed(4)}`;
}

/** "950", "48.2k", "1.3M"; "-" when unknown. */
export function formatTokens(count) {
  if (count === null || count === undefined) return "-";
  const n = Number(count);
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** "412 ms", "2.3 s"; "-" when unknown. */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return "-";
  const v = Number(ms);
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;
}

/** The used fraction 0..1 of a window, from whatever it carries (null: cannot tell). */
export function usedFraction(w) {
  if (!w) return null;
  if (typeof w.utilization === "number") return clamp(w.utilization);
  if (typeof w.used_percent === "number") return clamp(w.used_percent / 100);
  if (typeof w.remaining === "number" && typeof w.limit === "number" && w.limit > 0) {
    return clamp(1 - w.remaining / w.limit);
  }
  return null;
}

function clamp(x) {
  return Math.min(1, Math.max(0, x));
}

/** What a headroom bar shows: any window name (requests, tokens, 5h, 7d, ...). */
export function windowView(w, now) {
  const name = String((w && w.name) || "window");
  const resetAt = w && typeof w.reset_at === "number" ? w.reset_at : null;
  if (w && (w.fresh === false || (resetAt !== null && resetAt <= now))) {
    // Past its reset: the provider has refilled it since it was read.
    const when = resetAt === null ? "" : ` at ${clockAt(resetAt, now)}`;
    return { name, used: 0, usedPercent: 0, detail: `full again (reset${when})`, reset: "", resetAt: null, level: "ok" };
  }
  const used = usedFraction(w);
  const left = used === null ? null : Math.round((1 - used) * 100);
  let detail = left === null ? "usage unknown" : `${left}% left`;
  if (w && typeof w.remaining === "number" && typeof w.limit === "number") {
    detail += ` (${w.remaining} of ${w.limit})`;
  }
  const reset = resetAt === null ? "" : resetText(resetAt, now);
  const level = left === null ? "unknown" : left <= 5 ? "low" : left <= 20 ? "warn" : "ok";
  return { name, used, usedPercent: used === null ? null : Math.round(used * 100), detail, reset, resetAt, level };
}

/** "resets in 3m12s (14:05)" */
export function resetText(resetAt, now) {
  return `resets in ${countdown(resetAt - now)} (${clockAt(resetAt, now)})`;
}

/** One word for where a provider (or a key) stands, and the time its state ends. */
export function providerState(p, now) {
  if (!p) return { label: "unknown", kind: "unknown", until: null };
  // a provider turned off, or a pool key in its disabled_keys
  if (p.enabled === false || p.disabled === true) return { label: "disabled", kind: "disabled", until: null };
  const cooling = typeof p.cooldown_until === "number" && p.cooldown_until > now;
  if (cooling) return { label: "cooling", kind: "cooling", until: p.cooldown_until };
  if (p.circuit === "open") {
    const until = typeof p.circuit_until === "number" ? p.circuit_until : null;
    return { label: "circuit open", kind: "circuit", until };
  }
  if (p.circuit === "half-open") return { label: "circuit half-open", kind: "circuit", until: null };
  if (p.current) return { label: "current", kind: "current", until: null };
  return { label: String(p.status || "ready"), kind: "ready", until: null };
}

/** The text beside a state that ends: "back in 3m12s (14:05)". */
export function untilText(until, now) {
  if (typeof until !== "number") return "";
  return `back in ${countdown(until - now)} (${clockAt(until, now)})`;
}

/** "overflowing to two, back at 14:05" for the preferred provider of a priority backend. */
export function overflowText(overflow, now) {
  if (!overflow || !overflow.to) return "";
  let text = `overflowing to ${overflow.to}`;
  if (typeof overflow.back_at === "number") text += `, back at ${clockAt(overflow.back_at, now)}`;
  return text;
}

/** The cells of one row of the live feed, in the table's column order. */
export function requestCells(r) {
  const failed = Array.isArray(r.failed) ? r.failed : [];
  let model = r.client_model || "-";
  if (r.upstream_model && r.upstream_model !== r.client_model) model += ` → ${r.upstream_model}`;
  return [
    typeof r.ts === "number" ? timeOfDay(r.ts) : "-",
    `${r.endpoint || "-"}${r.stream ? " (stream)" : ""}`,
    `${r.backend || "-"}/${r.provider || "-"}`,
    model,
    r.status === undefined || r.status === null ? "-" : String(r.status),
    formatMs(r.duration_ms),
    formatTokens(r.total_tokens),
    formatCost(r.cost_usd),
    failed.length ? failed.map((f) => `${f.provider || "?"} (${f.status || f.reason || "?"})`).join(", ") : "",
  ];
}

/** One request's identity in the feed, whether it came from the log or the event stream
 * (the log's row id is not in the event): its time, endpoint, status and who answered. */
export function feedKey(r) {
  return [r.ts, r.endpoint, r.status, r.backend, r.provider, r.duration_ms].join("|");
}

/** `fresh` rows (newest first, or one new event) merged into `rows`: newest first, each
 * request once, at most `max`. */
export function mergeFeed(fresh, rows, max) {
  const seen = new Set();
  const out = [];
  for (const r of [...fresh, ...rows]) {
    const key = feedKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  out.sort((a, b) => (Number(b.ts) || 0) - (Number(a.ts) || 0));
  return out.slice(0, max);
}

/** Known event kinds get a plain label; an unknown kind is shown as it is named. */
const EVENT_LABELS = {
  rotation: "rotation",
  exhaustion: "all cooling",
  recovery: "recovery",
  circuit: "circuit",
  threshold: "threshold",
  reset: "window reset",
  return: "back to preferred",
  dropped: "missed events",
};

export function eventCells(e) {
  const kind = String(e.kind || "event");
  const where = [e.backend, e.provider].filter(Boolean).join("/");
  let message = e.message ? String(e.message) : "";
  if (!message && kind === "dropped") message = `${e.missed ?? "some"} events were missed`;
  return [typeof e.ts === "number" ? timeOfDay(e.ts) : "-", EVENT_LABELS[kind] || kind, where || "-", message];
}

/**
 * Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * the complete messages in `buffer`, and what is left for the next chunk. Comments
 * (": heartbeat") are skipped; a message's data lines are joined with newlines.
 */
export function parseSSE(buffer) {
  const events = [];
  const text = buffer.replace(/\r\n?/g, "\n");
  const parts = text.split("\n\n");
  const rest = parts.pop();
  for (const block of parts) {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** A provider's key pool rows, whatever the API calls them (none: an empty list). */
export function keysOf(p) {
  const keys = p && (p.keys || p.api_keys);
  if (!Array.isArray(keys)) return [];
  return keys
    .filter((k) => k && typeof k === "object")
    .map((k, i) => ({ ...k, id: String(k.id ?? i), masked: String(k.masked ?? k.id ?? `key ${i + 1}`) }));
}

/** Per-provider summary rows of one /v1/stats answer, by "backend/provider", sorted. */
export function statsRows(summary) {
  const key = (s) => `${s.backend || "-"}/${s.provider || "-"}`;
  return ((summary && summary.providers) || [])
    .map((s) => ({ name: key(s), stats: s }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A summary's cells: requests, errors, failovers, p50, p95, tokens, cost. */
export function statCells(s) {
  if (!s) return ["0", "-", "-", "-", "-", "-", "-"];
  return [
    String(s.requests ?? 0),
    String(s.errors ?? 0),
    String(s.failovers ?? 0),
    formatMs(s.p50_ms),
    formatMs(s.p95_ms),
    formatTokens(s.total_tokens),
    formatCost(s.cost_usd),
  ];
}

/** The points of an SVG polyline for `values` in a width x height box (empty: none). */
export function sparkline(values, width, height) {
  const nums = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  if (nums.length < 2) return "";
  const max = Math.max(...nums) || 1;
  const step = width / (nums.length - 1);
  return nums
    .map((v, i) => `${(i * step).toFixed(1)},${(height - (v / max) * (height - 2) - 1).toFixed(1)}`)
    .join(" ");
}

/** A session row: its short hash, what it is, where it is routed, who serves it, since. */
export function sessionCells(s) {
  const what = s.kind === "run" ? `run ${s.run_id || "(ended)"}${s.command ? ` · ${s.command}` : ""}` : "client session";
  const served = `${s.backend || "-"}/${s.provider || "-"}${s.key_id ? ` (key ${s.key_id})` : ""}`;
  return [String(s.id || "?"), what, String(s.routed || "-"), served, typeof s.last_seen === "number" ? timeOfDay(s.last_seen) : "-"];
}

/** A run's head: when, its id, command, backend, attempts, outcome. */
export function runCells(r) {
  const when = typeof r.started_at === "number" ? `${dayOf(r.started_at)} ${clockAt(r.started_at, r.started_at)}` : "-";
  const attempts = `${r.attempts ?? 0} attempt${r.attempts === 1 ? "" : "s"}`;
  const exit = r.exit_code === null || r.exit_code === undefined ? "" : `, exit ${r.exit_code}`;
  return [when, String(r.run_id || "-"), String(r.command || "-"), String(r.backend || "-"), attempts, `${r.outcome || "?"}${exit}`];
}

function dayOf(ts) {
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** The bars of a chart of `values` in a width x height box: [{x, y, w, h}], one per value
 * (a value of 0 or unknown: no height). `top` reaches the top (default: the tallest). */
export function bars(values, width, height, top) {
  const nums = values.map((v) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0));
  const max = typeof top === "number" ? top : Math.max(0, ...nums);
  const step = nums.length ? width / nums.length : 0;
  return nums.map((v, i) => {
    const h = max ? (v / max) * height : 0;
    return { x: +(i * step).toFixed(2), y: +(height - h).toFixed(2), w: +Math.max(step - 1, 1).toFixed(2), h: +h.toFixed(2) };
  });
}

/** The charts of one provider's series (GET /v1/stats/series): name, the values per slice,
 * how a value reads, and the period's total (or peak) said in words for a screen reader. */
export function chartsOf(series) {
  const buckets = (series && series.buckets) || [];
  const pick = (field) => buckets.map((b) => (typeof b[field] === "number" ? b[field] : null));
  const sum = (values) => values.reduce((a, v) => a + (v || 0), 0);
  const peak = (values) => Math.max(0, ...values.map((v) => v || 0));
  const requests = pick("requests");
  const errors = pick("errors");
  const tokens = pick("total_tokens");
  const costs = pick("cost_usd");
  const p50 = pick("p50_ms");
  const p95 = pick("p95_ms");
  const priced = costs.every((c, i) => c !== null || !requests[i]);
  return [
    { name: "requests", values: requests, over: errors, total: `${sum(requests)} requests, ${sum(errors)} errors` },
    { name: "latency", values: p95, over: p50, total: `p95 up to ${formatMs(peak(p95) || null)}, p50 up to ${formatMs(peak(p50) || null)}` },
    { name: "tokens", values: tokens, over: null, total: `${formatTokens(sum(tokens))} tokens` },
    { name: "cost", values: costs, over: null, total: priced ? formatCost(sum(costs)) : "cost unknown (no price)" },
  ];
}

/** The message of an API error body, or the status when there is none. */
export function errorMessage(status, body) {
  const error = body && body.error;
  if (error && error.message) return error.hint ? `${error.message} (${error.hint})` : String(error.message);
  return `the proxy answered ${status}`;
}
