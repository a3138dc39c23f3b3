"""Settings from ``HUB_*`` environment variables, parsed by small typed helpers that fail loudly.

A bad value stops the process at start-up with the variable's name in the message, rather than
surfacing later as a confusing runtime error in a worker.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = _raw(env, name)
    return default if value is None else value


def env_secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (never both)."""
    direct = _raw(env, name)
    path = _raw(env, f"{name}_FILE")
    if direct and path:
        raise ConfigError(f"{name} and {name}_FILE are both set; set only one")
    if path:
        try:
            content = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path!r}: {exc.strerror}") from exc
        if not content:
            raise ConfigError(f"{name}_FILE: {path!r} is empty")
        return content
    return direct


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0,
            maximum: int | None = None) -> int:
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value, 10)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not an integer") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ConfigError(f"{name}={number} must be at least {minimum}{upper}")
    return number


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _raw(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (use one of {sorted(_TRUE | _FALSE)})")


def env_choice(env: Mapping[str, str], name: str, default: str, choices: set[str]) -> str:
    value = _raw(env, name) or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


def env_url(env: Mapping[str, str], name: str, default: str | None,
            schemes: tuple[str, ...]) -> str | None:
    value = _raw(env, name)
    if value is None:
        return default
    scheme = value.split(":", 1)[0]
    if "://" not in value and not value.startswith("sqlite:"):
        raise ConfigError(f"{name}={value!r} is not a URL")
    if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
        raise ConfigError(f"{name}: scheme {scheme!r} is not one of {list(schemes)}")
    return value


@dataclass(frozen=True)
class PkiSettings:
    """The hub's certification authority, its time-stamp authority and signed documents."""

    directory: Path | None = None  # default: $HUB_DATA_DIR/pki
    passphrase: str | None = None  # issuing CA, TSA and clinicians' keys
    root_passphrase: str | None = None  # the root CA's key; defaults to ``passphrase``
    cert_days: int = 730
    tsa_url: str | None = None  # an outside RFC 3161 TSA instead of the hub's own

    @property
    def root_secret(self) -> str | None:
        return self.root_passphrase or self.passphrase


def load_pki(env: Mapping[str, str], data_dir: Path) -> PkiSettings:
    """The ``HUB_PKI_*`` and ``HUB_TSA_URL`` settings."""
    passphrase = env_secret(env, "HUB_PKI_PASSPHRASE")
    root = env_secret(env, "HUB_PKI_ROOT_PASSPHRASE")
    for name, value in (("HUB_PKI_PASSPHRASE", passphrase), ("HUB_PKI_ROOT_PASSPHRASE", root)):
        if value is not None and len(value) < 12:
            raise ConfigError(f"{name} must be at least 12 characters")
    directory = env_str(env, "HUB_PKI_DIR")
    return PkiSettings(
        directory=Path(directory).resolve() if directory else data_dir / "pki",
        passphrase=passphrase,
        root_passphrase=root,
        cert_days=env_int(env, "HUB_PKI_CERT_DAYS", 730, minimum=1, maximum=3650),
        tsa_url=env_url(env, "HUB_TSA_URL", None, ("http", "https")),
    )


SUPPORTED_LOCALES = ("en", "fa", "ru", "tr", "zh")


@dataclass(frozen=True)
class Settings:
    """Every setting the hub reads; built once by :func:`load_settings`."""

    data_dir: Path
    database_url: str
    broker_url: str
    result_backend: str
    redis_url: str | None
    socketio_channel: str
    secret_key: str
    secret_key_generated: bool
    http_host: str
    http_port: int
    demo_password: str | None
    default_locale: str
    login_max_failures: int
    login_lockout_seconds: int
    token_default_ttl: int
    oauth_token_ttl: int
    session_cookie_secure: bool
    web_threads: int
    base_url: str
    attachment_max_bytes: int
    extra: dict[str, str] = field(default_factory=dict)
    pki: PkiSettings = field(default_factory=PkiSettings)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_or_create_secret(data_dir: Path) -> str:
    """A per-installation secret kept in the data directory, so a restart keeps sessions valid."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment; raises :class:`ConfigError` naming the first bad variable."""
    env = os.environ if env is None else env
    data_dir = Path(env_str(env, "HUB_DATA_DIR", "./var") or "./var").resolve()
    database_url = env_url(env, "HUB_DATABASE_URL", f"sqlite:///{data_dir / 'hub.sqlite'}",
                           ("sqlite", "postgresql"))
    broker_url = env_url(env, "HUB_BROKER_URL", f"sqla+sqlite:///{data_dir / 'broker.sqlite'}",
                         ("sqla", "redis", "rediss", "amqp", "memory"))
    result_backend = env_url(env, "HUB_RESULT_BACKEND",
                             f"db+sqlite:///{data_dir / 'results.sqlite'}",
                             ("db", "redis", "rediss", "cache", "rpc"))
    redis_url = env_url(env, "HUB_REDIS_URL", None, ("redis", "rediss"))
    channel = env_str(env, "HUB_SOCKETIO_CHANNEL", "hub-socketio") or "hub-socketio"
    secret = env_secret(env, "HUB_SECRET_KEY")
    generated = secret is None
    if secret is not None and len(secret) < 32:
        raise ConfigError("HUB_SECRET_KEY must be at least 32 characters")
    http_port = env_int(env, "HUB_HTTP_PORT", 5000, minimum=1, maximum=65535)
    http_host = env_str(env, "HUB_HTTP_HOST", "127.0.0.1") or "127.0.0.1"
    demo_password = env_secret(env, "HUB_DEMO_PASSWORD")
    if demo_password is not None and len(demo_password) < 8:
        raise ConfigError("HUB_DEMO_PASSWORD must be at least 8 characters")
    assert database_url and broker_url and result_backend
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        broker_url=broker_url,
        result_backend=result_backend,
        redis_url=redis_url,
        socketio_channel=channel,
        secret_key=secret or _load_or_create_secret(data_dir),
        secret_key_generated=generated,
        http_host=http_host,
        http_port=http_port,
        demo_password=demo_password,
        default_locale=env_choice(env, "HUB_DEFAULT_LOCALE", "en", set(SUPPORTED_LOCALES)),
        login_max_failures=env_int(env, "HUB_LOGIN_MAX_FAILURES", 5, minimum=1),
        login_lockout_seconds=env_int(env, "HUB_LOGIN_LOCKOUT_SECONDS", 900, minimum=1),
        token_default_ttl=env_int(env, "HUB_TOKEN_DEFAULT_TTL", 3600, minimum=60),
        oauth_token_ttl=env_int(env, "HUB_OAUTH_TOKEN_TTL", 3600, minimum=60),
        session_cookie_secure=env_bool(env, "HUB_SESSION_COOKIE_SECURE", False),
        web_threads=env_int(env, "HUB_WEB_THREADS", 32, minimum=1, maximum=1000),
        attachment_max_bytes=env_int(env, "HUB_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024,
                                     minimum=1024),
        base_url=env_str(env, "HUB_BASE_URL", f"http://{http_host}:{http_port}")
        or f"http://{http_host}:{http_port}",
        pki=load_pki(env, data_dir),
    )


def parse_duration(text: str) -> int:
    """``90``, ``30s``, ``15m``, ``1h`` or ``7d`` to seconds; raises ValueError on anything else."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if not text:
        raise ValueError("empty duration")
    unit = units.get(text[-1])
    number = text[:-1] if unit else text
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h, 7d)")
    return int(number) * (unit or 1)
