"""Plain-text email through an SMTP relay."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftloop.config import SmtpSettings


def send_email(settings: SmtpSettings, recipient: str, subject: str, body: str) -> None:
    """Send one message; raise ``OSError``/``smtplib.SMTPException`` when the relay refuses."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(
        settings.host, settings.port, timeout=settings.timeout.total_seconds()
    ) as client:
        if settings.starttls:
            client.starttls()
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            client.login(settings.username, password)
        client.send_message(message)
