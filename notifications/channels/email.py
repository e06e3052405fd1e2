"""Email through Django's SMTP backend: plain text with an HTML alternative; header injection is refused.

A destination's `recipients` (when set) replace the row's recipient (the certificate owner, for expiry alerts);
a destination without `smtp_host` is sent through the `CERTCTL_SMTP_*` server.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.utils.html import escape, linebreaks

from notifications.channels.ack_links import ack_url
from notifications.channels.base import Channel, DeliveryError, scrub, subject_of
from notifications.channels.targets import Target
from notifications.models import NotificationEvent

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FORBIDDEN_HEADER_CHARS = ("\r", "\n", "\x00")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _safe_header(name: str, value: str) -> str:
    if any(char in value for char in FORBIDDEN_HEADER_CHARS):
        raise DeliveryError(f"email {name} contains a line break or NUL; refusing to send", permanent=True)
    return value


def warn_if_login_in_clear() -> bool:
    """Log a warning when SMTP AUTH is configured without TLS: the password would cross the network in clear.

    Called once at start-up (`NotificationsConfig.ready`); returns whether it warned.
    """
    if not (settings.SMTP_USERNAME and settings.SMTP_SECURITY == "none"):
        return False
    logger.warning(
        "CERTCTL_SMTP_USERNAME is set with CERTCTL_SMTP_SECURITY=none: the SMTP password is sent unencrypted; "
        "use starttls or tls",
        extra={"channel": "Email", "smtp_host": settings.SMTP_HOST},
    )
    return True


@dataclass(frozen=True)
class SMTPServer:
    host: str
    port: int
    security: str
    username: str
    password: str


def smtp_server(target: Target) -> SMTPServer:
    """The destination's own server when it names one, else the CERTCTL_SMTP_* server."""
    host = target.get("smtp_host")
    if not host:
        return SMTPServer(
            settings.SMTP_HOST,
            settings.SMTP_PORT,
            settings.SMTP_SECURITY,
            settings.SMTP_USERNAME,
            settings.SMTP_PASSWORD,
        )
    security = target.get("smtp_security", "starttls")
    return SMTPServer(
        host,
        int(target.get("smtp_port") or DEFAULT_PORTS[security]),
        security,
        target.get("smtp_username", ""),
        target.get("smtp_password", ""),
    )


def _sender(target: Target) -> str:
    return target.get("from_address") or settings.SMTP_FROM_ADDRESS


class EmailChannel(Channel):
    name = "Email"

    def missing(self, target: Target) -> list[str]:
        return [
            name
            for name, value in (("smtp_host", smtp_server(target).host), ("from_address", _sender(target)))
            if not value
        ]

    def recipients(self, event: NotificationEvent, target: Target) -> list[str]:
        """Each address checked: a line break (header injection) or an invalid address is a permanent error."""
        addresses = target.get("recipients") or [event.recipient]
        checked = []
        for address in addresses:
            recipient = _safe_header("recipient", str(address).strip())
            try:
                validate_email(recipient)
            except ValidationError:
                raise DeliveryError(f"invalid email recipient {recipient!r}", permanent=True) from None
            checked.append(recipient)
        return checked

    def message(self, event: NotificationEvent, target: Target) -> EmailMultiAlternatives:
        recipients = self.recipients(event, target)
        headline = subject_of(event)
        # Expiry alerts already say where they come from; others get the tag here, once.
        subject = _safe_header(
            "subject", headline if headline.startswith("[certctl]") else f"[certctl] {headline}"
        )
        sender = _safe_header("sender", _sender(target))
        body = event.message
        html = f"<h2>{escape(subject_of(event))}</h2>\n{linebreaks(event.message, autoescape=True)}"
        link = ack_url(event)
        if link:
            body += f"\n\nAcknowledge (stops escalation): {link}"
            html += f'\n<p><a href="{escape(link)}">Acknowledge</a> (stops escalation)</p>'
        mail = EmailMultiAlternatives(subject=subject, body=body, from_email=sender, to=recipients)
        mail.attach_alternative(html, "text/html")
        return mail

    def connection(self, server: SMTPServer):
        return get_connection(
            SMTP_BACKEND,
            host=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.security == "starttls",
            use_ssl=server.security == "tls",
            timeout=settings.NOTIFICATION_TIMEOUT_SECONDS,
            fail_silently=False,
        )

    def send(self, event: NotificationEvent, target: Target) -> None:
        mail = self.message(event, target)
        server = smtp_server(target)
        host = server.host
        try:
            with self.connection(server) as connection:
                connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryError(f"SMTP {host} refused the recipient ({codes})", permanent=permanent) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. "STARTTLS extension not supported by server."
            raise DeliveryError(f"SMTP {host}: {exc}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
            detail = scrub(text[:200], target.secret_values())
            raise DeliveryError(
                f"SMTP {exc.smtp_code} from {host}: {detail}", permanent=exc.smtp_code >= 500
            ) from None
        except ssl.SSLCertVerificationError:
            raise DeliveryError(f"TLS certificate of SMTP {host} did not verify", permanent=True) from None
        except TimeoutError:
            raise DeliveryError(f"timed out talking to SMTP {host}") from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a read timeout into "Connection unexpectedly closed"; say what really happened.
            if isinstance(exc.__context__, TimeoutError):
                raise DeliveryError(f"timed out talking to SMTP {host}") from None
            raise DeliveryError(f"SMTP connection to {host} failed: {type(exc).__name__}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP connection to {host} failed: {type(exc).__name__}") from None
