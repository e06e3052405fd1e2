"""The `LOGGING` dictionary settings hand to Django: plain lines on stderr at one level."""

from __future__ import annotations

from typing import Any


def logging_config(level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": level},
        # urllib3 logs full request URLs at DEBUG, and webhook URLs carry tokens.
        # aiosmtpd (the demo receiver) logs every SMTP command at INFO.
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
            "mail.log": {"level": "WARNING"},
        },
    }
