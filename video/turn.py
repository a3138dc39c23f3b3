"""TURN credentials in coturn's REST scheme (``use-auth-secret``) and the per-session ICE config.

username = ``<expiry unix time>:<user>``, password = base64(HMAC-SHA1(secret, username)): coturn
recomputes the password from its ``static-auth-secret`` and refuses expired usernames, so the hub
never stores TURN passwords and a leaked one stops working at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from hub.config import VideoSettings


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def credential(secret: str, user: str, ttl: int, *, now: float | None = None) -> TurnCredential:
    """Credentials for ``user`` valid for ``ttl`` seconds."""
    if ":" in user:
        raise ValueError("the TURN user part must not contain ':'")
    expires = int(now if now is not None else time.time()) + ttl
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


def ice_config(settings: VideoSettings, user: str) -> dict[str, Any]:
    """The RTCConfiguration a participant's browser uses for one session."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    expires_at = None
    if settings.turn_urls and settings.turn_secret:
        cred = credential(settings.turn_secret, user, settings.turn_ttl)
        expires_at = cred.expires_at
        servers.append(
            {
                "urls": list(settings.turn_urls),
                "username": cred.username,
                "credential": cred.credential,
            }
        )
    return {
        "iceServers": servers,
        "iceTransportPolicy": "relay" if settings.relay_only else "all",
        "expiresAt": expires_at,
    }
