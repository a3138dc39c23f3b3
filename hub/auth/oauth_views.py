"""HTTP endpoints of the OAuth2 server: /oauth/token, /oauth/revoke, /oauth/introspect and the
/oauth/authorize consent page for apps using authorization code + PKCE."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidScopeError
from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from hub import db
from hub.auth.oauth import authorization_server, granted_scopes

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


def _commit_after(response: ResponseReturnValue) -> ResponseReturnValue:
    db.session().commit()
    return response


@bp.post("/token")
def issue_token() -> ResponseReturnValue:
    return _commit_after(authorization_server.create_token_response())


@bp.post("/revoke")
def revoke_token() -> ResponseReturnValue:
    return _commit_after(authorization_server.create_endpoint_response("revocation"))


@bp.post("/introspect")
def introspect_token() -> ResponseReturnValue:
    return _commit_after(authorization_server.create_endpoint_response("introspection"))


class ConsentForm(FlaskForm):
    pass


@bp.route("/authorize", methods=["GET", "POST"])
@login_required
def authorize() -> ResponseReturnValue:
    user = current_user.user
    form = ConsentForm()
    if request.method == "GET":
        try:
            grant = authorization_server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return render_template("oauth_error.html", error=error), 400
        # Show what the app will really get, not merely what it asked for.
        scopes = granted_scopes(grant.client, user, grant.request.payload.scope)
        if not scopes:
            return render_template("oauth_error.html", error=InvalidScopeError()), 400
        return render_template(
            "oauth_authorize.html", form=form, grant=grant, client=grant.client.row, scopes=scopes
        )
    if not form.validate_on_submit():
        return render_template("oauth_error.html", error=None), 400
    try:
        # Validated again on POST: the query string is the request being answered.
        grant = authorization_server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if error.redirect_uri:
            # The redirect URI was checked against the app's registration, so the app hears of
            # the refusal (e.g. invalid_scope) at its callback, with its state (RFC 6749 4.1.2.1).
            return authorization_server.handle_error_response(request, error)
        return render_template("oauth_error.html", error=error), 400
    granted = user if request.form.get("decision") == "allow" else None
    return _commit_after(
        authorization_server.create_authorization_response(grant_user=granted, grant=grant)
    )


def init_app(app: Flask) -> None:
    csrf = app.extensions["csrf"]
    # Token, revoke and introspect are machine endpoints authenticated by client credentials.
    for view in (issue_token, revoke_token, introspect_token):
        csrf.exempt(view)
    app.register_blueprint(bp)
