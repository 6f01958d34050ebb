// The consultation page: live chat with delivered and read marks, typing,
// recommendations, notes (clinicians' page only) and a WebRTC video call
// whose signalling goes over the same socket. Without JavaScript the page
// still works through its forms.
(function () {
  "use strict";
  const root = document.getElementById("consultation");
  if (!root) return;
  const labels = JSON.parse(document.getElementById("consultation-labels").textContent);
  const iceServers = JSON.parse(document.getElementById("ice-servers").textContent);
  const side = root.dataset.side;
  const otherSide = side === "worker" ? "clinician" : "worker";
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-body");
  const live = document.getElementById("chat-live");
  const typing = document.getElementById("typing");
  const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1] || "";
  let socket = null;
  let retry = 0;
  let typingTimer = null;
  let lastTypingSent = 0;

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function newRef() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  }

  function time(iso) {
    const at = new Date(iso);
    return at.toLocaleString(document.documentElement.lang || undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  function markText(message) {
    if (message.read_at) return labels.read;
    if (message.delivered_at) return labels.delivered;
    return labels.sent;
  }

  function clearEmpty(list) {
    const empty = list && list.querySelector("li.empty");
    if (empty) empty.remove();
  }

  // --- chat ------------------------------------------------------------

  function messageItem(message) {
    const item = document.createElement("li");
    item.className = `msg from-${message.from}`;
    item.dataset.id = message.id || "";
    item.dataset.from = message.from;
    if (message.ref) item.dataset.ref = message.ref;
    const meta = document.createElement("p");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "sender";
    who.textContent = message.sender_name || labels.side[message.from];
    const at = document.createElement("time");
    at.dateTime = message.sent_at || "";
    at.textContent = message.sent_at ? time(message.sent_at) : "";
    meta.append(who, " ", at);
    const body = document.createElement("p");
    body.className = "body";
    if (message.language) {
      // The language the sender wrote in: chat is shown as written.
      const tag = document.createElement("span");
      tag.className = "lang-tag";
      tag.lang = message.language;
      tag.title = message.language_name || "";
      tag.textContent = message.language.toUpperCase();
      meta.append(" ", tag);
      body.lang = message.language;
    }
    body.textContent = message.body; // text, never HTML
    const mark = document.createElement("small");
    mark.className = "mark";
    mark.dataset.role = "mark";
    mark.textContent = markText(message);
    item.append(meta, body, mark);
    return item;
  }

  function showMessage(message) {
    clearEmpty(log);
    const existing =
      log.querySelector(`li[data-id="${message.id}"]`) ||
      (message.ref && log.querySelector(`li[data-ref="${CSS.escape(message.ref)}"]`));
    const item = messageItem(message);
    if (existing) existing.replaceWith(item);
    else log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    if (message.from === otherSide) {
      send({ type: "delivered", up_to: message.id });
      markReadSoon();
      typing.textContent = "";
    }
  }

  function lastOtherId() {
    let last = 0;
    for (const item of log.querySelectorAll(`li[data-from="${otherSide}"][data-id]`)) {
      last = Math.max(last, Number(item.dataset.id) || 0);
    }
    return last;
  }

  function markReadSoon() {
    if (document.visibilityState !== "visible") return;
    const last = lastOtherId();
    if (last) send({ type: "read", up_to: last });
  }

  function applyMarks(marks) {
    for (const mark of marks) {
      const item = log.querySelector(`li[data-id="${mark.id}"] [data-role="mark"]`);
      if (item) item.textContent = markText(mark);
    }
  }

  if (form && input) {
    form.addEventListener("submit", (event) => {
      const body = input.value.trim();
      if (!body) {
        event.preventDefault();
        return;
      }
      const ref = newRef();
      if (!send({ type: "message", body, ref })) return; // no socket: the form posts instead
      event.preventDefault();
      clearEmpty(log);
      const pending = messageItem({ from: side, body, ref, sender_name: "" });
      pending.classList.add("pending");
      log.appendChild(pending);
      log.scrollTop = log.scrollHeight;
      input.value = "";
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      const now = Date.now();
      if (now - lastTypingSent > 3000) {
        lastTypingSent = now;
        send({ type: "typing" });
      }
    });
  }

  function showTyping(from) {
    typing.textContent = labels[`typing_${from}`] || "";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => (typing.textContent = ""), 4000);
  }

  // --- recommendations, notes, clearances, status -----------------------

  function entry(listId, text, byline, at, guide) {
    const list = document.getElementById(listId);
    if (!list) return;
    clearEmpty(list);
    const item = document.createElement("li");
    const body = document.createElement("p");
    body.textContent = text;
    const small = document.createElement("small");
    small.textContent = `${byline} · ${time(at)}`;
    item.append(body);
    if (guide) {
      // A guidance page to read with a recommendation (title already translated).
      const line = document.createElement("p");
      line.className = "guide-link";
      const link = document.createElement("a");
      link.href = guide.url;
      link.textContent = `${labels.guide}: ${(labels.guides || {})[guide.slug] || guide.title}`;
      line.appendChild(link);
      item.append(line);
    }
    item.append(small);
    list.appendChild(item);
  }

  // A form submitted the ordinary way (closing the consultation, a
  // clearance) is a navigation under way: reloading for the socket's echo of
  // that same change would abort the person's own POST.
  let navigating = false;
  document.addEventListener("submit", (event) => {
    if (!event.defaultPrevented) navigating = true;
  });
  function reloadUnlessNavigating() {
    if (!navigating) window.location.reload();
  }

  function showConsultation(consultation) {
    const status = document.getElementById("consultation-status");
    if (status) {
      status.textContent = labels.status[consultation.status] || consultation.status;
      status.className = `badge status-${consultation.status}`;
    }
    const clinician = document.getElementById("consultation-clinician");
    if (clinician && consultation.clinician_name) clinician.textContent = consultation.clinician_name;
    if (consultation.status !== root.dataset.status) {
      const wasOpen = root.dataset.status !== "closed";
      root.dataset.status = consultation.status;
      // Closing changes which forms the page offers: show the page as it is now.
      if (wasOpen && consultation.status === "closed") reloadUnlessNavigating();
    }
  }

  for (const postForm of document.querySelectorAll("form.js-post")) {
    postForm.addEventListener("submit", async (event) => {
      const area = postForm.querySelector("textarea");
      const guide = postForm.querySelector("select[name=guide]");
      if (!area || !area.value.trim()) return;
      event.preventDefault();
      const response = await fetch(postForm.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" },
        body: JSON.stringify(guide ? { body: area.value, guide: guide.value } : { body: area.value }),
      });
      if (response.ok) {
        area.value = "";
        if (guide) guide.value = "";
        // The entry arrives over the socket; without one, show the page again.
        if (!socket || socket.readyState !== WebSocket.OPEN) window.location.reload();
      } else {
        const problem = await response.json().catch(() => ({}));
        live.textContent = problem.detail || response.statusText;
      }
    });
  }

  // --- video call (WebRTC; signalling over the socket) -------------------

  const video = document.getElementById("video");
  const callStart = document.getElementById("call-start");
  const callAccept = document.getElementById("call-accept");
  const callHangup = document.getElementById("call-hangup");
  const callState = document.getElementById("call-state");
  const localVideo = document.getElementById("local-video");
  const remoteVideo = document.getElementById("remote-video");
  let pc = null;
  let localStream = null;
  let pendingOffer = null;
  let pendingIce = [];
  const canCall = Boolean(window.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  if (callStart && canCall) callStart.hidden = false;

  async function openMedia() {
    localStream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    localVideo.srcObject = localStream;
    localVideo.hidden = false;
  }

  function newPeer() {
    pc = new RTCPeerConnection({ iceServers });
    for (const track of localStream.getTracks()) pc.addTrack(track, localStream);
    pc.addEventListener("icecandidate", (event) => {
      if (event.candidate) send({ type: "ice", candidate: event.candidate.toJSON() });
    });
    pc.addEventListener("track", (event) => {
      remoteVideo.srcObject = event.streams[0];
      remoteVideo.hidden = false;
      callState.textContent = labels.in_call;
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc && ["failed", "closed"].includes(pc.connectionState)) endCall(false);
    });
  }

  async function flushIce() {
    for (const candidate of pendingIce) await pc.addIceCandidate(candidate).catch(() => {});
    pendingIce = [];
  }

  function endCall(tell) {
    if (tell) send({ type: "hangup" });
    if (pc) pc.close();
    pc = null;
    if (localStream) for (const track of localStream.getTracks()) track.stop();
    localStream = null;
    pendingOffer = null;
    pendingIce = [];
    localVideo.srcObject = null;
    remoteVideo.srcObject = null;
    // No black boxes: a video is shown only while it has a picture.
    localVideo.hidden = true;
    remoteVideo.hidden = true;
    callAccept.hidden = true;
    if (video && !video.hidden) {
      callState.textContent = labels.call_ended;
      setTimeout(() => {
        if (!pc) video.hidden = true;
      }, 2000);
    }
    if (callStart && canCall) callStart.disabled = false;
  }

  if (callStart) {
    callStart.addEventListener("click", async () => {
      video.hidden = false;
      callStart.disabled = true;
      callState.textContent = labels.calling;
      try {
        await openMedia();
      } catch (error) {
        callState.textContent = labels.no_camera;
        callStart.disabled = false;
        return;
      }
      newPeer();
      await pc.setLocalDescription(await pc.createOffer());
      send({ type: "offer", sdp: pc.localDescription.toJSON() });
    });
  }

  callAccept.addEventListener("click", async () => {
    if (!pendingOffer) return;
    callAccept.hidden = true;
    try {
      await openMedia();
    } catch (error) {
      callState.textContent = labels.no_camera;
      endCall(true);
      return;
    }
    newPeer();
    await pc.setRemoteDescription(pendingOffer);
    pendingOffer = null;
    await flushIce();
    await pc.setLocalDescription(await pc.createAnswer());
    send({ type: "answer", sdp: pc.localDescription.toJSON() });
  });

  callHangup.addEventListener("click", () => endCall(true));

  async function onSignal(frame) {
    if (frame.type === "offer") {
      if (pc) return; // already in a call
      pendingOffer = frame.sdp;
      pendingIce = [];
      video.hidden = false;
      callState.textContent = labels.incoming_call;
      callAccept.hidden = false;
      callAccept.focus();
    } else if (frame.type === "answer" && pc) {
      await pc.setRemoteDescription(frame.sdp);
      await flushIce();
    } else if (frame.type === "ice") {
      if (pc && pc.remoteDescription) await pc.addIceCandidate(frame.candidate).catch(() => {});
      else pendingIce.push(frame.candidate);
    } else if (frame.type === "hangup") {
      endCall(false);
    }
  }

  // --- the socket -------------------------------------------------------

  function handle(frame) {
    switch (frame.type) {
      case "message":
        showMessage(frame.message);
        break;
      case "marks":
        applyMarks(frame.marks);
        break;
      case "typing":
        showTyping(frame.from);
        break;
      case "consultation":
        showConsultation(frame.consultation);
        break;
      case "recommendation":
        entry("recommendations-list", frame.recommendation.body, frame.recommendation.author_name, frame.recommendation.created_at, frame.recommendation.guide);
        break;
      case "note":
        entry("notes-list", frame.note.body, frame.note.author_name, frame.note.created_at);
        break;
      case "clearance":
        reloadUnlessNavigating();
        break;
      case "offer":
      case "answer":
      case "ice":
      case "hangup":
        onSignal(frame);
        break;
      case "error":
        live.textContent = frame.detail;
        if (frame.ref) {
          const failed = log.querySelector(`li[data-ref="${CSS.escape(frame.ref)}"]`);
          if (failed) failed.classList.add("failed");
        }
        break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.socket}`);
    socket.addEventListener("open", () => {
      retry = 0;
      live.textContent = labels.connected;
      const last = lastOtherId();
      if (last) send({ type: "delivered", up_to: last });
      markReadSoon();
    });
    socket.addEventListener("message", (event) => handle(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      live.textContent = labels.disconnected;
      if (pc) endCall(false);
      if (event.code === 4403) return; // refused: retrying will not help
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * 2 ** retry);
    });
  }

  document.addEventListener("visibilitychange", markReadSoon);
  log.scrollTop = log.scrollHeight;
  connect();
})();
