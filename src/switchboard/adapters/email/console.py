"""The default email sender: writes each message to the log instead of sending it.

Used for a tenant with no email integration, so that sign-up and password-reset mail can be
read on a fresh machine with nothing configured.
"""

from __future__ import annotations

import itertools

import structlog

from switchboard.ports.providers import EmailMessage

log = structlog.get_logger("switchboard.email")


class ConsoleEmailSender:
    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send_email(self, message: EmailMessage) -> str:
        message_id = f"console_{next(self._ids):06d}"
        log.info("email", message_id=message_id, to=message.to, subject=message.subject, text=message.text)
        return message_id
