// The consultations list: new requests and status changes appear without
// reload (a clinician's sites, or a worker's own consultations).
(function () {
  "use strict";
  const list = document.getElementById("consultations");
  if (!list) return;
  const labels = JSON.parse(document.getElementById("consultation-labels").textContent);
  const live = document.getElementById("consultations-live");
  const forWorker = list.dataset.worker === "1";
  let retry = 0;

  function badge(kind, value) {
    const span = document.createElement("span");
    span.className = `badge ${kind}-${value}`;
    span.textContent = labels[kind][value] || value;
    return span;
  }

  function link(consultation) {
    const a = document.createElement("a");
    a.href = `/consultations/${consultation.id}/`;
    a.textContent = consultation.reason.length > 100 ? `${consultation.reason.slice(0, 99)}…` : consultation.reason;
    return a;
  }

  function clinicianRow(consultation) {
    const row = document.createElement("tr");
    row.dataset.id = consultation.id;
    const cells = [];
    for (let i = 0; i < 6; i++) cells.push(document.createElement("td"));
    cells[0].appendChild(badge("urgency", consultation.urgency));
    cells[1].textContent = `${consultation.employee_number} ${consultation.worker_name}`;
    cells[2].appendChild(link(consultation));
    cells[3].dataset.role = "status";
    cells[3].textContent = labels.status[consultation.status];
    cells[4].textContent = new Date(consultation.requested_at).toLocaleString(document.documentElement.lang || undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
    cells[5].dataset.role = "clinician";
    cells[5].textContent = consultation.clinician_name || "—";
    row.append(...cells);
    row.classList.add("flash");
    return row;
  }

  function update(consultation) {
    const row = list.querySelector(`[data-id="${consultation.id}"]`);
    if (forWorker) {
      const status = row && row.querySelector('[data-role="status"]');
      if (status) {
        status.textContent = labels.status[consultation.status];
        status.className = `badge status-${consultation.status}`;
      }
      return;
    }
    const body = list.querySelector("tbody");
    if (consultation.status === "closed") {
      if (row) row.remove();
      return;
    }
    if (!row) {
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      body.prepend(clinicianRow(consultation));
      live.textContent = labels.new_request;
      return;
    }
    row.querySelector('[data-role="status"]').textContent = labels.status[consultation.status];
    row.querySelector('[data-role="clinician"]').textContent = consultation.clinician_name || "—";
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${list.dataset.stream}`);
    socket.addEventListener("open", () => {
      retry = 0;
      live.textContent = labels.connected;
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "consultation") update(frame.consultation);
    });
    socket.addEventListener("close", (event) => {
      live.textContent = labels.disconnected;
      if (event.code === 4403) return;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry);
    });
  }

  connect();
})();
