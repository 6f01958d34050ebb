// Worker portal, Today: vitals from the readings API every few seconds, and
// alerts live from /ws/alerts/, with the plain-words status recomputed by the
// same table as the server's (workers/portal_status.py).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("portal-live").textContent);
  const labels = config.labels;
  const table = config.status;
  const t = (group, key) => (labels[group] && labels[group][key]) || key;
  const liveState = document.getElementById("live-state");
  const card = document.getElementById("status");
  const cardText = document.getElementById("status-text");
  const list = document.getElementById("alert-list");
  const updated = document.getElementById("updated");
  const POLL_MS = 5000;
  const WINDOW_MS = 10 * 60 * 1000;

  // --- alerts and status ---------------------------------------------------
  const open = new Map();
  for (const item of list.querySelectorAll("li[data-id]")) {
    const d = item.dataset;
    open.set(d.id, { id: Number(d.id), kind: d.kind, severity: d.severity, status: d.status, message: d.message, opened_at: d.opened });
  }
  const rank = (alert) => table.rank[alert.severity] || 0;
  const order = (alert) => {
    const index = table.order.indexOf(alert.kind);
    return index < 0 ? table.order.length : index;
  };
  const sorted = () => [...open.values()].sort((a, b) => rank(b) - rank(a) || order(a) - order(b) || a.opened_at.localeCompare(b.opened_at));

  function showStatus() {
    if (card.dataset.tone === "off") return; // no consent: the server's words stand
    const worst = sorted()[0];
    const tone = worst ? table.tone[worst.severity] : "ok";
    card.dataset.tone = tone;
    card.className = `status-card tone-${tone}`;
    cardText.textContent = worst ? table.advice[worst.kind] || table.fallback : table.ok;
  }

  function time(iso) {
    return new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
  }

  function showAlerts() {
    const items = sorted().map((alert) => {
      const item = document.createElement("li");
      item.className = `sev-${alert.severity}`;
      item.dataset.id = alert.id;
      const badge = document.createElement("span");
      badge.className = `badge sev-${alert.severity}`;
      badge.textContent = t("severity", alert.severity);
      const kind = document.createElement("strong");
      kind.textContent = t("kind", alert.kind);
      const advice = document.createElement("p");
      advice.textContent = t("message", alert.message);
      const when = document.createElement("small");
      when.className = "muted";
      when.textContent = `${time(alert.opened_at)} · ${t("status", alert.status)}`;
      item.append(badge, " ", kind, advice, when);
      return item;
    });
    if (!items.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = config.text.no_alerts;
      items.push(empty);
    }
    list.replaceChildren(...items);
  }

  function apply(alert) {
    if (alert.worker !== config.worker) return;
    if (alert.status === "resolved") open.delete(String(alert.id));
    else open.set(String(alert.id), alert);
    showAlerts();
    showStatus();
  }

  async function resync() {
    // What happened while the socket was down.
    try {
      const response = await fetch(config.alerts, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      open.clear();
      for (const alert of await response.json()) if (alert.status !== "resolved") open.set(String(alert.id), alert);
      showAlerts();
      showStatus();
    } catch (error) {
      /* the next reconnection tries again */
    }
  }

  let retry = 1000;
  function connect() {
    const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${config.stream}`);
    socket.addEventListener("open", () => {
      retry = 1000;
      liveState.textContent = `● ${config.text.live}`;
      resync();
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "notice") {
        // The page holds the notice's text, hidden until one is posted: it
        // is the same for every notice, so only its showing is live.
        const notice = document.getElementById("site-notice");
        if (notice) notice.hidden = false;
        return;
      }
      if (message.type !== "alert") return;
      apply(message.alert);
      if (message.change === "opened" && navigator.vibrate) navigator.vibrate([200, 100, 200]);
    });
    socket.addEventListener("close", (event) => {
      liveState.textContent = config.text.reconnecting;
      if (event.code === 4403) return; // signed out, or not a worker: nothing to wait for
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }
  connect();

  // --- vitals ----------------------------------------------------------------
  if (!config.poll) return;
  const tiles = {};
  for (const element of document.querySelectorAll("[data-metric]")) tiles[element.dataset.metric] = element;
  const seen = {};
  for (const [metric, element] of Object.entries(tiles)) if (element.dataset.at) seen[metric] = Date.parse(element.dataset.at);
  const dayStart = Date.parse(config.day_start);
  const stepsTile = tiles.steps;
  let steps = Number(stepsTile.dataset.total) || 0;
  let since = Math.max(Date.parse(config.since) || 0, Date.now() - WINDOW_MS);
  const format = (metric, value) =>
    Number(value).toLocaleString(document.documentElement.lang || undefined, { maximumFractionDigits: metric.endsWith("temp") ? 1 : 0 });

  function show(metric, value) {
    const element = tiles[metric];
    if (!element) return;
    const target = element.querySelector(".value") || element;
    target.textContent = format(metric, value);
  }

  function markStale() {
    const now = Date.now();
    for (const [metric, element] of Object.entries(tiles)) {
      if (!element.classList.contains("vital") || metric === "steps") continue;
      element.classList.toggle("stale", !seen[metric] || now - seen[metric] > config.stale_after_s * 1000);
    }
  }

  async function poll() {
    if (document.hidden) return;
    if (Date.now() - dayStart >= 24 * 3600 * 1000) {
      location.reload(); // a new day: a new step count and check-in
      return;
    }
    const from = new Date(Math.max(since, Date.now() - WINDOW_MS)).toISOString();
    try {
      const response = await fetch(`${config.readings}?from=${encodeURIComponent(from)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const body = await response.json();
      let newest = 0;
      for (const point of body.points) {
        const at = Date.parse(point.at);
        newest = Math.max(newest, at);
        if (at <= (seen[point.metric] || 0)) continue; // 'from' is inclusive: seen already
        if (point.metric === "steps" && at >= dayStart) steps += point.value;
        seen[point.metric] = at;
        show(point.metric, point.value);
      }
      show("steps", steps);
      if (newest) {
        since = newest;
        updated.textContent = time(new Date(newest).toISOString());
      }
      markStale();
    } catch (error) {
      /* offline for a moment: the next poll tries again */
    }
  }
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  poll();
})();
