// Site overview: reloaded in place every minute (silence is a matter of
// time) and soon after any alert of the site changes.
(function () {
  "use strict";
  const page = document.getElementById("site-page");
  if (!page) return;

  let timer = null;
  async function reload() {
    clearTimeout(timer);
    timer = setTimeout(reload, 60000);
    if (document.hidden) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of ["overview", "overview-time"]) {
        const next = fresh.getElementById(id);
        const open = document.querySelector("#off-shift[open]") !== null;
        if (next) document.getElementById(id).replaceWith(next);
        if (open && document.getElementById("off-shift")) document.getElementById("off-shift").open = true;
      }
    } catch (e) {
      // Offline for a moment: the next tick tries again.
    }
  }
  timer = setTimeout(reload, 60000);
  document.addEventListener("visibilitychange", () => !document.hidden && reload());

  let soon = null;
  let backoff = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${page.dataset.stream}`);
    socket.onopen = () => { backoff = 1000; };
    socket.onmessage = () => {
      clearTimeout(soon);
      soon = setTimeout(reload, 2000);
    };
    socket.onclose = () => {
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }
  connect();
})();
