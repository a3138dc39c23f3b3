"""DICOM receive and forward throughput: the hub's node against Orthanc and dcmtk's storescp.

    .venv/bin/python tests/benchmarks/bench_dicom.py        # the issue's run (~15 min)
    .venv/bin/python tests/benchmarks/bench_dicom.py --count 60 --memory 600 --rounds 1  # smoke

A synthetic CT study of ``--count`` slices (512x512, 16 bit, ~0.5 MB each) is sent with
``storescu`` (TCP_NODELAY=1 for every dcmtk and Orthanc process; the node sets TCP_NODELAY
itself), in ``--rounds`` rounds (default 3; each runs hub, Orthanc and storescp in turn,
with new studies, and the ratios are taken within a round; the median is reported, as the
machine's speed drifts between minutes):

(a) one association into the hub's node: each instance fsynced, indexed, committed before its
    success status;
(b) the same into Orthanc with its default settings;
(c) the same into dcmtk ``storescp`` (``--fork``; the C++ ceiling, no index);
(d) four concurrent associations (four studies) into each of the three;
(e) end to end: ``storescu`` -> hub -> Orthanc (Celery worker forwarding) until the last
    instance is in Orthanc, against ``storescu`` -> Orthanc directly;
(f) the node's resident memory over ``--memory`` small instances (10 associations).

Each round also measures the disk: four threads writing the study's files through the node's
own durable write (``imaging.storage.Storage.write``: write, ``fdatasync``, directory fsync),
without network, DICOM or index. That is the most the node could take in (d) on this disk while
keeping its rule of answering success only for flushed instances; Orthanc does not flush the
files it stores.

Peers run from temporary directories on free ports; the hub uses a temporary PostgreSQL database
(``HUB_TEST_PG_DSN``) or, with ``--sqlite``, the embedded SQLite default, and Redis database 14
as the Celery broker for (e). Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import requests  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from tests.imaging.dicomdata import ct_instance  # noqa: E402
from tests.imaging.peers import (  # noqa: E402
    PYTHON,
    dcmtk_env,
    free_port,
    node_env,
    running_orthanc,
    stop,
    wait_port,
)
from tests.support.databases import temporary_database  # noqa: E402

CALLING = "BENCHMOD"
REDIS_BROKER = os.environ.get("HUB_BENCH_BROKER", "redis://127.0.0.1:6379/14")


def make_study(directory: Path, count: int, size: int = 512) -> Path:
    """``count`` slices of one new study; the pixel data is built once and reused."""
    directory.mkdir(parents=True)
    study_uid, series_uid = generate_uid(), generate_uid()
    template: Dataset = ct_instance(
        patient_id="BENCH-1", study_uid=study_uid, series_uid=series_uid, number=1, size=size
    )
    yy, xx = np.mgrid[0:size, 0:size]
    for n in range(1, count + 1):
        uid = generate_uid()
        template.SOPInstanceUID = uid
        template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber = n
        template.PixelData = ((xx + yy + n * 7) % 2048).astype(np.int16).tobytes()
        template.save_as(directory / f"{n:05d}.dcm", enforce_file_format=True)
    return directory


def send(port: int, called: str, directory: Path) -> subprocess.Popen[str]:
    files = sorted(str(p) for p in directory.iterdir())
    return subprocess.Popen(
        ["storescu", "-aet", CALLING, "-aec", called, "127.0.0.1", str(port), *files],
        env=dcmtk_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def timed_sends(port: int, called: str, studies: list[Path]) -> float:
    started = time.perf_counter()
    procs = [send(port, called, s) for s in studies]
    for proc in procs:
        out, _ = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise SystemExit(f"storescu into {called}:{port} failed:\n{out[-2000:]}")
    return time.perf_counter() - started


@contextmanager
def storescp(directory: Path) -> Iterator[int]:
    port = free_port()
    directory.mkdir(parents=True)
    proc = subprocess.Popen(
        ["storescp", "--fork", "-pdu", "131072", "-od", str(directory), str(port)],
        env=dcmtk_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(port, 30, proc)
        yield port
    finally:
        stop(proc)


def hub_command(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "-m", "hub", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"hub {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@contextmanager
def hub_processes(
    env: dict[str, str], log_dir: Path, *commands: str
) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = []
    try:
        for command in commands:
            log = (log_dir / f"{command}.log").open("ab")
            procs.append(
                subprocess.Popen(
                    [PYTHON, "-m", "hub", *command.split()],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        yield procs
    finally:
        for proc in procs:
            stop(proc)


@contextmanager
def hub_node(
    work: Path,
    database_url: str,
    name: str,
    processes: int,
    central: str | None = None,
    with_worker: bool = False,
) -> Iterator[tuple[int, list[subprocess.Popen[bytes]], dict[str, str]]]:
    data = work / name
    data.mkdir()
    port = free_port()
    extra = {
        "HUB_DICOM_PROCESSES": str(processes),
        "HUB_BROKER_URL": REDIS_BROKER,
        "HUB_RESULT_BACKEND": "cache+memory://",
    }
    if central:
        extra["HUB_CENTRAL_PACS"] = central
    env = node_env(database_url, data, port, **extra)
    hub_command(env, "db", "upgrade")
    hub_command(env, "seed-demo")
    hub_command(env, "dicom", "ae", "add", CALLING, "--facility", "HP-A")
    # The beat's periodic drain retries what a failed send left behind.
    commands = ["dicom"] + (["worker", "beat"] if with_worker else [])
    with hub_processes(env, data, *commands) as procs:
        wait_port(port, 180, procs[0], data / "dicom.log")
        yield port, procs, env


def disk_ceiling(directory: Path, studies: list[Path]) -> float:
    """Seconds for one thread per study to store its files as the node does, without DICOM."""
    from concurrent.futures import ThreadPoolExecutor

    from hub.config import ImagingSettings
    from imaging.storage import from_settings, relative_path

    storage = from_settings(ImagingSettings(storage_dir=directory))
    files = [sorted(study.iterdir()) for study in studies]
    contents = [[path.read_bytes() for path in paths] for paths in files]

    def store(index: int) -> None:
        for number, data in enumerate(contents[index]):
            storage.write(relative_path(f"study-{index}", f"sop-{number}"), [data])

    started = time.perf_counter()
    with ThreadPoolExecutor(len(studies)) as pool:
        list(pool.map(store, range(len(studies))))
    return time.perf_counter() - started


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the node's extra processes)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        pids.extend(int(c) for c in children)
    return total


def orthanc_count(url: str) -> int:
    return int(requests.get(f"{url}/statistics", timeout=30).json()["CountInstances"])


def holds(url: str, count: int) -> bool:
    return orthanc_count(url) >= count


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the archive to fill")
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="instances per study")
    parser.add_argument("--memory", type=int, default=3000, help="instances for (f)")
    parser.add_argument("--processes", type=int, default=2, help="node processes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (a)-(e)")
    parser.add_argument("--sqlite", action="store_true", help="embedded SQLite, not Postgres")
    args = parser.parse_args()
    for tool in ("storescu", "storescp"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run scripts/install-system-deps")
    results: dict[str, list[float]] = {}
    n, rounds = args.count, max(1, args.rounds)

    def note(label: str, value: float, text: str) -> None:
        results.setdefault(label, []).append(value)
        print(f"  {label}: {text}", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-dicom-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        print(f"generating {5 * rounds} studies x {n} CT slices (512x512, 16 bit) ...", flush=True)
        # Per round: one study for (a)-(c) and (e), four for (d); every store gets new ones.
        studies = [make_study(work / f"study{i}", n) for i in range(5 * rounds)]
        size_mb = sum(p.stat().st_size for p in studies[0].iterdir()) / n / 1e6
        print(f"  {size_mb:.2f} MB per instance", flush=True)
        if args.sqlite:
            url_a = f"sqlite:///{work / 'hub-a.sqlite'}"
            url_e = f"sqlite:///{work / 'hub-e.sqlite'}"
        else:
            url_a = stack.enter_context(temporary_database("postgresql", work, migrate=False))
            url_e = stack.enter_context(temporary_database("postgresql", work, migrate=False))
        orthanc = stack.enter_context(running_orthanc(work / "orthanc-a"))
        scp_port = stack.enter_context(storescp(work / "storescp"))
        hub_port, hub_procs, _env = stack.enter_context(
            hub_node(work, url_a, "hub-a", args.processes)
        )
        direct = stack.enter_context(running_orthanc(work / "orthanc-direct"))
        central = stack.enter_context(running_orthanc(work / "orthanc-e"))
        e_port, _procs, _e_env = stack.enter_context(
            hub_node(work, url_e, "hub-e", args.processes, central=central.peer, with_worker=True)
        )
        time.sleep(5)  # the worker connects to its broker

        targets = [
            ("hub", hub_port, "HUB"),
            ("orthanc", orthanc.dicom_port, orthanc.aet),
            ("storescp", scp_port, "STORESCP"),
        ]
        for r in range(rounds):
            mine = studies[5 * r : 5 * r + 5]
            # The machine's speed drifts: every round runs all three, each first in turn.
            order = targets[r % 3 :] + targets[: r % 3]
            print(f"round {r + 1}/{rounds}: (a)-(c) one association", flush=True)
            for name, port, called in order:
                seconds = timed_sends(port, called, mine[:1])
                note(f"a {name}", n / seconds, f"{n / seconds:7.1f} instances/s ({seconds:.2f} s)")
            print(f"round {r + 1}/{rounds}: (d) four concurrent associations", flush=True)
            for name, port, called in order:
                seconds = timed_sends(port, called, mine[1:5])
                note(
                    f"d {name}",
                    4 * n / seconds,
                    f"{4 * n / seconds:7.1f} instances/s aggregate ({seconds:.2f} s)",
                )
            seconds = disk_ceiling(work / f"disk{r}", mine[1:5])
            note(
                "d disk",
                4 * n / seconds,
                f"{4 * n / seconds:7.1f} files/s: the node's durable write alone, 4 threads "
                f"({4 * n * size_mb / seconds:.0f} MB/s flushed)",
            )
            shutil.rmtree(work / f"disk{r}")
            print(f"round {r + 1}/{rounds}: (e) storescu -> hub -> Orthanc, and direct", flush=True)
            seconds = timed_sends(direct.dicom_port, direct.aet, mine[:1])
            note("e direct s", seconds, f"{seconds:.2f} s")
            started = time.perf_counter()
            timed_sends(e_port, "HUB", mine[:1])
            wait_until(partial(holds, central.url, n * (r + 1)), 900)
            seconds = time.perf_counter() - started
            note("e via hub s", seconds, f"{seconds:.2f} s")

        print(f"(f) node memory over {args.memory} small instances", flush=True)
        small = []
        per = max(1, args.memory // 10)
        for i in range(10):
            small.append(make_study(work / f"small{i}", per, size=128))
        before = rss_kib(hub_procs[0].pid)
        samples = []
        for directory in small:
            timed_sends(hub_port, "HUB", [directory])
            samples.append(rss_kib(hub_procs[0].pid))
        print(
            "  RSS (MiB) after each association: " + " ".join(f"{s / 1024:.0f}" for s in samples),
            flush=True,
        )

    def ratios(top: str, bottom: str) -> list[float]:
        return [a / b for a, b in zip(results[top], results[bottom], strict=True)]

    print(f"\nresults over {rounds} rounds (instances/s unless stated): median [each round]")
    for key, values in results.items():
        listed = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {key:<14} {statistics.median(values):8.1f}  [{listed}]")
    print("ratios, each measured within one round (targets from issue 4): median [each round]")
    for label, top, bottom, target in (
        ("(a) hub / Orthanc", "a hub", "a orthanc", "   (target >= 1.2)"),
        ("(a) hub / storescp", "a hub", "a storescp", ""),
        ("(d) hub / Orthanc aggregate", "d hub", "d orthanc", "   (target >= 1.5)"),
        ("(d) hub / storescp aggregate", "d hub", "d storescp", ""),
        ("(d) hub / its disk's ceiling", "d hub", "d disk", ""),
        ("(d) disk ceiling / Orthanc", "d disk", "d orthanc", "   (the most (d) can be here)"),
        ("(e) via hub / direct", "e via hub s", "e direct s", "   (target <= 1.3)"),
    ):
        each = ratios(top, bottom)
        listed = ", ".join(f"{v:.2f}" for v in each)
        print(f"  {label:<29}{statistics.median(each):.2f}  [{listed}]{target}")
    print(
        f"  (f) node RSS {before / 1024:.0f} -> {samples[-1] / 1024:.0f} MiB over "
        f"{args.memory} instances"
    )


if __name__ == "__main__":
    main()
