"""Real DICOM peers for tests and benchmarks: the hub's node as a process, Orthanc with its own
configuration and storage on free ports, dcmtk's tools. Nagle is off everywhere (TCP_NODELAY=1).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import PYTHON, ROOT, free_port, hub_env

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
START_TIMEOUT = 120.0  # a loaded 2-core machine needs its time to import everything


def dcmtk_env() -> dict[str, str]:
    env = dict(os.environ)
    env["TCP_NODELAY"] = "1"
    return env


def dcmtk(*args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool with Nagle off; never raises on a non-zero exit."""
    return subprocess.run(
        list(args), env=dcmtk_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_port(
    port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            text = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(
                f"process exited ({proc.returncode}) before port {port} opened:\n{text}"
            )
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout:.0f}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM the process group we started, SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@dataclass
class Orthanc:
    directory: Path
    dicom_port: int
    http_port: int
    aet: str = "ORTHANC"
    proc: subprocess.Popen[bytes] | None = None
    # Orthanc answers C-FIND and C-GET only from AEs it knows, unless this is set (priors).
    allow_find: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def peer(self) -> str:
        return f"dicom://{self.aet}@127.0.0.1:{self.dicom_port}"

    def config(self) -> Path:
        path = self.directory / "orthanc.json"
        path.write_text(
            json.dumps(
                {
                    "Name": "test-archive",
                    "StorageDirectory": str(self.directory / "storage"),
                    "IndexDirectory": str(self.directory / "index"),
                    "DicomAet": self.aet,
                    "DicomPort": self.dicom_port,
                    "HttpPort": self.http_port,
                    "RemoteAccessAllowed": False,
                    "AuthenticationEnabled": False,
                    "DicomCheckCalledAet": False,
                    "HttpServerEnabled": True,
                    "Plugins": [],
                    "ConcurrentJobs": 2,
                    "StableAge": 1,
                    **(
                        {"DicomAlwaysAllowFind": True, "DicomAlwaysAllowGet": True}
                        if self.allow_find
                        else {}
                    ),
                }
            )
        )
        return path

    def start(self) -> None:
        log = self.directory / "orthanc.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [ORTHANC, str(self.config())],
                env=dcmtk_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_port(self.http_port, START_TIMEOUT, self.proc, log)
        wait_port(self.dicom_port, START_TIMEOUT, self.proc, log)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def kill(self) -> None:
        """Stop at once, mid-association (a graceful stop lets the association finish)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def instances_of(self, study_uid: str) -> list[str]:
        resp = requests.post(
            f"{self.url}/tools/find",
            json={"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}},
            timeout=30,
        )
        resp.raise_for_status()
        return list(resp.json())

    def statistics(self) -> dict[str, int]:
        return dict(requests.get(f"{self.url}/statistics", timeout=30).json())


@contextlib.contextmanager
def running_orthanc(directory: Path, allow_find: bool = False) -> Iterator[Orthanc]:
    directory.mkdir(parents=True, exist_ok=True)
    orthanc = Orthanc(directory, free_port(), free_port(), allow_find=allow_find)
    orthanc.start()
    try:
        yield orthanc
    finally:
        orthanc.stop()


@dataclass
class Node:
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def node_env(database_url: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    values = {
        "HUB_DATABASE_URL": database_url,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_DICOM_PORT": str(port),
        "HUB_BROKER_URL": "memory://",
        "HUB_RESULT_BACKEND": "cache+memory://",
        "HUB_SECRET_KEY": "test-secret-key-that-is-long-enough-for-the-hub",
    }
    return hub_env(**{**values, **extra})


@contextlib.contextmanager
def running_node(database_url: str, data_dir: Path, **extra: str) -> Iterator[Node]:
    """``hub dicom`` as a real process on a free port, until the block ends."""
    port = free_port()
    env = node_env(database_url, data_dir, port, **extra)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"node-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "hub", "dicom"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        wait_port(port, START_TIMEOUT, proc, log)
        yield Node(port, env, proc, log)
    finally:
        stop(proc)
