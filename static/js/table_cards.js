// Phones show each row of a list table as a card (healthhub.css, below
// 600 px); each cell is labelled with its column's header, copied here into
// data-label (the CSS shows it). Rows added later by live updates get theirs too.
(() => {
  function label(table) {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, index) => {
        if (headers[index] && !cell.hasAttribute("colspan")) cell.dataset.label = headers[index];
      });
    }
  }
  for (const table of document.querySelectorAll("table.list:not(.numbers)")) {
    label(table);
    const body = table.querySelector("tbody");
    if (body) new MutationObserver(() => label(table)).observe(body, { childList: true });
  }
})();
