"""Signed-document benchmark: render + sign throughput, sign-only and verify-only times.

    .venv/bin/python tests/benchmarks/bench_signing.py [--docs N] [--locale fa] [--workers 2]

Needs no database: it creates a throw-away CA in a temporary directory (as ``hub pki init``
does), issues one clinician's RSA-2048 certificate and a requester's, and then, with the real
WeasyPrint and pyHanko code paths of ``hub.documents``:

  1. renders a 2-page trilingual consult outcome (English labels with Persian and Russian
     clinical text, or the labels of ``--locale``) as PDF/A-3b with its JSON attached;
  2. certifies it (PAdES, visible signature, RFC 3161 time-stamp from the hub's TSA);
  3. countersigns it (incremental update) and verifies both signatures;
  4. measures render + certify throughput on one core (sequential), then with a process pool of
     ``--workers`` processes (default: every core).

Target: at least 4 signed documents per second per core. Exit status 1 only when the run itself
failed (``--strict`` also fails it when the target is missed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from consult.document_text import TEXT  # noqa: E402
from consult.signing import OUTCOME  # noqa: E402
from hub.config import PkiSettings  # noqa: E402
from hub.documents import pdfsign, render  # noqa: E402
from hub.documents.text import Labels  # noqa: E402
from hub.documents.verify import verify_pdf  # noqa: E402
from hub.models import utcnow  # noqa: E402
from hub.pki import ca  # noqa: E402
from hub.pki.signer import SoftwareSigner, to_asn1  # noqa: E402
from hub.pki.tsa import HubTimeStamper  # noqa: E402

TARGET_PER_CORE = 4.0
BASE_URL = "https://hub.example.org"

# Trilingual clinical text in paragraphs, as a specialist writes it: two pages in all.
ASSESSMENT = "\n".join(
    [
        "Community-acquired pneumonia of the right lower lobe, CURB-65 score 1; no sign of sepsis.",
        "پنومونی اکتسابی از جامعه در لوب تحتانی ریه راست؛ نشانه‌ای از سپسیس دیده نمی‌شود.",
        "Внебольничная пневмония нижней доли правого лёгкого, признаков сепсиса нет.",
    ]
    * 3
)
RECOMMENDATION = "\n".join(
    [
        "Amoxicillin 1 g three times a day for seven days; paracetamol as needed; oral fluids.",
        "Re-check SpO2 and temperature in 48 hours and refer if SpO2 falls below 92%.",
        "آموکسی‌سیلین یک گرم سه بار در روز به مدت هفت روز؛ پایش اشباع اکسیژن پس از ۴۸ ساعت.",
        "Амоксициллин 1 г три раза в день в течение семи дней; контроль SpO2 через 48 часов.",  # noqa: RUF001
    ]
    * 2
)


def _context(locale: str) -> tuple[dict[str, Any], dict[str, Any], Labels]:
    labels = Labels(locale, TEXT)
    patient = {
        "id": 1,
        "national_id": "0012345678",
        "id_country": "IR",
        "name": "زهرا احمدی",
        "date_of_birth": "1980-04-02",
        "sex": "female",
    }
    person = {
        "id": 2,
        "name": "Dr. Maryam Karimi",
        "licence": "MC-123456",
        "facility": "Imam Reza Hospital",
    }
    chw = {"id": 3, "name": "Ali Rezaei", "licence": "CHW-42", "facility": "Health post 17"}
    lines = [
        {
            "medicine": "Amoxicillin",
            "dose": "1 g",
            "route": "oral",
            "frequency": "three times a day",
            "duration_days": 7,
            "notes": None,
        },
        {
            "medicine": "Paracetamol",
            "dose": "500 mg",
            "route": "oral",
            "frequency": "as needed, at most 4 a day",
            "duration_days": 5,
            "notes": None,
        },
    ]
    outcome = {
        "assessment": ASSESSMENT,
        "recommendation": RECOMMENDATION,
        "disposition": "manage_locally",
        "prescription": lines,
        "tasks": [{"description": "Check SpO2 and temperature in 48 hours", "due_on": None}],
    }
    context = {
        "hub_name": labels.hub_name,
        "patient": patient,
        "consult": {
            "id": 1001,
            "specialty": "Pulmonology",
            "urgency": "urgent",
            "mode": "async",
            "requested_at": "2026-11-21 09:30 UTC",
            "question": "Productive cough for three weeks, fever at night. "
            "سرفه خلط‌دار از سه هفته پیش و تب شبانه.",
            "history": "Smoker, 20 pack-years.",
            "vitals": [("T °C", 38.2), ("SpO₂ %", 93), ("HR /min", 104)],
        },
        "outcome": outcome,
        "signers": {"author": person, "counter": chw},
        "signature_roles": {"author": labels.consultant, "counter": labels.requester},
    }
    payload = {
        "patient": patient,
        "consultant": person,
        "requester": chw,
        "outcome": {k: v for k, v in outcome.items() if k != "tasks"},
    }
    return context, payload, labels


class Bench:
    """Everything one process needs: the CA, two signers, the TSA, a document's content."""

    def __init__(self, directory: str, passphrase: str, locale: str) -> None:
        settings = PkiSettings(directory=Path(directory), passphrase=passphrase)
        self.authority = ca.load(settings)
        self.author = self._signer("Dr. Maryam Karimi", "MC-123456", directory, "author")
        self.counter = self._signer("Ali Rezaei", "CHW-42", directory, "counter")
        self.tsa = HubTimeStamper(self.authority)
        self.locale = locale
        self.context, payload, self.labels = _context(locale)
        self.payload = render.canonical_json(payload)

    def _signer(self, name: str, licence: str, directory: str, tag: str) -> SoftwareSigner:
        from hub.pki import keys

        key_path = Path(directory) / f"bench-{tag}.key.pem"
        cert_path = Path(directory) / f"bench-{tag}.crt.der"
        passphrase = self.authority.settings.passphrase
        assert passphrase is not None
        key = keys.decrypt_key(key_path.read_bytes(), passphrase)
        cert = x509.load_der_x509_certificate(cert_path.read_bytes())
        return SoftwareSigner(cert, key, self.authority.chain())

    def render(self) -> render.Rendered:
        return render.render(
            OUTCOME,
            locale=self.locale,
            context=self.context,
            payload=self.payload,
            verify_url=f"{BASE_URL}/verify/0123abcd",
            labels=self.labels,
            issued_at=utcnow(),
            document_id="0123abcd",
        )

    def certify(self, rendered: render.Rendered) -> bytes:
        page, box = rendered.slots["Consultant"]
        return pdfsign.certify(
            rendered.pdf,
            signer=self.author,
            timestamper=self.tsa,
            field="Consultant",
            page=page,
            box=box,
            empty_fields=[("Requester", *rendered.slots["Requester"])],
            reason="benchmark",
            location="Imam Reza Hospital",
        )

    def countersign(self, pdf: bytes) -> bytes:
        return pdfsign.countersign(
            pdf,
            signer=self.counter,
            timestamper=self.tsa,
            field="Requester",
            reason="benchmark",
            location="Post 17",
        )

    def verify(self, pdf: bytes) -> bool:
        report = verify_pdf(
            pdf,
            [to_asn1(self.authority.root)],
            [to_asn1(self.authority.issuing), to_asn1(self.authority.tsa)],
            lambda serial: None,
        )
        return report.ok


def make_ca(directory: str, passphrase: str) -> None:
    from hub.pki import keys

    settings = PkiSettings(directory=Path(directory), passphrase=passphrase)
    authority = ca.initialise(settings, BASE_URL, name="Benchmark Hub", country="IR")
    now = utcnow()
    for tag, name, licence in (
        ("author", "Dr. Maryam Karimi", "MC-123456"),
        ("counter", "Ali Rezaei", "CHW-42"),
    ):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "IR"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, licence),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        cert = ca.issue(
            authority,
            subject=subject,
            public_key=key.public_key(),
            base_url=BASE_URL,
            not_before=now - timedelta(minutes=5),
            not_after=now + timedelta(days=30),
        )
        from cryptography.hazmat.primitives import serialization

        (Path(directory) / f"bench-{tag}.key.pem").write_bytes(keys.encrypt_key(key, passphrase))
        (Path(directory) / f"bench-{tag}.crt.der").write_bytes(
            cert.public_bytes(serialization.Encoding.DER)
        )


_worker: Bench | None = None


def _init_worker(directory: str, passphrase: str, locale: str) -> None:
    global _worker
    _worker = Bench(directory, passphrase, locale)
    _worker.certify(_worker.render())  # warm: fonts, keys, stamp font


def _render_and_sign(_: int) -> int:
    assert _worker is not None
    return len(_worker.certify(_worker.render()))


def _timed(fn: Any, n: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each call (CPU time is what a busy machine does not
    inflate: other processes' load shows in wall time only)."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def _ms(samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = samples
    return (
        f"median {statistics.median(wall) * 1000:7.1f} ms wall, "
        f"{statistics.median(cpu) * 1000:7.1f} ms CPU"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=40, help="documents per throughput run")
    parser.add_argument("--locale", default="en", choices=["en", "fa", "ru", "tr", "zh"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    passphrase = "benchmark-passphrase-" + os.urandom(6).hex()
    print(
        f"{os.cpu_count()} cores; load average at the start: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    with tempfile.TemporaryDirectory(prefix="hub-bench-pki-") as tmp:
        directory = str(Path(tmp) / "pki")
        start = time.perf_counter()
        make_ca(directory, passphrase)
        print(f"CA + 2 clinician certificates created in {time.perf_counter() - start:.2f} s")
        bench = Bench(directory, passphrase, args.locale)
        warm = time.perf_counter()
        first = bench.render()
        signed = bench.certify(first)
        print(
            f"first render + sign (fonts, keys, stamp font): "
            f"{time.perf_counter() - warm:.2f} s; {first.pages} pages, "
            f"{len(first.pdf) / 1024:.0f} KiB unsigned, {len(signed) / 1024:.0f} KiB signed"
        )
        n = max(5, args.docs // 2)
        renders = _timed(bench.render, n)
        rendered = bench.render()
        signs = _timed(lambda: bench.certify(rendered), n)
        counters = _timed(lambda: bench.countersign(signed), n)
        both = bench.countersign(signed)
        if not bench.verify(both):
            print("FAILED: the countersigned benchmark document does not verify")
            return 1
        verifies = _timed(lambda: bench.verify(both), n)
        print(f"render ({args.locale}, 2-page trilingual): {_ms(renders)}")
        print(f"sign only (certify, PAdES + TSA + stamp): {_ms(signs)}")
        print(f"countersign only (incremental update):    {_ms(counters)}")
        print(f"verify only (2 signatures, pyHanko):      {_ms(verifies)}")

        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(args.docs):
            bench.certify(bench.render())
        one_core = args.docs / (time.perf_counter() - start)
        per_cpu_second = args.docs / (time.process_time() - start_cpu)
        print(
            f"render + sign, one core:   {one_core:5.2f} documents/s wall-clock, "
            f"{per_cpu_second:5.2f} documents per CPU-second"
        )

        with ProcessPoolExecutor(
            args.workers, initializer=_init_worker, initargs=(directory, passphrase, args.locale)
        ) as pool:
            list(pool.map(_render_and_sign, range(args.workers)))  # every worker warm
            start = time.perf_counter()
            list(pool.map(_render_and_sign, range(args.docs * args.workers)))
            pooled = args.docs * args.workers / (time.perf_counter() - start)
        print(
            f"render + sign, {args.workers} processes: {pooled:5.2f} documents/s "
            f"({pooled / args.workers:.2f} per core)"
        )
        met = per_cpu_second >= TARGET_PER_CORE
        print(
            f"target >= {TARGET_PER_CORE:.0f} signed documents/s per core: "
            f"{'met' if met else 'NOT met'} ({per_cpu_second:.2f} per CPU-second, "
            f"{one_core:.2f}/s wall-clock)"
        )
        print(
            "load average (1, 5, 15 min) at the end: "
            + ", ".join(f"{x:.1f}" for x in os.getloadavg())
        )
        return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
