"""The bare baseline: what ingestion costs without Django, Channels or uvicorn.

A minimal ``websockets`` asyncio server, one process per core sharing one
listening socket (as ``uvicorn --workers`` does): it authenticates a device by
the SHA-256 of its bearer token in ``devices_device``, validates each reading
minimally (metric, range, timestamp window), writes the rows into the same
``devices_reading`` table with PostgreSQL COPY (psycopg 3 ``cursor.copy``),
commits, then acknowledges. It speaks enough of device protocol v1 for the
bench's load generator and no more: no hello frame, rate limit, last-seen
update or channel-layer group.

COPY cannot say ON CONFLICT, so two ways of writing are offered:

- ``staged`` (default): COPY into a per-connection temporary table, then
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: idempotent like healthhub,
  and the accepted count is exact.
- ``plain``: COPY straight into ``devices_reading``. Faster, but a re-sent
  reading would abort the batch on the primary key; the bench never re-sends.

Two ways of committing (``--commit``):

- ``group`` (default): the batches of all of a process's connections are
  committed together, as healthhub's ingestion does (devices.consumers): up
  to WRITERS groups commit at once, batches arriving meanwhile wait for the
  next free writer and share one transaction. This is the limit healthhub is
  compared with.
- ``alone``: each batch is its own transaction (the first baseline's way;
  healthhub's ratio against it flatters healthhub).

Run: ``python -m bench.baseline_server --port 8101 --workers 2 --dsn postgres://...``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from devices.protocol import METRICS

FUTURE_TOLERANCE = timedelta(minutes=5)
BACKFILL = timedelta(days=7)
MAX_BATCH = 500
MAX_FRAME = 256 * 1024
COLUMNS = "device_id, worker_id, metric, value, measured_at, received_at"
STAGE = "baseline_stage"
# As healthhub's ingestion (devices.consumers): concurrent group commits per
# process, and the most readings one group takes.
WRITERS = 4
GROUP_MAX_READINGS = 5000


def _at(raw: Any) -> datetime | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        try:
            return datetime.fromtimestamp(raw / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    if isinstance(raw, str) and len(raw) <= 64:
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            return None
        return at if at.utcoffset() is not None else None
    return None


def _reason(raw: Any, now: datetime) -> tuple[str | None, tuple | None]:
    if not isinstance(raw, dict):
        return "bad_value", None
    metric = METRICS.get(raw.get("metric")) if isinstance(raw.get("metric"), str) else None
    if metric is None:
        return "unknown_metric", None
    value = raw.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "bad_value", None
    if not metric.low <= value <= metric.high:
        return "out_of_range", None
    at = _at(raw.get("at"))
    if at is None:
        return "bad_timestamp", None
    if at > now + FUTURE_TOLERANCE:
        return "future_timestamp", None
    if at < now - BACKFILL:
        return "too_old", None
    return None, (metric.name, float(value), at)


class Ingest:
    def __init__(self, dsn: str, copy_mode: str, pool_size: int, commit: str = "group") -> None:
        from psycopg_pool import AsyncConnectionPool

        self.copy_mode = copy_mode
        self.commit = commit
        self.waiting: list[tuple[list[tuple], asyncio.Future]] = []
        self.writers = 0
        self.tasks: set[asyncio.Task] = set()
        self.pool = AsyncConnectionPool(
            dsn, min_size=min(2, pool_size), max_size=pool_size, open=False, configure=self._configure
        )

    async def _configure(self, conn: Any) -> None:
        if self.copy_mode == "staged":
            await conn.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (LIKE devices_reading) ON COMMIT DELETE ROWS"
            )
            await conn.commit()

    async def device(self, token: str) -> tuple | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, serial, worker_id FROM devices_device WHERE token_hash = %s AND status = 'active'",
                [digest],
            )
            return await cur.fetchone()

    async def store(self, rows: list[tuple]) -> int:
        """Commit the rows (alone, or in a group with other connections'
        batches); return how many were new."""
        if self.commit == "alone":
            return (await self.store_many([rows]))[0]
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, future))
        if self.writers < WRITERS:
            self.writers += 1
            task = asyncio.get_running_loop().create_task(self._write())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    async def _write(self) -> None:
        try:
            while self.waiting:
                size, taken = 0, 0
                for taken, (rows, _) in enumerate(self.waiting, start=1):  # noqa: B007
                    size += len(rows)
                    if size >= GROUP_MAX_READINGS:
                        break
                group, self.waiting = self.waiting[:taken], self.waiting[taken:]
                try:
                    counts = await self.store_many([rows for rows, _ in group])
                except Exception as exc:
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), count in zip(group, counts, strict=True):
                    if not future.done():
                        future.set_result(count)
        finally:
            self.writers -= 1

    async def store_many(self, batches: list[list[tuple]]) -> list[int]:
        """Commit several batches in one transaction; how many rows of each were new."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            target = STAGE if self.copy_mode == "staged" else "devices_reading"
            async with cur.copy(f"COPY {target} ({COLUMNS}) FROM STDIN") as copy:
                for rows in batches:
                    for row in rows:
                        await copy.write_row(row)
            if self.copy_mode != "staged":
                return [len(rows) for rows in batches]
            await cur.execute(
                f"INSERT INTO devices_reading ({COLUMNS}) SELECT {COLUMNS} FROM {STAGE} ON CONFLICT DO NOTHING "
                "RETURNING device_id"
            )
            new: dict[int, int] = {}
            for (device_id,) in await cur.fetchall():
                new[device_id] = new.get(device_id, 0) + 1
            # Each batch is one device's; a device's new rows go to its batches in order.
            counts = []
            for rows in batches:
                device_id = rows[0][0]
                count = min(len(rows), new.get(device_id, 0))
                new[device_id] = new.get(device_id, 0) - count
                counts.append(count)
            return counts

    async def handler(self, ws: Any) -> None:
        scheme, _, token = (ws.request.headers.get("Authorization") or "").partition(" ")
        device = await self.device(token.strip()) if scheme.lower() == "bearer" else None
        if device is None:
            await ws.close(4401)
            return
        device_id, serial, worker_id = device
        if worker_id is None:
            await ws.close(4403)
            return
        welcome = {"type": "welcome", "device": serial, "server_time": datetime.now(UTC).isoformat(), "max_batch": 500}
        await ws.send(orjson.dumps(welcome).decode())
        async for raw in ws:
            await ws.send(orjson.dumps(await self.batch(raw, device_id, worker_id)).decode())

    async def batch(self, raw: str | bytes, device_id: int, worker_id: int) -> dict:
        def error(code: str, seq: int | None = None) -> dict:
            return {"type": "error", "code": code, "detail": code, "seq": seq}

        if len(raw) > MAX_FRAME:
            return error("too_large")
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return error("bad_json")
        if not isinstance(message, dict) or message.get("type") != "readings":
            return error("bad_schema")
        seq = message.get("seq")
        readings = message.get("readings")
        if not isinstance(seq, int) or not isinstance(readings, list):
            return error("bad_schema")
        if len(readings) > MAX_BATCH:
            return error("too_large", seq)
        now = datetime.now(UTC)
        rejected, unique = [], {}
        for index, reading in enumerate(readings):
            reason, valid = _reason(reading, now)
            if reason is not None:
                rejected.append({"index": index, "reason": reason})
            else:
                metric, value, at = valid
                unique.setdefault((metric, at), (device_id, worker_id, metric, value, at, now))
        accepted = await self.store(list(unique.values())) if unique else 0
        valid_count = len(readings) - len(rejected)
        return {
            "type": "ack",
            "seq": seq,
            "accepted": accepted,
            "duplicates": valid_count - accepted,
            "rejected": rejected,
        }

    async def run(self, sock: socket.socket) -> None:
        from websockets.asyncio.server import serve

        await self.pool.open(wait=True)
        stop = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
        async with serve(self.handler, sock=sock, compression=None, max_size=MAX_FRAME + 1024):
            await stop
        await self.pool.close()


def _child(sock: socket.socket, args: argparse.Namespace) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import uvloop

    uvloop.run(Ingest(args.dsn, args.copy, args.pool_size, args.commit).run(sock))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="bare websockets + COPY ingestion server (bench baseline)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--backlog", type=int, default=8192)
    parser.add_argument("--dsn", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--copy", choices=["staged", "plain"], default="staged")
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument("--commit", choices=["group", "alone"], default="group")
    args = parser.parse_args(argv)

    from bench.procs import raise_nofile_limit

    raise_nofile_limit()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(args.backlog)
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                _child(sock, args)
            finally:
                os._exit(0)
        children.append(pid)

    def stop(signum: int, frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"baseline listening on {args.host}:{args.port} with {args.workers} workers"
        f" ({args.copy} COPY, {args.commit} commit)",
        flush=True,
    )
    status = 0
    for pid in children:
        while True:
            try:
                _, code = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        status = status or os.waitstatus_to_exitcode(code)
    return status


if __name__ == "__main__":
    sys.exit(main())
