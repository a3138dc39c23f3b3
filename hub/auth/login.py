"""Session login for people (Flask-Login), with the CSRF-protected login form."""

from __future__ import annotations

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
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hub import audit, db
from hub.auth.principal import user_principal
from hub.errors import Unauthorized
from hub.http import local_path
from hub.models import User
from hub.services.users import authenticate

login_manager = LoginManager()
bp = Blueprint("auth", __name__)


class SessionUser(UserMixin):
    """Flask-Login's view of a :class:`User`; the id includes a salt-free row id only."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)


@login_manager.user_loader
def _load_user(user_id: str) -> SessionUser | None:
    if not user_id.isdigit():
        return None
    user = db.session().get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return SessionUser(user)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=512)])


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template(
                "login.html", form=form, error=_("Please fill in both fields.")
            ), 400
        settings = current_app.config["HUB_SETTINGS"]
        sess = db.session()
        try:
            user = authenticate(
                sess,
                form.username.data or "",
                form.password.data or "",
                max_failures=settings.login_max_failures,
                lockout_seconds=settings.login_lockout_seconds,
            )
        except Unauthorized:
            sess.commit()  # keep the failure count and the audit of the refusal
            return render_template(
                "login.html",
                form=form,
                error=_("Wrong username or password, or the account is locked."),
            ), 401
        audit.record(
            sess,
            user_principal(user, "session"),
            "hub:login:succeeded",
            object_type="user",
            object_id=user.id,
        )
        sess.commit()
        session.clear()  # a fresh session on login defeats session fixation
        login_user(SessionUser(user))
        if user.locale:
            session["locale"] = user.locale
        # Only same-site relative paths, never an open redirect.
        return redirect(local_path(request.args.get("next")) or url_for("web.home"))
    return render_template("login.html", form=form, error=None)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    flash(_("You are logged out."))
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.register_blueprint(bp)
