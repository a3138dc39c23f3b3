"""Session login for people (Flask-Login), with the CSRF-protected login form.

The cookie names a server-side session (:mod:`hub.auth.sessions`), checked on every request:
logout, idle expiry and a disabled account end it. Logins are throttled per client address and
per account (:mod:`hub.auth.throttle`).
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hub import audit, db
from hub.auth import sessions
from hub.auth.principal import SYSTEM, user_principal
from hub.auth.throttle import LoginPolicy, address_retry_after, client_address
from hub.errors import Unauthorized
from hub.http import local_path
from hub.models import User, utcnow
from hub.services.users import authenticate

login_manager = LoginManager()
bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """Flask-Login's view of a :class:`User` in one login session.

    Flask-Login keeps :meth:`get_id` in the cookie: that is the session's random key, never the
    user's row id, so the cookie is worth nothing once its session has ended.
    """

    def __init__(self, user: User, key: str) -> None:
        self.user = user
        self.id = str(user.id)
        self.session_key = key

    def get_id(self) -> str:
        return self.session_key


@login_manager.user_loader
def _load_user(key: str) -> SessionUser | None:
    settings = current_app.config["HUB_SETTINGS"]
    sess = db.session()
    # Writes (last use, expiry) only when nothing else of this request is in the transaction
    # yet, so committing them commits nothing else; see _load_session_first.
    fresh = not sess.in_transaction()
    row = sessions.find_session(sess, key)
    if row is None:
        return None
    now = utcnow()
    refused = sessions.refusal(row, timedelta(minutes=settings.session_idle_minutes), now)
    if refused == "idle" and fresh:
        sessions.end_session(sess, row, "idle")
        sess.commit()
    if refused is not None:
        return None
    if fresh and sessions.needs_touch(row, now):
        row.last_seen_at = now
        sess.commit()
    return SessionUser(row.user, key)


def _load_session_first() -> None:
    """Check the session cookie before the view runs, while the request's transaction is still
    empty: the check may write the session's last use and commit it on its own."""
    if request.endpoint != "static":
        current_user._get_current_object()  # runs Flask-Login's user loader now


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=512)])


def _throttled(form: LoginForm, address: str, retry_after: int) -> tuple[str, int, dict[str, str]]:
    sess = db.session()
    audit.record(
        sess,
        SYSTEM,
        "hub:login:refused",
        object_type="user",
        outcome="denied",
        details={"reason": "address_throttled", "address": address},
    )
    sess.commit()
    # The translated message every refusal shows; how long to wait is in Retry-After.
    error = _("Wrong username or password, or the account is locked.")
    page = render_template("login.html", form=form, error=error)
    return page, 429, {"Retry-After": str(retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = LoginForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template(
                "login.html", form=form, error=_("Please fill in both fields.")
            ), 400
        settings = current_app.config["HUB_SETTINGS"]
        policy = LoginPolicy.from_settings(settings)
        address = client_address(
            request.remote_addr, request.headers.get("X-Forwarded-For"), settings.trusted_proxies
        )
        sess = db.session()
        retry_after = address_retry_after(sess, address, policy, utcnow())
        if retry_after is not None:
            return _throttled(form, address, retry_after)
        try:
            user = authenticate(
                sess,
                form.username.data or "",
                form.password.data or "",
                max_failures=settings.login_max_failures,
                lockout_seconds=settings.login_lockout_seconds,
                address=address,
                policy=policy,
            )
        except Unauthorized:
            sess.commit()  # keep the failure count and the audit of the refusal
            return render_template(
                "login.html",
                form=form,
                error=_("Wrong username or password, or the account is locked."),
            ), 401
        key = sessions.open_session(sess, user)
        audit.record(
            sess,
            user_principal(user, "session"),
            "hub:login:succeeded",
            object_type="user",
            object_id=user.id,
        )
        sess.commit()
        session.clear()  # a fresh session on login defeats session fixation
        login_user(SessionUser(user, key))
        if user.locale:
            session["locale"] = user.locale
        # Only same-site relative paths, never an open redirect.
        return redirect(local_path(request.args.get("next")) or url_for("web.home"))
    return render_template("login.html", form=form, error=None)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    sess = db.session()
    row = sessions.find_session(sess, current_user.get_id())
    if row is not None:
        sessions.end_session(sess, row, "logout", actor=user_principal(row.user, "session"))
        sess.commit()
    logout_user()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(_load_session_first)
    app.register_blueprint(bp)
