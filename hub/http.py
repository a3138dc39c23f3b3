"""Request ids, error responses (JSON for machines, a page for people) and refusal auditing."""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import urlsplit

from flask import Flask, Response, g, has_request_context, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from hub import audit, db
from hub.auth.principal import Principal
from hub.error_pages import page_text
from hub.errors import AccessDenied, HubError
from hub.limits import BigIdConverter, IdConverter

log = logging.getLogger("hub.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_MACHINE_PREFIXES = ("/api/", "/dicomweb/", "/oauth/", "/metrics", "/healthz", "/readyz")
RETRY_AFTER_SECONDS = 5
# Pages load scripts and styles from the hub only: no inline script or style, nothing from
# elsewhere (a stored script in a patient's name cannot run). Media and images may be blobs
# (video, viewer); websockets are same-origin ('self' covers ws/wss of this host).
# 'wasm-unsafe-eval' lets the viewer compile its image decoders (JPEG-LS, JPEG 2000, JPEG
# baseline are WebAssembly from the hub's own files); it allows no eval of script text.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None: never an open redirect.

    Browsers (and Python's ``urlsplit``) drop tabs and newlines inside a URL and read ``\\`` as
    ``/``, so ``/\t/evil.example`` would become ``//evil.example``, another host; any control
    character or backslash is therefore refused outright.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _wants_json() -> bool:
    if request.path.startswith(_MACHINE_PREFIXES):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def _error_response(
    status: int, code: str, message: str, details: object = None, *, page_detail: bool = True
) -> Response:
    """JSON for machines; for people a page in their language (``page_detail=False`` leaves
    out ``message``, e.g. Werkzeug's English descriptions)."""
    if _wants_json():
        resp = jsonify({"error": {"code": code, "message": message, "details": details}})
    else:
        title, explanation, detail = page_text(status, message if page_detail else None)
        resp = Response(
            render_template(
                "error.html",
                status=status,
                title=title,
                explanation=explanation,
                detail=detail,
                request_id=g.get("request_id", ""),
            ),
            mimetype="text/html",
        )
    resp.status_code = status
    if status == 401 and request.path.startswith(("/api/", "/dicomweb/")):
        resp.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
    return resp


def _rollback() -> None:
    sess = g.get("db_session")
    if sess is not None:
        sess.rollback()


def _rollback_quietly() -> None:
    """Roll back when the database may be gone: the rollback itself may fail then."""
    try:
        _rollback()
    except Exception:
        log.warning("rollback failed (request %s)", g.get("request_id"))


def _audit_refusal(exc: AccessDenied) -> None:
    """Write the refusal in its own transaction: the request's own work was rolled back."""
    principal: Principal | None = g.get("principal")
    if principal is None:
        principal = Principal(kind="anonymous", via="none")
    try:
        with db.transaction() as sess:
            audit.record(
                sess,
                principal,
                exc.action,
                object_type=exc.object_type,
                object_id=exc.object_id,
                outcome="denied",
                details={"method": request.method, "endpoint": request.endpoint},
            )
    except Exception:  # never let the audit write turn a refusal into a 500
        log.exception("could not audit a refusal (request %s)", g.get("request_id"))


class _SessionCookies(SecureCookieSessionInterface):
    """Session cookies marked Secure when ``HUB_SESSION_COOKIE_SECURE`` is true, or (``auto``)
    whenever the request arrived over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config["HUB_SETTINGS"].session_cookie_secure is None and has_request_context():
            return request.is_secure
        return bool(super().get_cookie_secure(app))


def init_app(app: Flask) -> None:
    # Before any route exists: every <int:...> in a URL is bounded to what an id column holds
    # (<bigint:...> for the ids of BIGINT tables).
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigint"] = BigIdConverter
    app.session_interface = _SessionCookies()
    proxies = app.config["HUB_SETTINGS"].trusted_proxies
    if proxies:
        # Behind a TLS-terminating proxy: its X-Forwarded-Proto says whether the client used
        # HTTPS. The client address is read by the login throttle itself (hub.auth.throttle).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=proxies)  # type: ignore[method-assign]

    @app.before_request
    def _assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        # Pages and API answers may carry patient data: no browser or proxy keeps a copy
        # (shared health-post PCs). Static files and answers that chose a policy keep theirs.
        if not request.path.startswith("/static/") and "Cache-Control" not in resp.headers:
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HubError)
    def _hub_error(exc: HubError) -> Response:
        _rollback()
        if isinstance(exc, AccessDenied):
            _audit_refusal(exc)
        return _error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError) -> Response:
        _rollback()
        return _error_response(400, "csrf_failed", "The form expired; reload and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        _rollback()
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = _error_response(
            exc.code or 500, code, exc.description or exc.name, page_detail=False
        )
        # Keep what the exception says besides its HTML body: a 405's Allow (RFC 9110 requires
        # it), a 401's WWW-Authenticate, a 429's Retry-After.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OperationalError)
    def _database_unavailable(exc: Exception) -> Response:
        # No database connection free within the pool's wait (the hub is overloaded), or the
        # database unreachable. Nothing was written, unless the connection broke during the
        # commit itself; either way the same request can be sent again (a consult with the
        # same Idempotency-Key is still created once).
        _rollback_quietly()
        log.warning(
            "database unavailable (%s) in %s %s (request %s)",
            type(exc).__name__,
            request.method,
            request.endpoint,
            g.get("request_id"),
        )
        resp = _error_response(
            503,
            "database_unavailable",
            "The hub's database is busy or unreachable. "
            f"Try again in a few seconds (request {g.get('request_id')}).",
        )
        resp.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        _rollback()
        # The message may contain patient data; log the type and the request id only.
        log.error(
            "unhandled %s in %s %s (request %s)",
            type(exc).__name__,
            request.method,
            request.endpoint,
            g.get("request_id"),
            exc_info=app.debug,
        )
        return _error_response(
            500, "internal_error", f"Something went wrong (request {g.get('request_id')})."
        )
