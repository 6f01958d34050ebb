// healthhub Web Push: shows the text the server sent (the severity and the
// site, never a diagnosis or a name) and opens healthhub on a tap, where the
// details are shown after sign-in. Registered on its own by the staff's
// notification page, and imported by the worker portal's service worker.
"use strict";

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  event.waitUntil(
    self.registration.showNotification(data.title || "healthhub", {
      body: data.body || "",
      tag: data.tag,
      renotify: Boolean(data.tag),
      requireInteraction: true,
      data: { url: data.url || "/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  // A new window at healthhub's start page, which asks for sign-in if needed
  // and then shows the alert to whoever may see it.
  event.waitUntil(self.clients.openWindow(url));
});
