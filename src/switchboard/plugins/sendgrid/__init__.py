"""SendGrid: email through SendGrid's v3 Mail Send API, and its signed Event Webhook.

Sending goes through the official SDK (``sendgrid.SendGridAPIClient`` and the ``Mail`` helper).
The SDK is synchronous, so each send runs in a worker thread (``asyncio.to_thread``). Event
webhooks are checked with the SDK's ``EventWebhook`` helper (ECDSA P-256 over timestamp + body)
and refused when their timestamp is more than five minutes away from now.

``SWITCHBOARD_SENDGRID_API_BASE`` (or ``SendGridPlugin(api_base=...)``) points the SDK at another
API host, such as a local stand-in in tests. It is the operator's setting, never a tenant's: a
tenant who could choose the host could make Switchboard send their API key anywhere.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, field_validator
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sendgrid.helpers.mail import CustomArg, From, Mail, MimeType, To
from sendgrid.helpers.mail.exceptions import SendGridException

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.spec import operator_api_base
from switchboard.ports.providers import (
    EmailMessage,
    IncomingWebhook,
    ProviderError,
    ProviderEvent,
    WebhookRejected,
)

API_BASE_ENV = "SWITCHBOARD_SENDGRID_API_BASE"
SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE.lower()  # x-twilio-email-event-webhook-signature
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP.lower()  # x-twilio-email-event-webhook-timestamp
FRESHNESS = 300  # seconds an event webhook's timestamp may be from now, either way
REQUEST_TIMEOUT = 30.0  # seconds, per call to SendGrid
IDEMPOTENCY_ARG = "idempotency_key"  # the custom arg our key travels in, and comes back in
_API_KEY = re.compile(r"^SG\.[A-Za-z0-9_-]{8,100}\.[A-Za-z0-9_-]{8,100}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


def _public_key(value: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it (base64 of its DER), read the way the SDK reads it."""
    try:
        key = EventWebhook().convert_public_key_to_ecdsa(value)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise ValueError(
            "must be the base64 ECDSA public key SendGrid shows for the signed Event Webhook"
        ) from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("must be an ECDSA P-256 public key, as SendGrid's Event Webhook uses")
    return key


class SendGridConfig(BaseModel):
    """One tenant's SendGrid account, who its emails come from, and how its events are signed."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr
    from_email: EmailStr
    from_name: str | None = Field(default=None, min_length=1, max_length=100)
    # Not secret: SendGrid shows it under Mail Settings > Event Webhook once signing is on.
    # Without it no event webhook is accepted.
    event_webhook_public_key: str | None = Field(default=None, max_length=500)

    @field_validator("api_key")
    @classmethod
    def _looks_like_an_api_key(cls, key: SecretStr) -> SecretStr:
        if not _API_KEY.match(key.get_secret_value()):
            raise ValueError("must be a SendGrid API key: SG.<id>.<secret>")
        return key

    @field_validator("from_name")
    @classmethod
    def _one_line(cls, name: str | None) -> str | None:
        if name is not None and any(c in name for c in "\r\n"):
            raise ValueError("must be one line")
        return name

    @field_validator("event_webhook_public_key")
    @classmethod
    def _a_p256_public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        _public_key(value)
        return value


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _reason(error: HTTPError) -> str:
    try:
        return "; ".join(str(e.get("message")) for e in json.loads(error.body)["errors"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(error.reason)


class SendGridEmail:
    """The EmailSender port for one tenant's configuration.

    The SDK client is made for each email and dropped after it: nothing holding a tenant's key
    outlives the call.
    """

    def __init__(self, config: SendGridConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base

    async def send_email(self, message: EmailMessage) -> str:
        return await asyncio.to_thread(self._send, message)

    def _mail(self, message: EmailMessage) -> Mail:
        mail = Mail(
            from_email=From(self._config.from_email, self._config.from_name), to_emails=To(message.to)
        )
        if message.template_id:
            # A dynamic template brings its own subject and content.
            mail.template_id = message.template_id
            mail.dynamic_template_data = dict(message.template_data)
        else:
            mail.subject = message.subject
            mail.add_content(message.text, MimeType.text)
            if message.html is not None:
                mail.add_content(message.html, MimeType.html)
        if message.idempotency_key:
            # SendGrid has no idempotency header. The key travels as a custom arg, which every
            # event of this email carries back to our event webhook.
            mail.custom_arg = CustomArg(IDEMPOTENCY_ARG, message.idempotency_key)
        return mail

    def _send(self, message: EmailMessage) -> str:
        try:
            mail = self._mail(message)
        except SendGridException as error:  # e.g. a body holding an API key, which the SDK refuses
            raise ProviderError(
                f"SendGrid's SDK refused the email: {type(error).__name__}", retryable=False
            ) from None
        api_key = self._config.api_key.get_secret_value()
        client = (
            SendGridAPIClient(api_key, host=self._api_base) if self._api_base else SendGridAPIClient(api_key)
        )
        client.client.timeout = REQUEST_TIMEOUT  # python_http_client passes it to urllib; default: none
        try:
            response = client.send(mail)
        except HTTPError as error:
            raise ProviderError(
                f"SendGrid refused the email: HTTP {error.status_code}: {_reason(error)}",
                retryable=_retryable(error.status_code),
                status=error.status_code,
            ) from None
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets
            raise ProviderError(
                f"SendGrid could not be reached: {type(error).__name__}: {error}", retryable=True
            ) from error
        message_id = response.headers.get("X-Message-Id")
        if not message_id:
            # Accepted, so it will be sent: not retryable, or it would be sent twice.
            raise ProviderError(
                f"SendGrid answered {response.status_code} without an X-Message-Id", retryable=False
            )
        return str(message_id)


def verify_webhook(config: SendGridConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """A batch of Event Webhook events, checked against SendGrid's ECDSA signature and for freshness.

    SendGrid signs ``timestamp + body`` with its private key; the tenant's configuration holds
    the public half. A genuine call more than FRESHNESS seconds old is refused as a replay.
    """
    if config.event_webhook_public_key is None:
        raise WebhookRejected("no event webhook public key is configured for this integration")
    headers = {name.lower(): value for name, value in incoming.headers.items()}
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRejected("no X-Twilio-Email-Event-Webhook-Signature or -Timestamp header")
    if not _TIMESTAMP.match(timestamp):
        raise WebhookRejected("X-Twilio-Email-Event-Webhook-Timestamp is not a Unix time")
    if abs(time.time() - int(timestamp)) > FRESHNESS:
        raise WebhookRejected(f"the event webhook's timestamp is more than {FRESHNESS} seconds from now")
    try:
        payload = incoming.body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected("the body is not UTF-8") from None
    verifier = EventWebhook()
    try:
        # The SDK wants the key object, not its text: public_key=<EllipticCurvePublicKey>.
        genuine = verifier.verify_signature(
            payload, signature, timestamp, _public_key(config.event_webhook_public_key)
        )
    except ValueError:  # a signature that is not base64 (binascii.Error)
        genuine = False
    if not genuine:
        raise WebhookRejected("X-Twilio-Email-Event-Webhook-Signature does not match")
    return [_event(item) for item in _events(payload)]


def _events(payload: str) -> list[dict[str, Any]]:
    try:
        events = json.loads(payload)
    except ValueError:
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise WebhookRejected("the body is not a JSON array of events")
    return events


def _event(event: dict[str, Any]) -> ProviderEvent:
    event_id, kind, at = event.get("sg_event_id"), event.get("event"), event.get("timestamp")
    if not isinstance(event_id, str) or not event_id or not isinstance(kind, str) or not kind:
        raise WebhookRejected("an event without sg_event_id or event")
    occurred_at = None
    if isinstance(at, int) and not isinstance(at, bool):
        try:
            occurred_at = datetime.fromtimestamp(at, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise WebhookRejected("an event's timestamp is out of range") from None
    return ProviderEvent(event_id=event_id, type=kind, data=event, occurred_at=occurred_at)


class SendGridPlugin:
    """Offers ``sendgrid`` (email). Holds only the operator's API base, never a tenant's settings."""

    name = "sendgrid"

    def __init__(self, api_base: str | None = None) -> None:
        self.api_base = operator_api_base(api_base, API_BASE_ENV)

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="sendgrid",
                capability=Capability.EMAIL,
                name="SendGrid",
                config_model=SendGridConfig,
                build=lambda config: SendGridEmail(config, api_base),
                description="Sends email through SendGrid's Mail Send API.",
                verify_webhook=verify_webhook,
            )
        ]


__all__ = ["ProviderError", "SendGridConfig", "SendGridEmail", "SendGridPlugin", "verify_webhook"]
