"""Processes the bench starts, and what /proc says about them.

Every server process is started in a session of its own, so stopping it means
signalling that one process group (its id is the pid we started), which also
reaches uvicorn's and Celery's worker children and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to the hard limit; return it.

    5,000 sockets need more than the usual soft limit of 1,024 descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Supervisor:
    """Starts processes and guarantees they are stopped (``stop_all``)."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)
    logged: set[str] = field(default_factory=set)

    def start(self, name: str, argv: list[str], env: dict[str, str], nice: int = 0) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)

        def prepare() -> None:
            raise_nofile_limit()
            if nice:
                os.nice(nice)

        # One log per name for the whole run: a later start (the next round)
        # appends to it, so an error of an earlier round is still there.
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("ab" if name in self.logged else "wb")
        self.logged.add(name)
        log.write(f"--- {name} started at {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=prepare,
        )
        log.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 15.0) -> None:
        if proc.alive():
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The group may outlive its leader (a worker child still exiting).
        deadline = time.monotonic() + 5
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(proc.pid) or proc.alive():
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# --- /proc --------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    head, _, rest = raw.rpartition(")")
    comm = head.partition("(")[2]
    return [str(pid), comm, *rest.split()]


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def tree(pid: int) -> list[int]:
    """``pid`` and all of its descendants."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        fields = _stat_fields(other)
        if fields is not None:
            children.setdefault(int(fields[3]), []).append(other)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int) -> float:
    """VmRSS summed over ``pid`` and its descendants, in MiB."""
    return sum(rss_kib(p) for p in tree(pid)) / 1024


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[13]) + int(fields[14])  # utime + stime
    return total / CLOCK_TICKS


def pids_named(*names: str) -> list[int]:
    """Processes whose command name is one of ``names`` (PostgreSQL, Redis)."""
    found = []
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None and fields[1] in names:
            found.append(pid)
    return found


def machine_cpu_seconds() -> tuple[float, float, float]:
    """(busy, total, stolen) CPU seconds of the whole machine since boot, all
    cores. Busy includes stolen time: a virtual machine's host ran something
    else on these cores meanwhile."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS, values[7] / CLOCK_TICKS


def read_sysctl(name: str) -> str:
    try:
        return Path("/proc/sys/" + name.replace(".", "/")).read_text().strip()
    except OSError:
        return "?"
