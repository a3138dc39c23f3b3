"""The ``hub`` command (also ``flask --app hub``): serving, set-up and administration."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from hub import audit_checkpoints, db, hooks
from hub.audit import verify
from hub.auth.oauth import create_client, list_clients, revoke_client
from hub.config import parse_duration
from hub.demo import print_logins, seed_demo
from hub.errors import HubError
from hub.migrate import heads, upgrade
from hub.models import Role, utcnow
from hub.server import serve_web
from hub.services.tokens import (
    create_personal_token,
    list_personal_tokens,
    revoke_personal_token,
)
from hub.services.users import create_user, disable_user, enable_user, generate_password
from hub.supervisor import run_all


def _real_app() -> Flask:
    """The app behind the ``current_app`` proxy, for code that outlives the context."""
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _fail(exc: HubError) -> None:
    raise click.ClickException(exc.message)


# --- serving ---------------------------------------------------------------------------------


@click.command("serve")
@click.option("--no-migrate", is_flag=True, help="Do not apply migrations first.")
@click.option("--no-demo", is_flag=True, help="Do not seed demo data on first start.")
@with_appcontext
def serve_command(no_migrate: bool, no_demo: bool) -> None:
    """Run the whole hub: web server, Celery worker and beat; Ctrl-C stops all of it."""

    sys.exit(run_all(_real_app(), migrate=not no_migrate, demo=not no_demo))


@click.command("web")
@click.option("--host", default=None, help="Defaults to HUB_HTTP_HOST.")
@click.option("--port", type=int, default=None, help="Defaults to HUB_HTTP_PORT.")
@with_appcontext
def web_command(host: str | None, port: int | None) -> None:
    """Run only the web server (HTTP + Socket.IO)."""

    settings = current_app.config["HUB_SETTINGS"]
    serve_web(
        _real_app(),
        host or settings.http_host,
        port or settings.http_port,
        settings.web_threads,
        settings.web_workers,
    )


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run a Celery worker."""
    celery = current_app.extensions["celery"]
    settings = current_app.config["HUB_SETTINGS"]
    # SQLite allows one writer; a single solo worker avoids contention on the embedded broker.
    pool = ["--pool=solo"] if settings.broker_url.startswith("sqla+") else ["--concurrency=2"]
    celery.worker_main(["worker", "--loglevel=INFO", "--without-gossip", "--without-mingle", *pool])


@click.command("beat")
@with_appcontext
def beat_command() -> None:
    """Run the Celery beat scheduler (exactly one per installation)."""
    celery = current_app.extensions["celery"]
    celery.start(["beat", "--loglevel=INFO"])


# --- database and demo -----------------------------------------------------------------------

db_group = AppGroup("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""

    upgrade(current_app.config["HUB_SETTINGS"].database_url, revision)
    click.echo("database is at " + revision, err=True)


@db_group.command("heads")
def db_heads() -> None:
    """Fail unless the migrations have exactly one head."""

    found = heads()
    if len(found) != 1:
        raise click.ClickException(f"expected one Alembic head, found {len(found)}: {found}")
    click.echo(found[0])


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Create the demo organisation, accounts and patients (idempotent); prints the logins."""

    settings = current_app.config["HUB_SETTINGS"]
    with db.transaction() as sess:
        created = seed_demo(sess, settings.demo_password)
    print_logins(created, settings.demo_password)


# --- people and credentials ------------------------------------------------------------------

user_group = AppGroup("user", help="Staff accounts.")


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--facility", "facility_code", help="Facility code (facility-bound roles).")
@click.option("--region", "region_code", help="Macro-region code (command, QA).")
@click.option("--insurer", "insurer_code", help="Insurer code (insurer role).")
@click.option("--specialty", "specialties", multiple=True, help="Specialty code; repeatable.")
@click.option("--full-name", default=None)
@click.option("--licence", default=None, help="Licence number (clinicians).")
@click.option("--password", default=None, help="Omit to generate one (printed once).")
@with_appcontext
def user_create(
    username: str,
    role: str,
    facility_code: str | None,
    region_code: str | None,
    insurer_code: str | None,
    specialties: tuple[str, ...],
    full_name: str | None,
    licence: str | None,
    password: str | None,
) -> None:
    """Create a staff account bound to its scope."""

    generated = password is None
    password = password or generate_password()
    try:
        with db.transaction() as sess:
            create_user(
                sess,
                username,
                full_name=full_name or username,
                role=Role(role),
                facility_code=facility_code,
                region_code=region_code,
                insurer_code=insurer_code,
                specialty_codes=specialties,
                password=password,
                licence_number=licence,
            )
    except HubError as exc:
        _fail(exc)
    click.echo(f"created {username}" + (f" with password {password}" if generated else ""))


@user_group.command("disable")
@click.argument("username")
@with_appcontext
def user_disable(username: str) -> None:
    """Disable USERNAME: no login; their sessions and tokens stop working at once."""

    try:
        with db.transaction() as sess:
            disable_user(sess, username)
    except HubError as exc:
        _fail(exc)
    click.echo(f"disabled {username}")


@user_group.command("enable")
@click.argument("username")
@with_appcontext
def user_enable(username: str) -> None:
    """Let a disabled USERNAME log in again (their old sessions and tokens stay revoked)."""

    try:
        with db.transaction() as sess:
            enable_user(sess, username)
    except HubError as exc:
        _fail(exc)
    click.echo(f"enabled {username}")


token_group = AppGroup("token", help="Personal API tokens.")


@token_group.command("create")
@click.argument("username")
@click.option(
    "--ttl", default=None, help="Lifetime, e.g. 30m, 1h, 7d (default HUB_TOKEN_DEFAULT_TTL)."
)
@click.option("--name", default="cli")
@with_appcontext
def token_create(username: str, ttl: str | None, name: str) -> None:
    """Print a new bearer token for USERNAME (only the token, for scripts)."""

    settings = current_app.config["HUB_SETTINGS"]
    longest = settings.token_max_ttl_days * 86400
    try:
        seconds = parse_duration(ttl) if ttl else settings.token_default_ttl
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    if seconds > longest:
        raise click.BadParameter(
            f"at most {settings.token_max_ttl_days}d (HUB_TOKEN_MAX_TTL_DAYS)", param_hint="--ttl"
        )
    try:
        with db.transaction() as sess:
            token = create_personal_token(
                sess, username, seconds, name=name, max_ttl_seconds=longest
            )
    except HubError as exc:
        _fail(exc)
    click.echo(token)


@token_group.command("list")
@click.argument("username")
@with_appcontext
def token_list(username: str) -> None:
    """List USERNAME's tokens: id, name, created, expires, state (never the tokens)."""

    try:
        with db.transaction() as sess:
            rows = list_personal_tokens(sess, username)
            now = utcnow()
            for row in rows:
                state = (
                    "revoked"
                    if row.revoked_at is not None
                    else "expired"
                    if row.expires_at <= now
                    else "active"
                )
                click.echo(
                    f"{row.id}\t{row.name}\t{row.created_at:%Y-%m-%dT%H:%MZ}"
                    f"\t{row.expires_at:%Y-%m-%dT%H:%MZ}\t{state}"
                )
    except HubError as exc:
        _fail(exc)


@token_group.command("revoke")
@click.argument("token")
@with_appcontext
def token_revoke(token: str) -> None:
    """Revoke a token by its id (`hub token list USERNAME`) or by the token itself."""

    try:
        with db.transaction() as sess:
            row = revoke_personal_token(sess, token)
            token_id = row.id
    except HubError as exc:
        _fail(exc)
    click.echo(f"revoked token {token_id}")


oauth_group = AppGroup("oauth-client", help="OAuth2 clients.")


@oauth_group.command("create")
@click.option("--insurer", "insurer_code", help="A machine client of this insurer.")
@click.option("--facility", "facility_code", help="A machine client of this facility (PACS proxy).")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="An app using authorization code + PKCE; repeatable.",
)
@click.option("--public", is_flag=True, help="An app without a secret (PKCE only).")
@click.option("--scope", default=None, help="Space-separated scopes (default by kind).")
@click.option("--name", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def oauth_client_create(
    insurer_code: str | None,
    facility_code: str | None,
    redirect_uris: tuple[str, ...],
    public: bool,
    scope: str | None,
    name: str | None,
    as_json: bool,
) -> None:
    """Create a client and print its id and secret (the secret is shown only now)."""

    try:
        with db.transaction() as sess:
            client, secret = create_client(
                sess,
                name=name or insurer_code or facility_code or "app",
                insurer_code=insurer_code,
                facility_code=facility_code,
                redirect_uris=redirect_uris,
                public=public,
                scope=scope,
            )
            client_id = client.client_id
    except HubError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps({"client_id": client_id, "client_secret": secret}))
    else:
        click.echo(f"client_id: {client_id}")
        click.echo(f"client_secret: {secret}")


@oauth_group.command("list")
@with_appcontext
def oauth_client_list() -> None:
    """List clients: client id, name, grant types, state (never secrets)."""

    with db.transaction() as sess:
        for row in list_clients(sess):
            state = "revoked" if row.revoked_at is not None else "active"
            click.echo(f"{row.client_id}\t{row.name}\t{','.join(row.grant_types)}\t{state}")


@oauth_group.command("revoke")
@click.argument("client_id")
@with_appcontext
def oauth_client_revoke(client_id: str) -> None:
    """Revoke CLIENT_ID: no new tokens, and its tokens stop working at once."""

    try:
        with db.transaction() as sess:
            revoke_client(sess, client_id)
    except HubError as exc:
        _fail(exc)
    click.echo(f"revoked client {client_id}")


audit_group = AppGroup("audit", help="The audit log.")


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Exit 0 when the chain is intact: hashes, links, MACs under the audit key, and every
    signed checkpoint; otherwise say where the first break is."""
    settings = current_app.config["HUB_SETTINGS"]
    try:
        anchors = audit_checkpoints.load(settings)
    except audit_checkpoints.CheckpointError as exc:
        click.echo(f"audit chain BROKEN: {exc}", err=True)
        sys.exit(1)
    with db.transaction() as sess:
        result = verify(sess, key=settings.audit.key, anchors=anchors)
    if result.ok:
        click.echo(
            f"audit chain intact: {result.checked} events, {result.keyed} with their MAC "
            f"checked, {result.checkpoints} checkpoints"
        )
        return
    click.echo(f"audit chain BROKEN at event {result.first_bad_seq}: {result.reason}", err=True)
    sys.exit(1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Sign the chain's tip into a checkpoint file now (the beat does it periodically)."""
    settings = current_app.config["HUB_SETTINGS"]
    with db.transaction() as sess:
        try:
            path = audit_checkpoints.write(sess, settings)
        except HubError as exc:
            _fail(exc)
    click.echo(f"checkpoint written: {path}" if path else "nothing appended since the last one")


@click.command("seams")
@with_appcontext
def seams_command() -> None:
    """List every seam of hub/hooks.py with the functions registered on it."""
    for name, doc, listeners in hooks.describe():
        click.echo(f"{name}: {doc}")
        for listener in listeners or ["(none)"]:
            click.echo(f"    {listener}")


COMMANDS = (
    serve_command,
    web_command,
    worker_command,
    beat_command,
    db_group,
    seed_demo_command,
    user_group,
    token_group,
    oauth_group,
    audit_group,
    seams_command,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
