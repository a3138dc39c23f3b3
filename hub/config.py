"""Settings from ``HUB_*`` environment variables, parsed by small typed helpers that fail loudly.

A bad value stops the process at start-up with the variable's name in the message, rather than
surfacing later as a confusing runtime error in a worker.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict


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


def env_int(
    env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
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


def _cookie_secure(env: Mapping[str, str]) -> bool | None:
    """``HUB_SESSION_COOKIE_SECURE``: ``auto`` (the default, None) marks cookies Secure on
    requests that arrived over HTTPS; true always, false never."""
    value = _raw(env, "HUB_SESSION_COOKIE_SECURE")
    if value is None or value.lower() == "auto":
        return None
    return env_bool(env, "HUB_SESSION_COOKIE_SECURE", False)


def env_choice(env: Mapping[str, str], name: str, default: str, choices: set[str]) -> str:
    value = _raw(env, name) or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


def env_url(
    env: Mapping[str, str], name: str, default: str | None, schemes: tuple[str, ...]
) -> str | None:
    value = _raw(env, name)
    if value is None:
        return default
    scheme = value.split(":", 1)[0]
    if "://" not in value and not value.startswith("sqlite:"):
        raise ConfigError(f"{name}={value!r} is not a URL")
    if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
        raise ConfigError(f"{name}: scheme {scheme!r} is not one of {list(schemes)}")
    return value


_AE_TITLE = re.compile(r"^[A-Za-z0-9_. -]{1,16}$")


def ae_title(value: str, name: str) -> str:
    """A DICOM AE title: 1-16 characters, no backslash or control characters."""
    value = value.strip()
    if not _AE_TITLE.match(value):
        raise ConfigError(
            f"{name}={value!r} is not a DICOM AE title (1-16 letters, digits, "
            "space, '_', '-' or '.')"
        )
    return value


@dataclass(frozen=True)
class DicomPeer:
    """A remote DICOM node given as ``dicom://AET@host:port``."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"dicom://{self.ae_title}@{self.host}:{self.port}"


def env_dicom_peer(env: Mapping[str, str], name: str) -> DicomPeer | None:
    value = _raw(env, name)
    if value is None:
        return None
    match = re.match(r"^dicom://([^@/]+)@([A-Za-z0-9.\[\]:_-]+):(\d{1,5})$", value)
    if match is None:
        raise ConfigError(f"{name}={value!r} is not dicom://AET@host:port")
    port = int(match.group(3))
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}: port {port} is out of range")
    return DicomPeer(ae_title(match.group(1), name), match.group(2).strip("[]"), port)


@dataclass(frozen=True)
class ImagingSettings:
    """The DICOM node, forwarding to the central archive, image links and retention."""

    ae_title: str = "HUB"
    host: str = "127.0.0.1"
    port: int = 11112
    processes: int = 1
    max_pdu: int = 131072
    storage_dir: Path | None = None  # default: $HUB_DATA_DIR/dicom
    tls_cert: str | None = None
    tls_key: str | None = None
    central_pacs: DicomPeer | None = None
    # The central archive's Orthanc-compatible REST API: when set, retention deletes expired
    # images there too (DICOM itself has no way to delete).
    central_archive_rest: str | None = None
    # The Ministry's teleradiology system (SEEDS 003): each study's dose SRs and a KOS go there.
    national_dose_node: DicomPeer | None = None
    # An exam is flagged when its dose exceeds the reference level times this factor.
    dose_drl_factor_percent: int = 100
    # Teleradiology QC: the share of a week's final reports sent to senior review, and the days
    # a reviewer has before the QA physician is alerted.
    qc_review_share_percent: int = 5
    qc_review_days: int = 7
    # A CT/MG/XA/DX study whose dose data the national node has not accepted within this many
    # hours of its arrival is late on the facility's dose compliance report.
    dose_report_deadline_hours: int = 24
    forward_batch: int = 200
    link_ttl_hours: int = 72
    link_max_ttl_hours: int = 24 * 30
    image_retention_years: int = 5
    report_retention_years: int = 10
    enabled: bool = True
    # HTTP uploads: what one upload's zips may expand to in all, how many times the upload's
    # own size, and how many members a zip may hold (members are spooled to disk and counted
    # as they are read; the sizes a zip declares are never trusted).
    upload_max_expanded_bytes: int = 4 * 1024**3
    upload_max_ratio: int = 100
    upload_max_members: int = 20000


def load_imaging(env: Mapping[str, str], data_dir: Path) -> ImagingSettings:
    """The ``HUB_DICOM_*``, ``HUB_CENTRAL_PACS``, ``HUB_NATIONAL_DOSE_NODE``, ``HUB_DOSE_*``,
    ``HUB_IMAGE_*``, ``HUB_*_RETENTION_*`` and ``HUB_UPLOAD_*``."""
    cert, key = env_str(env, "HUB_DICOM_TLS_CERT"), env_str(env, "HUB_DICOM_TLS_KEY")
    if bool(cert) != bool(key):
        raise ConfigError("HUB_DICOM_TLS_CERT and HUB_DICOM_TLS_KEY must be set together")
    images = env_int(env, "HUB_IMAGE_RETENTION_YEARS", 5, minimum=5, maximum=100)
    reports = env_int(env, "HUB_REPORT_RETENTION_YEARS", 10, minimum=10, maximum=100)
    storage = env_str(env, "HUB_DICOM_STORAGE_DIR")
    return ImagingSettings(
        ae_title=ae_title(env_str(env, "HUB_DICOM_AE_TITLE", "HUB") or "HUB", "HUB_DICOM_AE_TITLE"),
        host=env_str(env, "HUB_DICOM_HOST", "127.0.0.1") or "127.0.0.1",
        port=env_int(env, "HUB_DICOM_PORT", 11112, minimum=1, maximum=65535),
        processes=env_int(env, "HUB_DICOM_PROCESSES", 1, minimum=1, maximum=64),
        max_pdu=env_int(env, "HUB_DICOM_MAX_PDU", 131072, minimum=4096, maximum=4194304),
        storage_dir=Path(storage).resolve() if storage else data_dir / "dicom",
        tls_cert=cert,
        tls_key=key,
        central_pacs=env_dicom_peer(env, "HUB_CENTRAL_PACS"),
        central_archive_rest=env_url(env, "HUB_CENTRAL_ARCHIVE_REST", None, ("http", "https")),
        national_dose_node=env_dicom_peer(env, "HUB_NATIONAL_DOSE_NODE"),
        dose_drl_factor_percent=env_int(
            env, "HUB_DOSE_DRL_FACTOR_PERCENT", 100, minimum=50, maximum=1000
        ),
        qc_review_share_percent=env_int(
            env, "HUB_QC_REVIEW_SHARE_PERCENT", 5, minimum=1, maximum=100
        ),
        qc_review_days=env_int(env, "HUB_QC_REVIEW_DAYS", 7, minimum=1, maximum=90),
        dose_report_deadline_hours=env_int(
            env, "HUB_DOSE_REPORT_DEADLINE_HOURS", 24, minimum=1, maximum=24 * 90
        ),
        forward_batch=env_int(env, "HUB_DICOM_FORWARD_BATCH", 200, minimum=1, maximum=10000),
        link_ttl_hours=env_int(env, "HUB_IMAGE_LINK_TTL_HOURS", 72, minimum=1),
        link_max_ttl_hours=env_int(env, "HUB_IMAGE_LINK_MAX_TTL_HOURS", 24 * 30, minimum=1),
        image_retention_years=images,
        report_retention_years=reports,
        enabled=env_bool(env, "HUB_DICOM_ENABLED", True),
        upload_max_expanded_bytes=env_int(
            env,
            "HUB_UPLOAD_MAX_EXPANDED_BYTES",
            4 * 1024**3,
            minimum=1024 * 1024,
            maximum=1024**4,
        ),
        upload_max_ratio=env_int(env, "HUB_UPLOAD_MAX_RATIO", 100, minimum=2, maximum=100000),
        upload_max_members=env_int(
            env, "HUB_UPLOAD_MAX_MEMBERS", 20000, minimum=1, maximum=1_000_000
        ),
    )


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


def env_ice_urls(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated ICE server URLs (``turn:host:3478?transport=udp``, ``stun:host:3478``)."""
    value = _raw(env, name)
    if value is None:
        return ()
    urls = tuple(part.strip() for part in value.split(",") if part.strip())
    for url in urls:
        if not url.startswith(schemes) or len(url) > 300:
            raise ConfigError(f"{name}: {url!r} must start with one of {list(schemes)}")
    return urls


@dataclass(frozen=True)
class VideoSettings:
    """Video sessions: TURN (coturn REST credentials), bitrate cap, guest links, recordings."""

    turn_secret: str | None = None  # coturn's static-auth-secret (use-auth-secret)
    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    turn_ttl: int = 3600
    relay_only: bool = False  # iceTransportPolicy "relay": media only through TURN
    max_bitrate: int = 800_000  # bits/s per video sender: two of them fit a 2 Mbit/s link
    guest_link_hours: int = 24
    recording_dir: Path | None = None  # default: $HUB_DATA_DIR/recordings
    recording_retention_years: int = 10
    media_enabled: bool = True  # `hub serve` starts the media worker (`hub media`)
    media_max_sessions: int = 2  # recordings one media worker process takes at a time
    media_allow_loopback: bool = False  # offer 127.0.0.1 as an ICE host candidate (tests)


def load_video(env: Mapping[str, str], data_dir: Path) -> VideoSettings:
    """The ``HUB_TURN_*``, ``HUB_STUN_URLS``, ``HUB_VIDEO_*`` and ``HUB_MEDIA_*`` settings."""
    secret = env_secret(env, "HUB_TURN_SECRET")
    if secret is not None and len(secret) < 16:
        raise ConfigError("HUB_TURN_SECRET must be at least 16 characters")
    turn_urls = env_ice_urls(env, "HUB_TURN_URLS", ("turn:", "turns:"))
    if turn_urls and secret is None:
        raise ConfigError("HUB_TURN_URLS needs HUB_TURN_SECRET (or HUB_TURN_SECRET_FILE)")
    relay_only = env_bool(env, "HUB_VIDEO_RELAY_ONLY", False)
    if relay_only and not turn_urls:
        raise ConfigError("HUB_VIDEO_RELAY_ONLY needs HUB_TURN_URLS")
    recordings = env_str(env, "HUB_RECORDING_DIR")
    return VideoSettings(
        turn_secret=secret,
        turn_urls=turn_urls,
        stun_urls=env_ice_urls(env, "HUB_STUN_URLS", ("stun:",)),
        turn_ttl=env_int(env, "HUB_TURN_TTL", 3600, minimum=60, maximum=86400),
        relay_only=relay_only,
        max_bitrate=env_int(
            env, "HUB_VIDEO_MAX_BITRATE", 800_000, minimum=50_000, maximum=10_000_000
        ),
        guest_link_hours=env_int(env, "HUB_VIDEO_GUEST_LINK_HOURS", 24, minimum=1, maximum=24 * 14),
        recording_dir=Path(recordings).resolve() if recordings else data_dir / "recordings",
        recording_retention_years=env_int(
            env, "HUB_RECORDING_RETENTION_YEARS", 10, minimum=10, maximum=100
        ),
        media_enabled=env_bool(env, "HUB_MEDIA_ENABLED", True),
        media_max_sessions=env_int(env, "HUB_MEDIA_MAX_SESSIONS", 2, minimum=1, maximum=64),
        media_allow_loopback=env_bool(env, "HUB_MEDIA_ALLOW_LOOPBACK", False),
    )


@dataclass(frozen=True)
class NotifySettings:
    """E-mail for reminders (``HUB_SMTP_*``); without ``HUB_SMTP_HOST`` reminders are only
    logged (without their recipient or text)."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str = "hub@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: int = 15


def load_notify(env: Mapping[str, str]) -> NotifySettings:
    """The ``HUB_SMTP_*`` settings."""
    starttls = env_bool(env, "HUB_SMTP_STARTTLS", False)
    ssl = env_bool(env, "HUB_SMTP_SSL", False)
    if starttls and ssl:
        raise ConfigError("HUB_SMTP_STARTTLS and HUB_SMTP_SSL exclude each other")
    sender = env_str(env, "HUB_SMTP_FROM", "hub@localhost") or "hub@localhost"
    if "@" not in sender:
        raise ConfigError(f"HUB_SMTP_FROM={sender!r} must be an e-mail address")
    user = env_str(env, "HUB_SMTP_USER")
    password = env_secret(env, "HUB_SMTP_PASSWORD")
    if password is not None and user is None:
        raise ConfigError("HUB_SMTP_PASSWORD needs HUB_SMTP_USER")
    return NotifySettings(
        smtp_host=env_str(env, "HUB_SMTP_HOST"),
        smtp_port=env_int(env, "HUB_SMTP_PORT", 465 if ssl else 587, minimum=1, maximum=65535),
        smtp_from=sender,
        smtp_user=user,
        smtp_password=password,
        smtp_starttls=starttls,
        smtp_ssl=ssl,
        smtp_timeout=env_int(env, "HUB_SMTP_TIMEOUT", 15, minimum=1, maximum=300),
    )


@dataclass(frozen=True)
class AuditSettings:
    """The audit chain's key and its checkpoints, both kept outside the database."""

    key: bytes = b""
    key_generated: bool = True
    checkpoint_dir: Path = Path("var/audit-checkpoints")
    checkpoint_minutes: int = 60


def load_audit(env: Mapping[str, str], data_dir: Path) -> AuditSettings:
    """``HUB_AUDIT_KEY``/``_FILE`` (else a key generated once in the data directory: the
    embedded default), ``HUB_AUDIT_CHECKPOINT_DIR``, ``HUB_AUDIT_CHECKPOINT_MINUTES``."""
    key = env_secret(env, "HUB_AUDIT_KEY")
    if key is not None and len(key) < 32:
        raise ConfigError("HUB_AUDIT_KEY must be at least 32 characters")
    directory = env_str(env, "HUB_AUDIT_CHECKPOINT_DIR")
    return AuditSettings(
        key=(key or _load_or_create_secret(data_dir, "audit_key")).encode("utf-8"),
        key_generated=key is None,
        checkpoint_dir=Path(directory).resolve() if directory else data_dir / "audit-checkpoints",
        checkpoint_minutes=env_int(
            env, "HUB_AUDIT_CHECKPOINT_MINUTES", 60, minimum=1, maximum=24 * 60
        ),
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
    session_cookie_secure: bool | None  # None: Secure whenever the request came over HTTPS
    web_threads: int
    web_workers: int
    base_url: str
    attachment_max_bytes: int
    log_level: str = "INFO"
    extra: dict[str, str] = field(default_factory=dict)
    pki: PkiSettings = field(default_factory=PkiSettings)
    imaging: ImagingSettings = field(default_factory=ImagingSettings)
    video: VideoSettings = field(default_factory=VideoSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    # Access and sessions (see hub/auth/throttle.py and hub/auth/sessions.py).
    login_lockout_first_seconds: int = 60
    login_address_max_failures: int = 20
    login_address_window_seconds: int = 600
    trusted_proxies: int = 0
    session_idle_minutes: int = 30
    token_max_ttl_days: int = 365

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _load_or_create_secret(data_dir: Path, name: str = "secret_key") -> str:
    """A per-installation secret kept in the data directory, so a restart keeps sessions valid
    (and the audit chain verifiable); the processes of one installation share it."""
    path = data_dir / name
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # Written whole to a file of this process, then linked into place: a process starting at
    # the same moment either wins the link or reads the complete secret of the one that did.
    staged = data_dir / f".{name}.{os.getpid()}"
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    try:
        os.link(staged, path)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    finally:
        staged.unlink(missing_ok=True)
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment; raises :class:`ConfigError` naming the first bad variable."""
    env = os.environ if env is None else env
    data_dir = Path(env_str(env, "HUB_DATA_DIR", "./var") or "./var").resolve()
    database_url = env_url(
        env, "HUB_DATABASE_URL", f"sqlite:///{data_dir / 'hub.sqlite'}", ("sqlite", "postgresql")
    )
    broker_url = env_url(
        env,
        "HUB_BROKER_URL",
        f"sqla+sqlite:///{data_dir / 'broker.sqlite'}",
        ("sqla", "redis", "rediss", "amqp", "memory"),
    )
    result_backend = env_url(
        env,
        "HUB_RESULT_BACKEND",
        f"db+sqlite:///{data_dir / 'results.sqlite'}",
        ("db", "redis", "rediss", "cache", "rpc"),
    )
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
    log_level = (env_str(env, "HUB_LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"HUB_LOG_LEVEL={log_level!r} must be one of {list(LOG_LEVELS)}")
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
        session_cookie_secure=_cookie_secure(env),
        web_threads=env_int(env, "HUB_WEB_THREADS", 200, minimum=4, maximum=2000),
        web_workers=_web_workers(env, redis_url),
        log_level=log_level,
        attachment_max_bytes=env_int(
            env, "HUB_ATTACHMENT_MAX_BYTES", 25 * 1024 * 1024, minimum=1024
        ),
        base_url=env_str(env, "HUB_BASE_URL", f"http://{http_host}:{http_port}")
        or f"http://{http_host}:{http_port}",
        pki=load_pki(env, data_dir),
        imaging=load_imaging(env, data_dir),
        video=load_video(env, data_dir),
        audit=load_audit(env, data_dir),
        notify=load_notify(env),
        **_load_access(env),
    )


class _Access(TypedDict):
    login_lockout_first_seconds: int
    login_address_max_failures: int
    login_address_window_seconds: int
    trusted_proxies: int
    session_idle_minutes: int
    token_max_ttl_days: int


def _load_access(env: Mapping[str, str]) -> _Access:
    """Login throttling, session idle limit and token lifetime (beside the ``HUB_LOGIN_*``)."""
    lockout = env_int(env, "HUB_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
    first = env_int(env, "HUB_LOGIN_LOCKOUT_FIRST_SECONDS", min(60, lockout), minimum=1)
    if first > lockout:
        raise ConfigError(
            f"HUB_LOGIN_LOCKOUT_FIRST_SECONDS={first} must be at most "
            f"HUB_LOGIN_LOCKOUT_SECONDS={lockout}"
        )
    max_days = env_int(env, "HUB_TOKEN_MAX_TTL_DAYS", 365, minimum=1, maximum=3650)
    default_ttl = env_int(env, "HUB_TOKEN_DEFAULT_TTL", 3600, minimum=60)
    if default_ttl > max_days * 86400:
        raise ConfigError(
            f"HUB_TOKEN_DEFAULT_TTL={default_ttl} is longer than HUB_TOKEN_MAX_TTL_DAYS={max_days}"
        )
    return {
        "login_lockout_first_seconds": first,
        "login_address_max_failures": env_int(
            env, "HUB_LOGIN_ADDRESS_MAX_FAILURES", 20, minimum=1, maximum=100_000
        ),
        "login_address_window_seconds": env_int(
            env, "HUB_LOGIN_ADDRESS_WINDOW_SECONDS", 600, minimum=1, maximum=7 * 86400
        ),
        "trusted_proxies": env_int(env, "HUB_TRUSTED_PROXIES", 0, minimum=0, maximum=10),
        "session_idle_minutes": env_int(
            env, "HUB_SESSION_IDLE_MINUTES", 30, minimum=1, maximum=7 * 24 * 60
        ),
        "token_max_ttl_days": max_days,
    }


def _web_workers(env: Mapping[str, str], redis_url: str | None) -> int:
    workers = env_int(env, "HUB_WEB_WORKERS", 1, minimum=1, maximum=64)
    if workers > 1 and not redis_url:
        # Each process has its own Socket.IO rooms: without the message queue an event raised
        # in one process never reaches a page connected to another.
        raise ConfigError("HUB_WEB_WORKERS above 1 needs HUB_REDIS_URL")
    return workers


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
