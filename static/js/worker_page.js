// Worker page: live vitals (polled, and at once on this worker's alert
// events), and one uPlot chart per metric over an hour, day, week or month
// from the readings API's server-side buckets, with the worker's alerts as
// bands and check-ins, falls and SOS presses as marks on the same time line.
(function () {
  "use strict";
  const root = document.getElementById("worker-page");
  if (!root || !window.uPlot) return;
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const api = root.dataset.api;
  const lang = document.documentElement.lang || undefined;
  const metricInfo = Object.fromEntries(data.metrics.map((m) => [m.name, m]));
  const eventMetrics = new Set(data.metrics.filter((m) => m.event).map((m) => m.name));
  const chartsBox = document.getElementById("charts");
  const chartsStatus = document.getElementById("charts-status");
  const vitals = document.getElementById("vitals");
  const updated = document.getElementById("updated");
  const openAlerts = document.getElementById("open-alerts");
  const SEVERITY_FILL = {
    critical: "rgba(180, 35, 24, 0.20)",
    urgent: "rgba(232, 89, 12, 0.18)",
    warning: "rgba(245, 197, 66, 0.30)",
    info: "rgba(11, 107, 203, 0.10)",
  };
  const timeOfDay = new Intl.DateTimeFormat(lang, {
    timeZone: data.tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  const label = (group, key) => (data.labels[group] && data.labels[group][key]) || key;

  // --- live vitals ------------------------------------------------------------
  let since = 0; // newest reading shown, epoch seconds
  for (const at of vitals.querySelectorAll("[data-at]")) since = Math.max(since, Number(at.dataset.at));

  function tile(metric) {
    let el = vitals.querySelector(`.tile[data-metric="${metric}"]`);
    if (el) return el;
    const empty = vitals.querySelector(".empty");
    if (empty) empty.remove();
    el = document.createElement("div");
    el.className = "tile";
    el.dataset.metric = metric;
    el.innerHTML = '<span class="label"></span><span><span class="value"></span> <span class="unit"></span></span><time class="at"></time>';
    el.querySelector(".label").textContent = metricInfo[metric].label;
    el.querySelector(".unit").textContent = metricInfo[metric].unit;
    vitals.appendChild(el);
    return el;
  }

  function markStale() {
    const now = Date.now() / 1000;
    for (const at of vitals.querySelectorAll("time[data-at]")) {
      at.closest(".tile").classList.toggle("stale", now - Number(at.dataset.at) > 300);
    }
  }

  async function pollVitals() {
    if (document.hidden) return;
    const from = since ? Math.floor(since * 1000) + 1 : Date.now() - 10 * 60 * 1000;
    let body;
    try {
      const response = await fetch(`${api}?from=${from}`, { credentials: "same-origin" });
      if (!response.ok) return;
      body = await response.json();
    } catch (e) {
      return;
    }
    const newest = {};
    for (const point of body.points) {
      if (!eventMetrics.has(point.metric) && metricInfo[point.metric]) newest[point.metric] = point;
    }
    for (const [metric, point] of Object.entries(newest)) {
      const at = Date.parse(point.at) / 1000;
      const el = tile(metric);
      el.querySelector(".value").textContent = Number(point.value).toLocaleString(lang, { maximumFractionDigits: 1 });
      const time = el.querySelector(".at");
      time.dataset.at = at;
      time.textContent = timeOfDay.format(new Date(at * 1000));
      since = Math.max(since, at);
    }
    markStale();
    updated.textContent = new Date().toLocaleTimeString(lang);
  }

  // --- charts -------------------------------------------------------------------
  let range = data.ranges[0];
  let window_ = { from: 0, to: 0 };
  let events = []; // fall and SOS times in the window, epoch seconds
  const charts = new Map(); // metric -> { plot, figure }

  function seconds(resolution) {
    const unit = { s: 1, m: 60, h: 3600, d: 86400 }[resolution.slice(-1)];
    return Number(resolution.slice(0, -1)) * unit;
  }

  // Buckets -> uPlot columns, with a null wherever buckets are missing so that
  // a gap in the data shows as a gap, not as a line across it.
  function columns(buckets, step) {
    const xs = [], mins = [], means = [], maxs = [];
    let previous = null;
    for (const b of buckets) {
      const x = Date.parse(b.start) / 1000;
      if (previous !== null && x - previous > step * 1.5) {
        xs.push(previous + step); mins.push(null); means.push(null); maxs.push(null);
      }
      xs.push(x); mins.push(b.min); means.push(b.mean); maxs.push(b.max);
      previous = x;
    }
    return [xs, mins, means, maxs];
  }

  function xPos(u, t) {
    return Math.min(Math.max(u.valToPos(t, "x", true), u.bbox.left), u.bbox.left + u.bbox.width);
  }

  function vertical(u, t, colour, dash) {
    if (t < window_.from || t > window_.to) return;
    const ctx = u.ctx;
    const x = Math.round(xPos(u, t));
    ctx.save();
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    ctx.restore();
  }

  const timeline = {
    hooks: {
      // Alert bands under the series...
      drawClear: [
        (u) => {
          const ctx = u.ctx;
          const now = Date.now() / 1000;
          for (const alert of data.alerts) {
            const end = alert.to === null ? now : alert.to;
            if (end < window_.from || alert.from > window_.to) continue;
            const x0 = xPos(u, alert.from);
            const x1 = xPos(u, end);
            ctx.fillStyle = SEVERITY_FILL[alert.severity] || SEVERITY_FILL.info;
            ctx.fillRect(x0, u.bbox.top, Math.max(x1 - x0, 2 * devicePixelRatio), u.bbox.height);
          }
        },
      ],
      // ...check-ins and events over them.
      draw: [
        (u) => {
          for (const c of data.checkins) {
            vertical(u, c.at, c.temperature >= 37.5 || c.symptoms > 0 ? "#e8590c" : "#2b8a3e", [4 * devicePixelRatio, 3 * devicePixelRatio]);
          }
          for (const t of events) vertical(u, t, "#b42318", []);
        },
      ],
    },
  };

  function chartWidth() {
    const first = chartsBox.querySelector("figure");
    return Math.max(280, Math.floor((first || chartsBox).clientWidth) - 4);
  }

  // Axis and legend times in the site's time zone, 24-hour, in the page's language.
  const hourMinute = new Intl.DateTimeFormat(lang, { timeZone: data.tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const monthDay = new Intl.DateTimeFormat(lang, { timeZone: data.tz, month: "2-digit", day: "2-digit" });
  const full = new Intl.DateTimeFormat(lang, {
    timeZone: data.tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function axisTimes(u, splits) {
    const span = window_.to - window_.from;
    return splits.map((t) => (span > 86400 ? monthDay : hourMinute).format(new Date(t * 1000)));
  }

  function makeChart(metric, cols) {
    const info = metricInfo[metric];
    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.dataset.metric = metric;
    const caption = document.createElement("figcaption");
    caption.textContent = `${info.label} (${info.unit})`;
    figure.appendChild(caption);
    chartsBox.appendChild(figure);
    const line = "#0b6bcb";
    const edge = "rgba(11, 107, 203, 0.35)";
    const plot = new uPlot(
      {
        width: chartWidth(),
        height: 170,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), data.tz),
        scales: { x: { time: true, range: () => [window_.from, window_.to] } },
        series: [
          { label: label("stat", "time"), value: (u, t) => (t === null ? "--" : full.format(new Date(t * 1000))) },
          { label: label("stat", "min"), stroke: edge, width: 1, points: { show: false } },
          { label: label("stat", "mean"), stroke: line, width: 2, points: { show: false } },
          { label: label("stat", "max"), stroke: edge, width: 1, points: { show: false } },
        ],
        bands: [{ series: [3, 1], fill: "rgba(11, 107, 203, 0.12)" }],
        axes: [{ values: axisTimes, space: 60 }, { size: 48 }],
        plugins: [timeline],
      },
      cols,
      figure,
    );
    return { plot, figure };
  }

  let loading = 0;
  let loadedAt = 0;
  async function loadRange() {
    const ticket = ++loading;
    const to = Date.now();
    const from = to - range.span * 1000;
    let body;
    try {
      const response = await fetch(`${api}?from=${from}&to=${to}&resolution=${range.resolution}`, {
        credentials: "same-origin",
      });
      if (!response.ok) return;
      body = await response.json();
    } catch (e) {
      return;
    }
    if (ticket !== loading) return; // a newer range was asked for meanwhile
    loadedAt = Date.now();
    window_ = { from: from / 1000, to: to / 1000 };
    const byMetric = {};
    for (const b of body.buckets) (byMetric[b.metric] = byMetric[b.metric] || []).push(b);
    events = [];
    for (const name of eventMetrics) for (const b of byMetric[name] || []) events.push(Date.parse(b.start) / 1000);
    const step = seconds(range.resolution);
    const shown = data.metrics.filter((m) => !m.event && byMetric[m.name]).map((m) => m.name);
    for (const [metric, chart] of charts) {
      if (!shown.includes(metric)) {
        chart.plot.destroy();
        chart.figure.remove();
        charts.delete(metric);
      }
    }
    for (const metric of shown) {
      const cols = columns(byMetric[metric], step);
      const chart = charts.get(metric);
      if (chart) chart.plot.setData(cols);
      else charts.set(metric, makeChart(metric, cols));
    }
    // Keep the protocol's order of metrics, and fit the charts to the grid
    // now that it has all of them.
    for (const metric of shown) chartsBox.appendChild(charts.get(metric).figure);
    fit();
    chartsStatus.textContent = shown.length ? "" : root.dataset.empty;
  }

  function redraw() {
    for (const { plot } of charts.values()) plot.redraw(false);
  }

  for (const button of document.querySelectorAll("#ranges [data-range]")) {
    button.addEventListener("click", () => {
      range = data.ranges.find((r) => r.key === button.dataset.range);
      for (const other of document.querySelectorAll("#ranges [data-range]")) {
        other.setAttribute("aria-pressed", other === button ? "true" : "false");
      }
      loadRange();
    });
  }

  function fit() {
    const width = chartWidth();
    for (const { plot } of charts.values()) if (plot.width !== width) plot.setSize({ width, height: 170 });
  }
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(fit, 150);
  });

  // --- this worker's alerts, live -------------------------------------------------
  function showAlert(alert) {
    const entry = {
      id: alert.id,
      kind: alert.kind,
      severity: alert.severity,
      status: alert.status,
      from: Date.parse(alert.opened_at) / 1000,
      to: alert.resolved_at ? Date.parse(alert.resolved_at) / 1000 : null,
    };
    const index = data.alerts.findIndex((a) => a.id === alert.id);
    if (index >= 0) data.alerts[index] = entry;
    else data.alerts.push(entry);
    let item = openAlerts.querySelector(`li[data-id="${alert.id}"]`);
    if (alert.status === "resolved") {
      if (item) item.remove();
    } else {
      if (!item) {
        item = document.createElement("li");
        item.dataset.id = alert.id;
        openAlerts.prepend(item);
        item.classList.add("flash");
      }
      item.textContent = "";
      const badge = document.createElement("span");
      badge.className = `badge sev-${alert.severity}`;
      badge.textContent = label("severity", alert.severity);
      item.append(badge, ` ${label("kind", alert.kind)} · ${label("message", alert.message)}`);
    }
    redraw();
  }

  let backoff = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.stream}`);
    socket.onopen = () => { backoff = 1000; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "alert" || message.alert.worker !== data.worker) return;
      showAlert(message.alert);
      pollVitals();
    };
    socket.onclose = () => {
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }

  // Every poll is a read of health data (and an access-log entry for a
  // clinician): poll while the page is visible, and not more than needed.
  markStale();
  loadRange();
  connect();
  setInterval(pollVitals, 15000);
  // A chart is reloaded once a new bucket can have filled (at most once a minute).
  setInterval(() => {
    if (!document.hidden && Date.now() - loadedAt >= Math.max(60, seconds(range.resolution)) * 1000) loadRange();
  }, 60000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      pollVitals();
      loadRange();
    }
  });
})();
