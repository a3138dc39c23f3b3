"""Demo data: a tariff schedule, the demo insurer's contract and a supplementary insurer."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Insurer, InsurerKind
from insurance.models import Contract, Coverage, TariffItem, TariffSchedule, TariffUnit

# Illustrative amounts in Iranian rials (minor unit 0), not an official tariff.
DEMO_TARIFF = (
    ("consult:l2", TariffUnit.SERVICE, 1_500_000, "Specialist consult, level 2"),
    ("consult:l3", TariffUnit.SERVICE, 2_000_000, "Specialist consult, level 3"),
    ("async_review", TariffUnit.SERVICE, 300_000, "Asynchronous review of the record"),
    ("phone_consult", TariffUnit.SERVICE, 200_000, "Telephone consult"),
    ("video_minute", TariffUnit.MINUTE, 60_000, "Video, per started minute"),
    ("prescription", TariffUnit.SERVICE, 150_000, "Signed e-prescription"),
    ("referral", TariffUnit.SERVICE, 250_000, "Signed referral letter"),
    ("image_reading:ct", TariffUnit.SERVICE, 3_000_000, "Reading a CT study"),
    ("image_reading:cr", TariffUnit.SERVICE, 800_000, "Reading a radiograph"),
    ("report", TariffUnit.SERVICE, 400_000, "Signed imaging report"),
)


def seed_insurance(session: Session) -> None:
    if session.scalar(select(TariffSchedule.id).limit(1)) is None:
        schedule = TariffSchedule(
            label="Demo national tariff 2026",
            currency="IRR",
            minor_unit=0,
            effective_from=date(2026, 1, 1),
            source_sha256="0" * 64,
        )
        session.add(schedule)
        session.flush()
        for code, unit, amount, text in DEMO_TARIFF:
            session.add(
                TariffItem(
                    schedule_id=schedule.id,
                    component=code,
                    unit=unit,
                    amount_minor=amount,
                    description=text,
                )
            )
    basic = session.scalar(select(Insurer).where(Insurer.code == "DEMO"))
    if (
        basic is not None
        and session.scalar(select(Contract.id).where(Contract.code == "DEMO-ALL")) is None
    ):
        contract = Contract(code="DEMO-ALL", insurer_id=basic.id, valid_from=date(2026, 1, 1))
        session.add(contract)
        session.flush()
        session.add(Coverage(contract_id=contract.id, component="*", coverage_bp=7000))
        session.add(
            Coverage(
                contract_id=contract.id,
                component="video_minute",
                coverage_bp=9000,
                cap_minor=50_000,
            )
        )
    if session.scalar(select(Insurer.id).where(Insurer.code == "DEMO-SUPP")) is None:
        session.add(
            Insurer(
                code="DEMO-SUPP",
                name="Demo Supplementary Insurance",
                kind=InsurerKind.SUPPLEMENTARY,
            )
        )
    session.flush()
