"""A TCP relay on loopback that caps each direction at a fixed rate: a slow link (e.g. the
2 Mbit/s of a rural facility, SEEDS 002) for tests and benchmarks that cannot use `tc`."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

CHUNK = 4096


class TokenBucket:
    """``rate`` bytes per second with a burst of ``burst`` bytes, shared by one direction."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, n: int) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                wait = (n - self.tokens) / self.rate
            time.sleep(wait)


@dataclass
class Relay:
    port: int
    forwarded: dict[str, int] = field(default_factory=lambda: {"up": 0, "down": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, key: str, n: int) -> None:
        with self.lock:
            self.forwarded[key] += n


def _pump(
    src: socket.socket, dst: socket.socket, bucket: TokenBucket, relay: Relay, key: str
) -> None:
    try:
        while data := src.recv(CHUNK):
            bucket.take(len(data))
            dst.sendall(data)
            relay.count(key, len(data))
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def throttled_relay(target_port: int, bits_per_second: int) -> Iterator[Relay]:
    """Listen on a free loopback port; every connection goes to ``target_port`` at the rate."""
    rate = bits_per_second / 8
    up, down = TokenBucket(rate, 16 * 1024), TokenBucket(rate, 16 * 1024)
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    relay = Relay(port=server.getsockname()[1])
    stopping = threading.Event()
    sockets: list[socket.socket] = []

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sockets.append(s)
            for args in (
                (client, upstream, up, relay, "up"),
                (upstream, client, down, relay, "down"),
            ):
                threading.Thread(target=_pump, args=args, daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield relay
    finally:
        stopping.set()
        server.close()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
        acceptor.join(5)
