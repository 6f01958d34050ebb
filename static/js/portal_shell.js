// Worker portal, every page: install the service worker (it keeps the static
// shell for starting offline), and ask before a form marked data-confirm.
(function () {
  "use strict";
  const script = document.currentScript;
  if (script && "serviceWorker" in navigator) {
    window.addEventListener("load", () => {
      navigator.serviceWorker.register(script.dataset.sw, { scope: script.dataset.scope }).catch(() => {});
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
