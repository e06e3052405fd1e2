"""Email through Django's SMTP backend: plain text with an HTML alternative; header injection is refused."""

from __future__ import annotations

import logging
import smtplib
import ssl

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.utils.html import escape, linebreaks

from notifications.channels.base import Channel, DeliveryError, scrub, subject_of
from notifications.models import NotificationEvent

logger = logging.getLogger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FORBIDDEN_HEADER_CHARS = ("\r", "\n", "\x00")


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


class EmailChannel(Channel):
    name = "Email"

    def is_configured(self) -> bool:
        return bool(settings.SMTP_HOST and settings.SMTP_FROM_ADDRESS)

    def secrets(self) -> list[str]:
        return [settings.SMTP_PASSWORD]

    def message(self, event: NotificationEvent) -> EmailMultiAlternatives:
        recipient = _safe_header("recipient", event.recipient.strip())
        try:
            validate_email(recipient)
        except ValidationError:
            raise DeliveryError(f"invalid email recipient {recipient!r}", permanent=True) from None
        headline = subject_of(event)
        # Expiry alerts already say where they come from; others get the tag here, once.
        subject = _safe_header(
            "subject", headline if headline.startswith("[certctl]") else f"[certctl] {headline}"
        )
        sender = _safe_header("sender", settings.SMTP_FROM_ADDRESS)
        html = f"<h2>{escape(subject_of(event))}</h2>\n{linebreaks(event.message, autoescape=True)}"
        mail = EmailMultiAlternatives(subject=subject, body=event.message, from_email=sender, to=[recipient])
        mail.attach_alternative(html, "text/html")
        return mail

    def connection(self):
        return get_connection(
            SMTP_BACKEND,
            host=settings.SMTP_HOST,
            port=settings.SMTP_PORT,
            username=settings.SMTP_USERNAME,
            password=settings.SMTP_PASSWORD,
            use_tls=settings.SMTP_SECURITY == "starttls",
            use_ssl=settings.SMTP_SECURITY == "tls",
            timeout=settings.NOTIFICATION_TIMEOUT_SECONDS,
            fail_silently=False,
        )

    def send(self, event: NotificationEvent) -> None:
        mail = self.message(event)
        host = settings.SMTP_HOST
        try:
            with self.connection() as connection:
                connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise DeliveryError(f"SMTP {host} refused the recipient ({codes})", permanent=permanent) from None
        except smtplib.SMTPNotSupportedError as exc:  # e.g. "STARTTLS extension not supported by server."
            raise DeliveryError(f"SMTP {host}: {exc}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
            detail = scrub(text[:200], self.secrets())
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
