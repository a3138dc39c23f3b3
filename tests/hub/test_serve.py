"""``hub serve`` as an operator runs it: embedded SQLite database and broker in a fresh data
directory, demo logins printed, web + worker + beat children, a clean stop on SIGTERM, and a
second start on the same data directory."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
import requests
from asn1crypto import algos, tsp

from hub.demo import ACCOUNTS
from hub.pki import ca
from hub.supervisor import STOP_TIMEOUT
from tests.support.processes import (
    HubProcess,
    children_of,
    cmdline,
    descendants_of,
    free_port,
    hub_env,
    pid_alive,
    start_hub,
)

pytestmark = pytest.mark.slow

DEMO_PASSWORD = "demo-password-for-tests"
# About a minute is the expectation; measured 12 s on an idle 2-CPU machine and 52 s under a load
# average of 12, so allow some headroom before calling it a failure.
READY_TIMEOUT = 90.0


def _serve(data_dir: Path, log_dir: Path) -> HubProcess:
    port = free_port()
    # Other listeners (the DICOM node) get free ports too, so parallel runs cannot collide.
    env = hub_env(
        HUB_DATA_DIR=str(data_dir),
        HUB_HTTP_PORT=str(port),
        HUB_DEMO_PASSWORD=DEMO_PASSWORD,
        HUB_DICOM_PORT=str(free_port()),
    )
    return start_hub("serve", env=env, log_dir=log_dir, port=port)


def _time_stamp_request() -> bytes:
    imprint = tsp.MessageImprint(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "hashed_message": hashlib.sha256(b"demo").digest(),
        }
    )
    return bytes(tsp.TimeStampReq({"version": 1, "message_imprint": imprint}).dump())


def _components(proc: HubProcess) -> dict[str, int]:
    """The supervisor's children by component: ``python -m hub <component>``."""
    found = {}
    for pid in children_of(proc.pid):
        args = cmdline(pid)
        assert args[-3:-1] == ["-m", "hub"], f"unexpected child {pid}: {args}"
        found[args[-1]] = pid
    return found


def _stop_and_check(proc: HubProcess) -> float:
    """SIGTERM the supervisor; it must exit 0 and leave no process behind. Returns seconds."""
    family = descendants_of(proc.pid)
    started = time.monotonic()
    status = proc.terminate(timeout=STOP_TIMEOUT + 5)
    took = time.monotonic() - started
    assert status == 0, proc.output()[-3000:]
    left = {pid: cmdline(pid) for pid in family if pid_alive(pid)}
    assert left == {}, f"still running after the supervisor exited: {left}"
    assert "did not stop in time" not in proc.output(), proc.output()[-3000:]
    return took


def test_serve_starts_everything_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir, logs = tmp_path / "data", tmp_path / "logs"
    timings: list[str] = []

    first = _serve(data_dir, logs)
    try:
        first.wait_http("/healthz", READY_TIMEOUT)
        healthy = time.monotonic() - first.started_at
        ready = first.wait_http("/readyz", READY_TIMEOUT - healthy)
        timings.append(
            f"first start: /healthz after {healthy:.1f}s, "
            f"/readyz after {time.monotonic() - first.started_at:.1f}s"
        )
        assert ready.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}

        output = first.output()
        assert "Demo logins:" in output
        for account in ACCOUNTS:
            line = (
                rf"^\s+{re.escape(account.username)}\s+{account.role.value}\s+\S+\s+"
                rf"{re.escape(DEMO_PASSWORD)}$"
            )
            assert re.search(line, output, re.MULTILINE), f"no login line for {account.username}"
        assert (data_dir / "hub.sqlite").exists()  # the embedded database, in the data dir
        # The demo signs out of the box: it made its own CA, and the web child opens its keys
        # (the time-stamp authority signs with one).
        assert (data_dir / "pki" / ca.ROOT_CERT).exists()
        stamp = requests.post(
            f"http://127.0.0.1:{first.port}/pki/tsa",
            data=_time_stamp_request(),
            headers={"Content-Type": "application/timestamp-query"},
            timeout=30,
        )
        assert stamp.status_code == 200, stamp.text[:500]
        assert tsp.TimeStampResp.load(stamp.content)["status"]["status"].native == "granted"

        components = _components(first)
        assert {"web", "worker", "beat"} <= set(components), components
        assert all(pid_alive(pid) for pid in components.values())
        timings.append(f"first stop: {_stop_and_check(first):.1f}s")
    finally:
        first.cleanup()

    second = _serve(data_dir, logs)
    try:
        second.wait_http("/healthz", READY_TIMEOUT)
        timings.append(f"second start: /healthz after {time.monotonic() - second.started_at:.1f}s")
        assert {"web", "worker", "beat"} <= set(_components(second))
        timings.append(f"second stop: {_stop_and_check(second):.1f}s")
    finally:
        second.cleanup()
    print("\nhub serve timings: " + "; ".join(timings))
