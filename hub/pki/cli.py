"""``hub pki ...`` and ``hub verify-pdf``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives import hashes
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from hub import db
from hub.config import Settings
from hub.documents.services import verify_bytes
from hub.errors import HubError
from hub.models import SigningCertificate, User
from hub.pki import ca, services

pki_group = AppGroup("pki", help="The hub's certification authority.")


def _settings() -> Settings:
    settings: Settings = current_app.config["HUB_SETTINGS"]
    return settings


@pki_group.command("init")
@click.option(
    "--name",
    default="National Telemedicine Hub",
    show_default=True,
    help="Organisation name in the CA certificates.",
)
@click.option("--country", default="IR", show_default=True, help="ISO 3166 country code.")
@with_appcontext
def pki_init(name: str, country: str) -> None:
    """Create the root CA, the issuing CA and the TSA certificate in HUB_PKI_DIR."""

    if len(country) != 2 or not country.isalpha():
        raise click.BadParameter("a two-letter country code", param_hint="--country")
    if not 1 <= len(name) <= ca.MAX_NAME:
        raise click.BadParameter(f"1 to {ca.MAX_NAME} characters", param_hint="--name")
    try:
        authority = ca.initialise(
            _settings().pki, _settings().base_url, name=name, country=country.upper()
        )
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"PKI created in {authority.directory}")
    click.echo(f"root CA:    {authority.root.subject.rfc4514_string()}")
    click.echo(f"  SHA-256 fingerprint {authority.root.fingerprint(_sha256()).hex(':')}")
    click.echo(f"issuing CA: {authority.issuing.subject.rfc4514_string()}")
    click.echo("Keep the root key's passphrase offline; only `hub pki root-crl` needs it again.")


def _sha256() -> hashes.SHA256:
    return hashes.SHA256()


@pki_group.command("issue")
@click.argument("username")
@click.option("--licence", default=None, help="Record this licence number on the account first.")
@with_appcontext
def pki_issue(username: str, licence: str | None) -> None:
    """Issue a signing certificate to USERNAME (bound to licence, role and facility)."""

    try:
        with db.transaction() as sess:
            user = services.find_user(sess, username)
            row = services.issue_for_user(sess, _settings(), user, via="cli", licence=licence)
            serial, subject, until = row.serial, row.subject, row.not_after
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"issued certificate {serial}")
    click.echo(f"  subject {subject}")
    click.echo(f"  valid until {until:%Y-%m-%d} UTC")


@pki_group.command("revoke")
@click.argument("serial")
@click.option(
    "--reason",
    default="unspecified",
    show_default=True,
    type=click.Choice(
        [
            "key_compromise",
            "affiliation_changed",
            "superseded",
            "cessation_of_operation",
            "licence_suspended",
            "unspecified",
        ]
    ),
)
@with_appcontext
def pki_revoke(serial: str, reason: str) -> None:
    """Revoke the certificate SERIAL (hex); it is on the next CRL and can no longer sign."""

    try:
        with db.transaction() as sess:
            row = services.revoke(sess, serial, reason)
            when = row.revoked_at
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    assert when is not None
    click.echo(f"certificate {serial} revoked at {when:%Y-%m-%d %H:%M:%S} UTC ({reason})")


@pki_group.command("list")
@click.argument("username", required=False)
@with_appcontext
def pki_list(username: str | None) -> None:
    """List signing certificates (of USERNAME)."""

    with db.transaction() as sess:
        stmt = select(SigningCertificate, User.username).join(User).order_by(SigningCertificate.id)
        if username:
            stmt = stmt.where(User.username == username)
        for row, name in sess.execute(stmt):
            state = (
                f"revoked {row.revoked_at:%Y-%m-%d}"
                if row.revoked_at
                else f"valid until {row.not_after:%Y-%m-%d}"
            )
            click.echo(f"{row.serial}  {name}  {row.role}  licence {row.licence_number}  {state}")


@pki_group.command("crl")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def pki_crl(out: Path) -> None:
    """Write the issuing CA's current CRL (DER) to a file."""

    try:
        with db.transaction() as sess:
            out.write_bytes(services.current_crl(sess, _settings()))
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"CRL written to {out}")


@pki_group.command("root-crl")
@with_appcontext
def pki_root_crl() -> None:
    """Re-sign the root CA's CRL (yearly); needs HUB_PKI_ROOT_PASSPHRASE."""

    try:
        ca.refresh_root_crl(ca.load(_settings().pki))
    except HubError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("root CRL re-signed")


@click.command("verify-pdf")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def verify_pdf_command(file: Path) -> None:
    """Verify FILE's signatures: exit 0 when valid, 1 when invalid, 2 when not signed."""

    try:
        data = file.read_bytes()
    except OSError as exc:
        click.echo(f"{file}: cannot read: {exc.strerror}", err=True)
        sys.exit(2)
    with db.transaction() as sess:
        report = verify_bytes(sess, _settings(), data)
    for sig in report.signatures:
        when = f"{sig.signed_at:%Y-%m-%d %H:%M:%S} UTC" if sig.signed_at else "unknown time"
        verdict = "ok" if sig.ok else "FAILED: " + "; ".join(sig.problems)
        click.echo(
            f"{sig.field_name}: {sig.signer} (licence {sig.licence}, {sig.role}), "
            f"{when}{', certification' if sig.certifying else ''} — {verdict}"
        )
    if report.ok:
        click.echo(f"VALID: {report.reason}")
        return
    click.echo(f"{report.status.upper().replace('_', ' ')}: {report.reason}", err=True)
    sys.exit(1 if report.status == "invalid" else 2)


def init_app(app: Flask) -> None:
    app.cli.add_command(pki_group)
    app.cli.add_command(verify_pdf_command)
