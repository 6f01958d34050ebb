"""Browser sockets bound to the session that opened them.

A socket is only as good as the session behind it. Each browser consumer
(the alert stream, the consultation lists, a consultation's chat) derives
from ``SessionBoundConsumer``, which

- remembers the session key and user id it was opened with, never the user
  object, and re-checks both (``socket_user_now``: the session still exists
  and still signs in this user with the same password, the user is active,
  the sign-in policy's verdict is OK, and the consumer's own rule, e.g. still
  a clinician of the site, still holds) before it acts on an inbound frame,
  before it pushes anything out, and every ``SOCKET_RECHECK_S`` seconds
  (which is how an idle-expired session, which sends no event, is closed);
- joins the user's group (healthhub.live.user_sockets_group), to which the
  receivers in accounts/socket_receivers.py send a close event after
  sign-out, a password change, a second-factor reset, deactivation, and a
  change of role, sites or worker record.

A frame the person sends (chat, read marks, call signalling) refreshes the
session's last-seen time as a page request does (``note_activity``); frames
a page's script sends on its own (delivery marks) and pushes do not.

A socket whose session is no longer good is closed with 4401 (the pages try
again and are then refused with 4403 if signed out); one whose user may no
longer see what it streams is closed with 4403.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AbstractBaseUser

from accounts.policy import SEEN_AT_RESOLUTION_S, SESSION_SEEN_AT, Verdict, access_verdict
from healthhub.layers import CLOSE_TRY_AGAIN, LAYER_ERRORS, OutageHandlers
from healthhub.live import SENT_AT, SOCKETS_CLOSE, user_sockets_group
from workers.services import access_log_push

log = logging.getLogger(__name__)

CLOSE_SESSION_ENDED = 4401
CLOSE_FORBIDDEN = 4403


def session_fingerprint(session_key: str) -> str:
    """What the channel layer carries to name one session: a hash, so that a
    session key (a bearer credential) never travels through Redis."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def socket_user_now(session_key: str | None, user_id: int) -> AbstractBaseUser | None:
    """The user ``session_key`` signs in now, if it is still ``user_id``,
    active, and let on by the sign-in policy (not expired, second factor
    used); None otherwise."""
    if not session_key:
        return None
    store = _session_store(session_key)
    # auth.get_user reads only request.session: the same checks as a page's
    # request (backend, password hash, is_active through the backend).
    user = auth.get_user(SimpleNamespace(session=store))
    if not user.is_authenticated or user.pk != user_id or not user.is_active:
        return None
    if access_verdict(user, store, time.time()) != Verdict.OK:
        return None
    return user


def session_touch(session_key: str) -> None:
    """Refresh the session's last-seen time, as a page request does: a person
    acting on a socket (chatting, in a video call) is not idle."""
    store = _session_store(session_key)
    if store.load():  # an ended session is not brought back
        store[SESSION_SEEN_AT] = time.time()
        store.save()


def _session_store(session_key: str) -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore(session_key)


class _InFlight:
    """Calls in flight in this process (one event loop), by key: a caller
    whose key is already being worked on awaits that call's result instead
    of starting its own. An alert sent to a site reaches every dashboard of
    the site in the same moment, and the tabs of one session (or, for the
    access log, of one person) then share one database call.

    With ``remember``, the keys of calls that succeeded are kept (the last
    ``remember`` of them), and ``done`` tells them."""

    def __init__(self, remember: int = 0) -> None:
        self.remember = remember
        self.calls: dict[tuple, tuple[asyncio.Future, float]] = {}  # key -> (call, when it started)
        self.finished: dict[tuple, None] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def _for_this_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # one per process in production; tests run a loop each
            self.loop, self.calls, self.finished = loop, {}, {}

    def done(self, key: tuple) -> bool:
        self._for_this_loop()
        return key in self.finished

    async def run(self, key: tuple, call: Any, not_before: float = float("-inf")) -> Any:
        """``call()``'s result, or that of the same key's call in flight if
        it started at ``not_before`` (wall clock) or later."""
        self._for_this_loop()
        held = self.calls.get(key)
        if held is None or held[1] < not_before:
            future = asyncio.ensure_future(call())
            self.calls[key] = (future, time.time())
            future.add_done_callback(lambda f: self._finished(key, f))
        else:
            future = held[0]
        return await asyncio.shield(future)

    def _finished(self, key: tuple, future: asyncio.Future) -> None:
        if self.calls.get(key, (None,))[0] is future:
            del self.calls[key]
        failed = future.cancelled() or future.exception() is not None  # (retrieved: never "never retrieved")
        if self.remember and not failed:
            if len(self.finished) >= self.remember:
                self.finished.pop(next(iter(self.finished)))
            self.finished[key] = None


_pushes_checked = _InFlight()
# (accessor, item) pairs whose access-log row this process has written or
# found written: a record pushed to several tabs of one person costs one
# insert. Bounded: forgetting only costs an insert the table refuses.
_pushes_recorded = _InFlight(remember=100_000)


class SessionBoundConsumer(OutageHandlers):
    """A browser consumer that acts only as a user re-checked now.

    Subclasses call ``bind_session`` in ``connect`` (before ``accept``) and
    ``watch_session`` after it, ``unbind_session`` in ``disconnect``.
    ``dispatch`` re-checks before each inbound frame (``acting_as``) and each
    outbound event (``pushing_as``), closing the socket and dropping the
    message when the check fails. ``still_allowed`` is the subclass's own
    rule, run in the same database call.
    """

    session_key: str | None = None
    user_id: int | None = None
    watch_task: asyncio.Task | None = None
    closing: bool = False
    user_group_joined: str | None = None
    # The user re-checked for the frame or event being handled now.
    acting_as: AbstractBaseUser | None = None
    pushing_as: AbstractBaseUser | None = None
    pushed_items: set[str]
    last_activity: float = float("-inf")
    # When the event being pushed was sent (healthhub.live.SENT_AT).
    event_sent_at: float | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Every frame from the browser is handled, and every channel-layer
        event sent on, only after the re-check (so a handler added later is
        covered too); the socket's own lifecycle and the close event are not
        re-checked."""
        kind = message["type"]
        if kind == "websocket.receive":
            self.acting_as = await self.acting_user()
            if self.acting_as is None:
                return
        elif not kind.startswith(("websocket.", "layer.")) and kind != SOCKETS_CLOSE:
            # (layer.lost / layer.restored: Redis went or came back; they
            # push nothing, healthhub.layers.OutageHandlers handles them.)
            self.event_sent_at = message.get(SENT_AT)
            self.pushing_as = await self.pushing_user()
            if self.pushing_as is None:
                return
        await super().dispatch(message)

    # --- the subclass's rule ---------------------------------------------------

    def still_allowed(self, user: AbstractBaseUser) -> bool:
        """Whether ``user`` may still see what this socket streams (runs in a
        database thread)."""
        return True

    # --- binding ------------------------------------------------------------------

    async def bind_session(self) -> AbstractBaseUser | None:
        """The user who opens the socket, checked against the session now;
        None (and nothing joined) if there is none."""
        user = self.scope.get("user")
        session = self.scope.get("session")
        if user is None or not user.is_authenticated:
            return None
        self.session_key = getattr(session, "session_key", None)
        self.user_id = user.pk
        self.pushed_items = set()
        user = await database_sync_to_async(socket_user_now)(self.session_key, self.user_id)
        if user is None:
            return None
        self.user_group_joined = user_sockets_group(user.pk)
        await self.channel_layer.group_add(self.user_group_joined, self.channel_name)
        return user

    def watch_session(self) -> None:
        """Start the periodic re-check; call after ``accept``."""
        self.watch_task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        period = settings.SOCKET_RECHECK_S
        while not self.closing:
            await asyncio.sleep(period)
            try:
                user = await self.pushing_user()
            except Exception:
                # Fail closed: a socket that cannot be re-checked (the
                # database is away) does not stay open unchecked.
                log.exception("re-checking a browser socket failed; closing it")
                await self._close_once(1011)
                return
            if user is None:
                return

    async def unbind_session(self) -> None:
        """Call from ``disconnect``."""
        self.closing = True
        if self.watch_task is not None:
            self.watch_task.cancel()
        if self.user_group_joined is not None:
            try:
                await self.channel_layer.group_discard(self.user_group_joined, self.channel_name)
            except LAYER_ERRORS:
                pass  # Redis is away: the membership expires there on its own

    async def leave_groups(self, groups: list[str]) -> None:
        """Call from ``disconnect``: leave the groups the consumer joined."""
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except LAYER_ERRORS:
                return  # Redis is away: the memberships expire there on their own

    async def refuse_for_outage(self) -> None:
        """Redis is away at connect: no live events could reach this socket.
        Accepted and closed with 1013 (try again later), which the pages
        retry with backoff, rather than a failed handshake (HTTP 500)."""
        self.closing = True
        if self.watch_task is not None:
            self.watch_task.cancel()
        await self.accept()
        await self.close(code=CLOSE_TRY_AGAIN)

    # --- re-checks ------------------------------------------------------------------

    async def acting_user(self) -> AbstractBaseUser | None:
        """Before acting on a frame from the browser."""
        return await self._recheck()

    async def pushing_user(self) -> AbstractBaseUser | None:
        """Before sending an event out. Sockets of one session whose rule
        depends on the same things (``push_check_key``) share a check in
        flight, if it started after the event was sent."""
        key = self.push_check_key()
        sent_at, self.event_sent_at = self.event_sent_at, None
        if key is None or sent_at is None or self.closing or self.user_id is None:
            return await self._recheck()  # (the periodic check, and events not stamped when sent)
        shared = (type(self), self.session_key, self.user_id, key)
        user, code = await _pushes_checked.run(shared, database_sync_to_async(self._check_now), sent_at)
        if user is None:
            await self._close_once(code)
        return user

    def push_check_key(self) -> tuple | None:
        """What ``still_allowed`` depends on besides the session and user
        (e.g. the groups joined), if sockets may share a push's check; None
        (the default): each socket checks on its own."""
        return None

    async def note_activity(self) -> None:
        """The person did something on this socket (not their page's script
        on its own): their session's last-seen time is refreshed, at most
        every SEEN_AT_RESOLUTION_S."""
        now = time.monotonic()
        if self.session_key is None or now - self.last_activity < SEEN_AT_RESOLUTION_S:
            return
        self.last_activity = now
        await database_sync_to_async(session_touch)(self.session_key)

    async def _recheck(self) -> AbstractBaseUser | None:
        if self.closing or self.user_id is None:
            return None
        user, code = await database_sync_to_async(self._check_now)()
        if user is None:
            await self._close_once(code)
        return user

    def _check_now(self) -> tuple[AbstractBaseUser | None, int]:
        user = socket_user_now(self.session_key, self.user_id)
        if user is None:
            return None, CLOSE_SESSION_ENDED
        if not self.still_allowed(user):
            return None, CLOSE_FORBIDDEN
        return user, 0

    async def _close_once(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code=code)

    # --- pushed health data leaves a trace ----------------------------------------

    async def record_push(self, *, worker_id: int, what: str, item: str, origin: str) -> None:
        """Before a record about a worker goes out to someone else's screen:
        the access log gets one row per record per recipient
        (workers.services.access_log_push). A record this socket, or another
        socket of the same person in this process, has already logged costs
        nothing more; one logged by another process is refused by the
        table's unique constraint."""
        if item in self.pushed_items or self.pushing_as is None:
            return
        accessor = self.pushing_as
        key = (accessor.pk, item)
        if not _pushes_recorded.done(key):
            call = database_sync_to_async(access_log_push)
            await _pushes_recorded.run(
                key, lambda: call(accessor=accessor, worker_id=worker_id, what=what, item=item, origin=origin)
            )
        self.pushed_items.add(item)

    # --- the close event ------------------------------------------------------------

    async def sockets_close(self, event: dict[str, Any]) -> None:
        """healthhub.live.SOCKETS_CLOSE: the session ended (only this
        session's sockets, when it names one) or the user changed."""
        wanted = event.get("session")
        if wanted is not None and (self.session_key is None or session_fingerprint(self.session_key) != wanted):
            return
        await self._close_once(CLOSE_SESSION_ENDED)
