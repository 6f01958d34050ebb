// The worker portal's service worker (scope {{ scope }}): it keeps the static
// shell so that the installed portal starts offline, and the guidance pages
// (nothing personal in them), and nothing else. Pages
// (they hold health data) and API answers always come from the network and
// are never stored. Web Push (alerts on the lock screen) comes from push_sw.js.
"use strict";
const CONFIG = {{ config|safe }};
importScripts(CONFIG.push);
const CACHE = `portal-shell-${CONFIG.version}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll([...CONFIG.shell, ...CONFIG.guides]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((key) => key.startsWith("portal-shell-") && key !== CACHE).map((key) => caches.delete(key)),
      ))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && CONFIG.guides.includes(url.pathname)) {
    // Guidance (nothing personal): the network, refreshing the kept copy;
    // without a network, the kept copy.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) caches.open(CACHE).then((cache) => cache.put(url.pathname, response.clone()));
          return response;
        })
        .catch(() => caches.match(url.pathname).then((hit) => hit || caches.match(CONFIG.offline))),
    );
    return;
  }
  if (request.mode === "navigate") {
    // Always the network; without one, the offline page of the shell.
    event.respondWith(fetch(request).catch(() => caches.match(CONFIG.offline)));
    return;
  }
  if (url.search === "" && CONFIG.shell.includes(url.pathname)) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
  // Anything else (API answers, exports, other files) goes to the network untouched.
});
