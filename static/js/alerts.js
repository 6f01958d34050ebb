// Live alerts panel: rows appear, change and leave as alerts do, without reload.
(function () {
  "use strict";
  const panel = document.getElementById("alerts");
  if (!panel) return;
  const labels = JSON.parse(document.getElementById("alert-labels").textContent);
  const body = panel.querySelector("tbody");
  const live = document.getElementById("alerts-live");
  const canAct = panel.dataset.canAct === "1";
  const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  const t = (group, key) => (labels[group] && labels[group][key]) || key;

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function render(alert) {
    let row = body.querySelector(`tr[data-id="${alert.id}"]`);
    if (alert.status === "resolved") {
      if (row) row.remove();
      return;
    }
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    const fresh = document.createElement("tr");
    fresh.dataset.id = alert.id;
    fresh.className = `sev-${alert.severity}`;
    const badge = document.createElement("td");
    const span = document.createElement("span");
    span.className = `badge sev-${alert.severity}`;
    span.textContent = t("severity", alert.severity);
    badge.appendChild(span);
    fresh.appendChild(badge);
    const who = document.createElement("td");
    const link = document.createElement("a");
    link.href = `/workers/${alert.worker}/`;
    link.textContent = alert.employee_number;
    who.append(link, ` ${alert.worker_name || ""}`);
    fresh.appendChild(who);
    fresh.appendChild(cell(`${t("kind", alert.kind)} — ${t("message", alert.message)}`));
    fresh.appendChild(cell(new Date(alert.opened_at).toLocaleString()));
    fresh.appendChild(cell(t("status", alert.status) + (alert.escalated_at ? " · ⇧" : "")));
    if (canAct) fresh.appendChild(actions(alert));
    if (row) row.replaceWith(fresh);
    else body.prepend(fresh);
    if (!row && alert.severity === "critical") fresh.classList.add("flash");
  }

  function actions(alert) {
    const td = document.createElement("td");
    td.className = "actions";
    const verbs = alert.status === "open" ? ["acknowledge", "resolve"] : ["resolve"];
    for (const verb of verbs) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.verb = verb;
      button.textContent = panel.dataset[`label${verb[0].toUpperCase()}${verb.slice(1)}`] || verb;
      button.addEventListener("click", () => act(alert.id, verb));
      td.appendChild(button);
    }
    return td;
  }

  async function act(id, verb) {
    const response = await fetch(`${panel.dataset.api}${id}/${verb}/`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
      body: "{}",
    });
    if (response.ok) render(await response.json());
  }

  // Server-rendered rows get their buttons too.
  if (canAct) {
    for (const row of body.querySelectorAll("tr[data-id]")) {
      const status = row.children[4].textContent.trim();
      const open = status.startsWith(t("status", "open"));
      row.querySelector("td.actions").replaceWith(actions({ id: row.dataset.id, status: open ? "open" : "acknowledged" }));
    }
  }

  let backoff = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${panel.dataset.stream}`);
    socket.onopen = () => { live.textContent = "● live"; backoff = 1000; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "alert") render(message.alert);
    };
    socket.onclose = () => {
      live.textContent = "○";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }
  connect();
})();
