// Triage queue: rows arrive, change and leave live. For every alert event on
// /ws/alerts/ the row is fetched as the server renders it (with this page's
// filters): 200 is the row, 204 means it no longer belongs here.
(function () {
  "use strict";
  const root = document.getElementById("triage");
  if (!root) return;
  const body = root.querySelector("#queue tbody");
  const live = document.getElementById("live");
  const message = document.getElementById("message");
  const banner = document.getElementById("critical-banner");
  const bannerCount = document.getElementById("critical-count");
  const sound = document.getElementById("sound-toggle");
  const dialog = document.getElementById("note-dialog");
  const noteForm = document.getElementById("note-form");
  const note = noteForm.elements.note;
  const share = noteForm.elements.share_with_worker;
  const csrf = noteForm.elements.csrfmiddlewaretoken.value;
  const query = root.dataset.query;
  const baseTitle = document.title;
  const SOUND_KEY = "healthhub.triage.sound";
  const cap = (word) => word[0].toUpperCase() + word.slice(1);

  // --- rows ------------------------------------------------------------------
  const rowUrl = (id) => root.dataset.rowUrl.replace(/\/0\/row\/$/, `/${id}/row/`) + (query ? `?${query}` : "");

  function sortKey(row) {
    return [-Number(row.dataset.rank), Number(row.dataset.opened), Number(row.dataset.id)];
  }

  function comesBefore(a, b) {
    const ka = sortKey(a);
    const kb = sortKey(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i] < kb[i];
    return false;
  }

  function place(row) {
    const others = [...body.querySelectorAll("tr[data-id]")].filter((r) => r !== row);
    // Resolved alerts are listed newest first; the queue worst, then oldest, first.
    const next = root.dataset.status === "resolved" ? others[0] : others.find((r) => comesBefore(row, r));
    body.insertBefore(row, next || null);
  }

  function emptyRowCheck() {
    const empty = body.querySelector("tr.empty");
    const any = body.querySelector("tr[data-id]");
    if (any && empty) empty.hidden = true;
    if (!any && empty) empty.hidden = false;
  }

  function cue() {
    const waiting = body.querySelectorAll("tr.waiting").length;
    banner.hidden = waiting === 0;
    bannerCount.textContent = waiting;
    document.title = waiting ? `(${waiting}) ${baseTitle}` : baseTitle;
  }

  const pending = new Map();
  function refreshRow(id) {
    // Several events for one alert in a burst (changed, escalated...) cost one fetch.
    clearTimeout(pending.get(id));
    pending.set(id, setTimeout(() => loadRow(id), 150));
  }

  async function loadRow(id) {
    pending.delete(id);
    let response;
    try {
      response = await fetch(rowUrl(id), { credentials: "same-origin" });
    } catch (e) {
      return;
    }
    const old = body.querySelector(`tr[data-id="${id}"]`);
    if (response.status === 204 || response.status === 404) {
      if (old) old.remove();
    } else if (response.ok) {
      const holder = document.createElement("template");
      holder.innerHTML = (await response.text()).trim();
      const row = holder.content.querySelector("tr[data-id]");
      if (!row) return;
      const newlyWaiting = row.classList.contains("waiting") && !(old && old.classList.contains("waiting"));
      if (old) old.replaceWith(row);
      place(row);
      ages(row);
      if (!old || newlyWaiting) row.classList.add("flash");
    }
    emptyRowCheck();
    cue();
  }

  async function reloadRows() {
    try {
      const response = await fetch(`${root.dataset.rows}?fragment=rows${query ? `&${query}` : ""}`, {
        credentials: "same-origin",
      });
      if (!response.ok) return;
      body.innerHTML = await response.text();
    } catch (e) {
      return;
    }
    ages(body);
    cue();
  }

  // --- ages ----------------------------------------------------------------------
  const relative = new Intl.RelativeTimeFormat(document.documentElement.lang || undefined, { numeric: "always" });
  function ages(scope) {
    const now = Date.now() / 1000;
    for (const el of scope.querySelectorAll(".age[data-since]")) {
      const s = Math.max(0, now - Number(el.dataset.since));
      if (s < 60) el.textContent = relative.format(-Math.floor(s), "second");
      else if (s < 3600) el.textContent = relative.format(-Math.floor(s / 60), "minute");
      else if (s < 172800) el.textContent = relative.format(-Math.floor(s / 3600), "hour");
      else el.textContent = relative.format(-Math.floor(s / 86400), "day");
    }
  }
  ages(body);
  setInterval(() => ages(body), 30000);

  // --- sound -----------------------------------------------------------------------
  let audio = null;
  sound.checked = localStorage.getItem(SOUND_KEY) === "on";
  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }
  // Browsers let a page make sound only after a gesture: the first click unlocks it.
  document.addEventListener("click", () => sound.checked && audioContext(), { once: true });
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
    if (sound.checked) beep();
  });
  function beep() {
    if (!sound.checked) return;
    const ctx = audioContext();
    if (!ctx) return;
    const start = ctx.currentTime;
    for (const offset of [0, 0.3]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.22);
    }
  }

  // --- actions -----------------------------------------------------------------------
  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  async function act(id, action, text, share = false) {
    say("");
    let response;
    try {
      response = await fetch(`${root.dataset.api}${id}/${action}/`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
        body: JSON.stringify({ note: text, share_with_worker: share }),
      });
    } catch (e) {
      say(root.dataset.failed);
      return;
    }
    if (response.status === 409) say(root.dataset.conflict);
    else if (!response.ok) say(root.dataset.failed);
    refreshRow(id);
  }

  // On a phone the filters fold away unless some are set: the queue comes first.
  const filtersBox = document.getElementById("filters-box");
  if (filtersBox && window.matchMedia("(max-width: 600px)").matches && !window.location.search) filtersBox.open = false;

  // On a phone each alert is a card with its primary action; the others
  // are behind this menu button (the CSS shows them when the row is open).
  body.addEventListener("click", (event) => {
    const more = event.target.closest("button.more");
    if (!more) return;
    const open = more.closest("tr").classList.toggle("menu-open");
    more.setAttribute("aria-expanded", String(open));
  });
  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("tr[data-id]").dataset.id;
    const action = button.dataset.action;
    if (action === "acknowledge") {
      button.disabled = true;
      act(id, action, "");
      return;
    }
    dialog.dataset.id = id;
    dialog.dataset.action = action;
    document.getElementById("note-title").textContent = root.dataset[`title${cap(action)}`];
    document.getElementById("note-submit").textContent = root.dataset[`submit${cap(action)}`];
    note.value = "";
    note.required = action !== "escalate";
    // A note is private to the site's clinicians unless shared, each time anew.
    share.checked = false;
    share.closest("label").hidden = action === "escalate";
    dialog.showModal();
    note.focus();
  });
  noteForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!noteForm.reportValidity()) return;
    dialog.close();
    act(dialog.dataset.id, dialog.dataset.action, note.value.trim(), share.checked);
  });
  document.getElementById("note-cancel").addEventListener("click", () => dialog.close());

  // Filters apply as soon as they change.
  document.getElementById("filters").addEventListener("change", (event) => event.currentTarget.submit());

  // --- live stream ---------------------------------------------------------------
  let backoff = 1000;
  let connectedBefore = false;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.stream}`);
    socket.onopen = () => {
      live.textContent = `● ${root.dataset.live}`;
      live.classList.add("on");
      backoff = 1000;
      if (connectedBefore) reloadRows(); // events may have been missed meanwhile
      connectedBefore = true;
    };
    socket.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (data.type !== "alert") return;
      const alert = data.alert;
      // Every critical that needs someone sounds, whatever the filters show.
      if (alert.severity === "critical" && alert.status === "open" && ["opened", "changed"].includes(data.change)) {
        beep();
      }
      refreshRow(alert.id);
    };
    socket.onclose = () => {
      live.textContent = `○ ${root.dataset.offline}`;
      live.classList.remove("on");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }
  cue();
  connect();
})();
