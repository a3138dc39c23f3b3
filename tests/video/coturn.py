"""A real coturn (Debian ``coturn``) on loopback with REST credentials (``use-auth-secret``)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port

TURNSERVER = "/usr/bin/turnserver"


@dataclass(frozen=True)
class Coturn:
    port: int
    secret: str
    realm: str = "hub.test"

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def coturn(directory: Path) -> Iterator[Coturn]:
    """Start ``turnserver`` on a free loopback port; stopped when the block ends."""
    secret = secrets.token_urlsafe(24)
    if shutil.which(TURNSERVER) is None:
        pytest.fail(f"{TURNSERVER} is missing; install Debian's coturn package")
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    while True:  # the TCP probe found a free TCP port; TURN listens on UDP too
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            break
        except OSError:
            port = free_port()
    relay_low = 40000 + (port % 200) * 100
    config = directory / "turnserver.conf"
    config.write_text(
        "\n".join(
            [
                "listening-ip=127.0.0.1",
                "relay-ip=127.0.0.1",
                f"listening-port={port}",
                f"min-port={relay_low}",
                f"max-port={relay_low + 99}",
                "use-auth-secret",
                f"static-auth-secret={secret}",
                "realm=hub.test",
                "fingerprint",
                "no-tls",
                "no-dtls",
                "no-cli",
                "no-multicast-peers",
                # Tests run everything on loopback; a real deployment keeps coturn's default.
                "allow-loopback-peers",
                f"userdb={directory / 'turndb'}",
                f"pidfile={directory / 'turnserver.pid'}",
                f"log-file={directory / 'turnserver.log'}",
                "simple-log",
                "",
            ]
        )
    )
    proc = subprocess.Popen(
        [TURNSERVER, "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        server = Coturn(port, secret)
        _wait_ready(server, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _wait_ready(server: Coturn, proc: subprocess.Popen[bytes]) -> None:
    from video.turn import credential

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"turnserver exited with {proc.returncode}")
        cred = credential(server.secret, "probe", 60)
        if allocate(server, cred.username, cred.credential, timeout=1.0) is None:
            return
        time.sleep(0.2)
    raise RuntimeError("turnserver did not answer")


def allocate(server: Coturn, username: str, password: str, timeout: float = 5.0) -> str | None:
    """Try a TURN allocation; None when it succeeded, else why it failed."""
    from aioice import turn

    async def attempt() -> str | None:
        try:
            transport, _protocol = await asyncio.wait_for(
                turn.create_turn_endpoint(
                    asyncio.DatagramProtocol,
                    server_addr=("127.0.0.1", server.port),
                    username=username,
                    password=password,
                ),
                timeout,
            )
        except Exception as exc:  # refusal (401/438), timeout, connection error
            return f"{type(exc).__name__}: {exc}"
        transport.close()
        return None

    return asyncio.run(attempt())
