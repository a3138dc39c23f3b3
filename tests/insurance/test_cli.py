"""``hub insurance load-tariff`` and the demo data (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from hub import db
from hub.demo import seed_demo
from insurance.models import Contract, TariffSchedule
from tests.support.apps import make_app


def test_load_tariff(app: Flask, tmp_path: Path) -> None:
    good = tmp_path / "tariff.csv"
    good.write_text("component,unit,amount\nconsult:l2,service,1500000\n", encoding="utf-8")
    runner = app.test_cli_runner()
    args = ["insurance", "load-tariff", str(good), "--label", "CLI", "--currency", "IRR"]
    done = runner.invoke(args=[*args, "--minor-unit", "0", "--effective-from", "2400-02-03"])
    assert done.exit_code == 0, done.output
    with app.app_context(), db.transaction() as sess:
        row = sess.scalar(
            select(TariffSchedule).where(TariffSchedule.effective_from == date(2400, 2, 3))
        )
        assert row is not None and [i.amount_minor for i in row.items] == [1_500_000]
    bad = tmp_path / "bad.csv"
    bad.write_text("component,unit,amount\nfilm_print,service,1\n", encoding="utf-8")
    refused = runner.invoke(
        args=[*args[:2], str(bad), *args[3:], "--minor-unit", "0", "--effective-from", "2400-02-04"]
    )
    assert refused.exit_code == 1
    assert "line" in refused.output and "SEEDS 000" in refused.output


def test_demo_has_a_tariff_and_a_contract(fresh_database_url: str, tmp_path: Path) -> None:
    # A database of its own: the demo's tariff would be in force for the other tests' services.
    app = make_app(fresh_database_url, tmp_path / "data")
    with app.app_context(), db.transaction() as sess:
        seed_demo(sess, "demo-password-long-enough")
    with app.app_context(), db.transaction() as sess:
        seed_demo(sess, None)  # idempotent
        assert sess.scalar(select(Contract).where(Contract.code == "DEMO-ALL")) is not None
        assert sess.scalar(select(TariffSchedule.id).limit(1)) is not None
