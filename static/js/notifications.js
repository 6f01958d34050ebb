// The notifications page: subscribe this browser to Web Push and send the
// subscription to the server with the name the user gave the device.
(function () {
  "use strict";
  const root = document.getElementById("push");
  if (!root) return;
  const button = document.getElementById("push-subscribe");
  const status = document.getElementById("push-status");
  const say = (text) => {
    status.textContent = text;
    status.hidden = false;
  };
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !root.dataset.key) {
    button.disabled = true;
    say(root.dataset.unsupported);
    return;
  }
  const activated = (registration) => {
    const worker = registration.installing || registration.waiting || registration.active;
    if (!worker || worker.state === "activated") return Promise.resolve();
    return new Promise((done) => {
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") done();
      });
    });
  };
  const keyBytes = (base64url) => {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        say(root.dataset.denied);
        return;
      }
      const registration = await navigator.serviceWorker.register(root.dataset.sw, { scope: root.dataset.scope });
      // This page is outside the worker's scope, so serviceWorker.ready would
      // never resolve here: wait for this registration's worker itself.
      await activated(registration);
      const subscription =
        (await registration.pushManager.getSubscription()) ||
        (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(root.dataset.key) }));
      const body = subscription.toJSON();
      const response = await fetch(root.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
        body: JSON.stringify({
          name: document.getElementById("push-name").value,
          endpoint: body.endpoint,
          p256dh: body.keys.p256dh,
          auth: body.keys.auth,
        }),
      });
      if (!response.ok) throw new Error(String(response.status));
      window.location.reload();
    } catch (error) {
      say(root.dataset.failed);
    } finally {
      button.disabled = false;
    }
  });
})();
