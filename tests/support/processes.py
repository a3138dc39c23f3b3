"""Real hub processes for tests: free ports, start ``python -m hub <command>``, wait for HTTP,
stop with SIGTERM, and always clean up.

Each process is started in a session (and process group) of its own, so whatever it spawns
(gunicorn workers, ``hub serve``'s children) can be found and, as a last resort, killed together
without touching anything else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STOP_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_env(**values: str) -> dict[str, str]:
    """This environment without any ``HUB_*`` variable of the developer's, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONUNBUFFERED"] = "1"  # so output can be read while the process runs
    env.update(values)
    return env


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie has already exited)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` that are still running."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def descendants_of(pid: int) -> list[int]:
    result: list[int] = []
    queue = [pid]
    while queue:
        for child in children_of(queue.pop()):
            result.append(child)
            queue.append(child)
    return result


def established_on(port: int, pids: list[int], peer_port: int | None = None) -> set[int]:
    """Which of ``pids`` hold an established TCP connection on local ``port`` (/proc): which
    of several processes sharing a listening port took the connections made to it. With
    ``peer_port``, only the connection coming from that port (one client socket)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if (
                    int(fields[1].rsplit(":", 1)[1], 16) == port
                    and fields[3] == "01"
                    and (peer_port is None or int(fields[2].rsplit(":", 1)[1], 16) == peer_port)
                ):
                    inodes.add(fields[9])
    holders = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).removeprefix("socket:[").rstrip("]") in inodes:
                    holders.add(pid)
    return holders


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class HubProcess:
    """One started ``python -m hub ...``; its output goes to ``log_path``."""

    args: tuple[str, ...]
    popen: subprocess.Popen[bytes]
    port: int | None
    log_path: Path
    started_at: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        assert self.port is not None, "this process has no HTTP port"
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _describe(self, tail: int = 4000) -> str:
        return f"`hub {' '.join(self.args)}` (pid {self.pid}); output:\n{self.output()[-tail:]}"

    def wait_http(
        self, path: str = "/healthz", timeout: float = 60.0, status: int = 200
    ) -> requests.Response:
        """Poll ``path`` until it answers ``status``; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            code = self.popen.poll()
            if code is not None:
                raise AssertionError(
                    f"exited with status {code} before {path} answered: " + self._describe()
                )
            try:
                resp = requests.get(self.base_url + path, timeout=5)
            except requests.RequestException as exc:
                last = type(exc).__name__
            else:
                if resp.status_code == status:
                    return resp
                last = f"{resp.status_code} {resp.text[:500]}"
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path} did not answer {status} within {timeout:.0f}s "
                    f"(last: {last}): " + self._describe()
                )
            time.sleep(0.1)

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM the process itself (not its group) and return its exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"did not exit within {timeout:.0f}s of SIGTERM: " + self._describe()
            ) from None

    def cleanup(self) -> None:
        """Stop the process and everything in its process group, however the test went."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(STOP_TIMEOUT)
            # The group is ours: the process was started as its leader (start_new_session).
            deadline = time.monotonic() + 5
            while _group_alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(self.pid):
                os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
            self.popen.wait()


def start_hub(
    *args: str, env: dict[str, str], log_dir: Path, port: int | None = None
) -> HubProcess:
    """Start ``python -m hub *args``; the caller must call :meth:`HubProcess.cleanup`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"hub-{'-'.join(args)}-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [PYTHON, "-m", "hub", *args],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return HubProcess(
        args=args, popen=popen, port=port, log_path=log_path, started_at=time.monotonic()
    )


@contextlib.contextmanager
def running_hub(
    *args: str,
    env: dict[str, str],
    log_dir: Path,
    port: int,
    ready_path: str = "/healthz",
    timeout: float = 60.0,
) -> Iterator[HubProcess]:
    """A started hub process that answers ``ready_path``; stopped and cleaned up on exit.

    ``env`` must set ``HUB_HTTP_PORT`` to ``port``.
    """
    assert env.get("HUB_HTTP_PORT") == str(port), "HUB_HTTP_PORT must match port"
    proc = start_hub(*args, env=env, log_dir=log_dir, port=port)
    try:
        proc.wait_http(ready_path, timeout)
        yield proc
    finally:
        proc.cleanup()


@contextlib.contextmanager
def web_processes(
    database_url: str,
    directory: Path,
    *,
    redis_url: str,
    channel: str,
    secret: str,
    count: int = 2,
    **extra: str,
) -> Iterator[list[HubProcess]]:
    """``count`` ``hub web`` processes sharing one database and one Socket.IO channel on Redis,
    as several web nodes run in production; stopped on exit (before the database is dropped).
    ``extra``: more or other settings for each (e.g. HUB_WEB_WORKERS)."""
    with contextlib.ExitStack() as stack:
        procs = []
        for n in range(1, count + 1):
            port = free_port()
            settings = {
                "HUB_HTTP_PORT": str(port),
                "HUB_DATABASE_URL": database_url,
                "HUB_REDIS_URL": redis_url,
                "HUB_SOCKETIO_CHANNEL": channel,
                "HUB_SECRET_KEY": secret,
                "HUB_DATA_DIR": str(directory / f"data{n}"),
                "HUB_BROKER_URL": "memory://",
                "HUB_RESULT_BACKEND": "cache+memory://",
                "HUB_WEB_THREADS": "8",
            }
            env = hub_env(**{**settings, **extra})
            proc = start_hub("web", env=env, log_dir=directory / "logs", port=port)
            stack.callback(proc.cleanup)
            procs.append(proc)
        for proc in procs:
            proc.wait_http("/healthz", timeout=120)
        yield procs
