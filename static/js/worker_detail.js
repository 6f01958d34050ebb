// Worker page: refresh the latest value of each metric from the readings API.
(function () {
  "use strict";
  const table = document.getElementById("latest");
  if (!table) return;
  const body = table.querySelector("tbody");
  const api = table.dataset.api;
  const updated = document.getElementById("updated");

  function rowFor(metric) {
    let row = body.querySelector(`tr[data-metric="${metric}"]`);
    if (!row) {
      const empty = body.querySelector("tr.empty");
      if (empty) empty.remove();
      row = document.createElement("tr");
      row.dataset.metric = metric;
      row.innerHTML = "<td></td><td class='value'></td><td class='at'></td>";
      row.firstChild.textContent = metric;
      body.appendChild(row);
    }
    return row;
  }

  async function refresh() {
    const from = new Date(Date.now() - 10 * 60 * 1000).toISOString();
    try {
      const response = await fetch(`${api}?from=${encodeURIComponent(from)}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      const newest = {};
      for (const point of data.points) newest[point.metric] = point;
      for (const [metric, point] of Object.entries(newest)) {
        const row = rowFor(metric);
        row.querySelector(".value").textContent = Number(point.value).toLocaleString();
        row.querySelector(".at").textContent = new Date(point.at).toLocaleString();
      }
      updated.textContent = new Date().toLocaleTimeString();
    } catch (e) {
      updated.textContent = "…";
    }
  }
  refresh();
  setInterval(refresh, 5000);
})();
