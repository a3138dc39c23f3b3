"""How the hub e-mails people outside it (appointment reminders to patients, critical-result
notices to a facility's contact list): a small ``Notifier`` interface, an SMTP implementation, and
the log-only default used when no SMTP server is configured.

Failures say whether trying again may help (``DeliveryError.permanent``): a refused recipient
will be refused again, a server that did not answer may answer later.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from hub.config import NotifySettings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Notifier(Protocol):
    channel: str

    def send(self, to: str, subject: str, body: str) -> None:
        """Deliver one message or raise :class:`DeliveryError`."""


class LogNotifier:
    """No outside system: records that a message was due, never its recipient or text."""

    channel = "log"

    def send(self, to: str, subject: str, body: str) -> None:
        log.info("message not e-mailed (HUB_SMTP_HOST unset): %d characters", len(body))


class SmtpNotifier:
    """E-mail through an SMTP server (smtplib), one connection per message."""

    channel = "email"

    def __init__(self, settings: NotifySettings) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpNotifier needs HUB_SMTP_HOST")
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.smtp_host is not None
        if s.smtp_ssl:
            return smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout,
                context=ssl.create_default_context(),
            )
        conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        if s.smtp_starttls:
            conn.starttls(context=ssl.create_default_context())
        return conn

    def send(self, to: str, subject: str, body: str) -> None:
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.smtp_from
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=s.smtp_from.rsplit("@", 1)[1])
        msg.set_content(body)
        try:
            with self._connect() as conn:
                if s.smtp_user:
                    conn.login(s.smtp_user, s.smtp_password or "")
                conn.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(
                f"recipient refused ({codes})", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"authentication refused ({exc.smtp_code})", permanent=True
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"server answered {exc.smtp_code}", permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Not connected, timed out, connection dropped: the server may be back later.
            raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from None


def from_settings(settings: NotifySettings) -> Notifier:
    """SMTP when ``HUB_SMTP_HOST`` is set, else the log-only notifier."""
    return SmtpNotifier(settings) if settings.smtp_host else LogNotifier()
