"""The hub's core: ``create_app`` wires every part; nothing connects to anything at import time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from flask_wtf import CSRFProtect

from frontend import STATIC_DIR, TEMPLATES_DIR
from hub.config import Settings, load_settings


def create_app(config: dict[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """Build the Flask app; ``settings`` default to the ``HUB_*`` environment."""
    # Imported here, not at the top: the core's modules import ``hub`` itself, and only the
    # app factory may know the domain packages (the layering test holds every other module
    # of the core to that).
    import consult
    import imaging
    import insurance
    import referral
    import video
    from hub import (
        admin_views,
        api,
        audit,
        audit_checkpoints,
        audit_views,
        db,
        documents,
        health,
        http,
        i18n,
        jobs,
        outbox,
        patients_views,
        pki,
        realtime,
        static_files,
        web,
    )
    from hub.auth import login, oauth, oauth_views

    settings = settings or load_settings()
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    app.config.update(
        HUB_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure is True,
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure is True,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        JSON_SORT_KEYS=False,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    app.config.update(config or {})

    http.init_app(app)  # request ids, JSON errors, refusal auditing
    health.init_app(app)  # /healthz, /readyz, /metrics
    db.Database().init_app(app)  # engine + per-request session
    CSRFProtect(app)  # forms; the API checks its own header
    i18n.init_app(app)  # Flask-Babel, right-to-left for Persian
    login.init_app(app)  # session login for people
    oauth.init_app(app)  # OAuth2 authorization server
    oauth_views.init_app(app)  # /oauth/*
    jobs.init_app(app)  # Celery bound to Flask
    realtime.init_app(app)  # Socket.IO rooms per user, facility, region
    web.init_app(app)  # page shell
    static_files.init_app(app)  # gzip copies of the big vendored scripts, when accepted
    admin_views.init_app(app)  # administration: accounts, tokens, OAuth2 clients
    audit_views.init_app(app)  # the audit log viewer
    patients_views.init_app(app)  # patient pages: search, register, consent, memberships
    pki.init_app(app)  # CA, CRL, time-stamp authority, `hub pki`
    documents.init_app(app)  # signed documents: /verify, `hub verify-pdf`
    consult.init_app(app)  # tiered consultations
    imaging.init_app(app)  # DICOM node, study index, forwarding, image links, retention
    video.init_app(app)  # video sessions: signalling, TURN credentials, recordings
    insurance.init_app(app)  # tariffs, coverage, claims, insurer exports
    referral.init_app(app)  # referrals, back-referrals, clinic calendars, appointments
    api.init_app(app)  # /api/v1 with every package's routes, and its OpenAPI document
    jobs.add_periodic(app, "outbox-drain", outbox.drain_task.name, outbox.POLL_EVERY)
    audit.configure(settings.audit.key)  # every event sealed by this process is keyed
    jobs.add_periodic(
        app,
        "audit-checkpoint",
        audit_checkpoints.checkpoint_task.name,
        timedelta(minutes=settings.audit.checkpoint_minutes),
    )

    # Last, and imported here: the commands import services that need the packages above.
    from hub import cli

    cli.init_app(app)
    return app
