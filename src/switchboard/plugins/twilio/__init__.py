"""Twilio: text messages through Twilio's Messaging API, and the calls Twilio makes back to us.

Sending goes through the official SDK's asynchronous path (``twilio.rest.Client`` with an
``AsyncTwilioHttpClient``, ``messages.create_async``), so nothing blocks the event loop. Status
callbacks and inbound messages are checked with the SDK's ``RequestValidator``, then read into
the core's words (``MESSAGE_EVENTS``: an ``InboundMessage``, a ``StatusReport``) for the worker.

``SWITCHBOARD_TWILIO_API_BASE`` (or ``TwilioPlugin(api_base=...)``) points the SDK at another
API host, such as a local stand-in in tests. It is the operator's setting, never a tenant's: a
tenant who could choose the host could make Switchboard send their credentials anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import parse_qsl

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from switchboard.core.integrations.model import Capability
from switchboard.core.messaging.model import InboundMessage, MessageNotice, MessageStatus, StatusReport
from switchboard.core.queues.model import PermanentFailure
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.spec import operator_api_base
from switchboard.ports.providers import (
    IncomingWebhook,
    ProviderError,
    ProviderEvent,
    SmsMessage,
    WebhookAcknowledgement,
    WebhookRejected,
)

API_BASE_ENV = "SWITCHBOARD_TWILIO_API_BASE"
# Twilio reads the answer to an incoming message as TwiML: an empty <Response/> sends no reply.
EMPTY_TWIML = WebhookAcknowledgement(
    b'<?xml version="1.0" encoding="UTF-8"?><Response/>', "text/xml; charset=utf-8"
)
SIGNATURE_HEADER = "x-twilio-signature"
REQUEST_TIMEOUT = 30.0  # seconds, for the whole call to Twilio
MAX_FORM_FIELDS = 200
E164 = r"^\+[1-9][0-9]{6,14}$"


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class TwilioConfig(BaseModel):
    """One tenant's Twilio account, and who its messages come from."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-f]{32}$")
    auth_token: SecretStr
    from_number: str | None = Field(default=None, pattern=E164)
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-f]{32}$")

    @field_validator("auth_token")
    @classmethod
    def _looks_like_an_auth_token(cls, token: SecretStr) -> SecretStr:
        value = token.get_secret_value()
        if len(value) != 32 or not value.isascii() or not value.isalnum():
            raise ValueError("must be a Twilio auth token: 32 letters and digits")
        return token

    @model_validator(mode="after")
    def _has_a_sender(self) -> TwilioConfig:
        if self.from_number is None and self.messaging_service_sid is None:
            raise ValueError("from_number or messaging_service_sid is required")
        return self


class TwilioSms:
    """The SmsSender port for one tenant's configuration.

    The SDK client (and its HTTP session) is made for each message and closed after it: nothing
    holding a tenant's credentials outlives the call.
    """

    def __init__(self, config: TwilioConfig, api_base: str | None = None) -> None:
        self._config = config
        self._api_base = api_base

    async def send_sms(self, message: SmsMessage) -> str:
        # Twilio's Messages API takes no idempotency key: message.idempotency_key cannot be passed.
        sender: dict[str, str] = {}
        if self._config.from_number is not None:
            sender["from_"] = self._config.from_number
        if self._config.messaging_service_sid is not None:
            sender["messaging_service_sid"] = self._config.messaging_service_sid
        try:
            async with AsyncTwilioHttpClient() as http, asyncio.timeout(REQUEST_TIMEOUT):
                created = await self._client(http).messages.create_async(
                    to=message.to, body=message.body, **sender
                )
        except TwilioRestException as error:
            raise ProviderError(
                f"Twilio refused the message: HTTP {error.status}, code {error.code}: {error.msg}",
                retryable=_retryable(error.status),
                status=error.status,
                code=error.code,
            ) from None
        except TwilioServiceException as error:
            raise ProviderError(
                f"Twilio refused the message: HTTP {error.status}, code {error.code}: {error.title}",
                retryable=_retryable(error.status),
                status=error.status,
                code=error.code,
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise ProviderError(
                f"Twilio could not be reached: {type(error).__name__}: {error}", retryable=True
            ) from error
        if not created.sid:
            raise ProviderError("Twilio accepted the message without giving its sid", retryable=False)
        return created.sid

    def _client(self, http: AsyncTwilioHttpClient) -> Client:
        client = Client(
            self._config.account_sid, self._config.auth_token.get_secret_value(), http_client=http
        )
        if self._api_base:
            # The Api domain (api.twilio.com, home of /2010-04-01/Accounts/.../Messages.json) is
            # where every request of client.messages is addressed: the SDK builds each URL as
            # domain.base_url + path, then sends it through our http client as usual.
            client.api.base_url = self._api_base
            # TWILIO_EDGE / TWILIO_REGION in the environment would rewrite a twilio.com host
            # (api.<edge>.<region>.twilio.com); another base is used as given.
            client.edge = client.region = None
        return client


class _FormFields(dict[str, list[str]]):
    """Form fields with every value of each name, in the shape RequestValidator reads (getall)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def _form(body: bytes) -> _FormFields:
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,  # Twilio signs its empty fields too
            strict_parsing=False,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise WebhookRejected(f"not a form-encoded body: {error}") from None
    fields = _FormFields()
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def _single(fields: _FormFields, name: str) -> str | None:
    values = fields.get(name)
    if values is None:
        return None
    if len(values) != 1 or not values[0]:
        raise WebhookRejected(f"{name} must be given once, not empty")
    return values[0]


def verify_webhook(config: TwilioConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """A message status callback, or an inbound message, checked against X-Twilio-Signature.

    Twilio signs the full URL it called plus every posted field with the account's auth token.
    A status callback carries no event id of its own: ``<MessageSid>:<MessageStatus>`` keeps each
    transition once (Twilio repeats a callback it thinks failed). An inbound message is its sid.
    """
    headers = {name.lower(): value for name, value in incoming.headers.items()}
    signature = headers.get(SIGNATURE_HEADER)
    if not signature:
        raise WebhookRejected("no X-Twilio-Signature header")
    fields = _form(incoming.body)
    if not RequestValidator(config.auth_token.get_secret_value()).validate(incoming.url, fields, signature):
        raise WebhookRejected("X-Twilio-Signature does not match this URL and body")

    data: dict[str, str | list[str]] = {
        name: values[0] if len(values) == 1 else values for name, values in fields.items()
    }
    sid = _single(fields, "MessageSid")
    status = _single(fields, "MessageStatus")
    if sid is None:
        raise WebhookRejected("no MessageSid: not a messaging callback")
    if status is not None:
        return [ProviderEvent(event_id=f"{sid}:{status}", type=f"message.{status}", data=data)]
    if "Body" in fields:
        return [ProviderEvent(event_id=sid, type="message.received", data=data)]
    raise WebhookRejected("neither a message status callback nor an inbound message")


# --- reading the verified events into the core's words ------------------------------------------

# Twilio's message statuses that tell something the core records; the rest (queued, accepted,
# sending, scheduled, ...) are steps on Twilio's side and change nothing here.
_STATUSES: dict[str, MessageStatus] = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,  # read receipts (WhatsApp, RCS) come only after delivery
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}


def _text(event: ProviderEvent, name: str, *, required: bool = True) -> str | None:
    value = event.data.get(name)
    if isinstance(value, str) and (value or not required):
        return value
    if required:
        raise PermanentFailure(f"Twilio event {event.event_id}: no {name}")
    return None


def read_inbound_message(event: ProviderEvent) -> list[MessageNotice]:
    """``message.received``: a customer texted the tenant's number (an empty Body is a picture
    message without text)."""
    return [
        InboundMessage(
            provider_message_id=_text(event, "MessageSid") or "",
            from_number=_text(event, "From") or "",
            to_number=_text(event, "To") or "",
            body=_text(event, "Body", required=False) or "",
        )
    ]


def read_message_status(event: ProviderEvent) -> list[MessageNotice]:
    """``message.<status>``: a status callback for a message we sent; failures carry Twilio's
    ErrorCode (https://www.twilio.com/docs/api/errors)."""
    reported = _text(event, "MessageStatus") or ""
    status = _STATUSES.get(reported)
    if status is None:
        return []
    error = None
    if status is MessageStatus.FAILED:
        code = _text(event, "ErrorCode", required=False)
        detail = _text(event, "ErrorMessage", required=False)
        error = (
            f"Twilio: {reported}" + (f", error {code}" if code else "") + (f": {detail}" if detail else "")
        )
    return [
        StatusReport(
            provider_message_id=_text(event, "MessageSid") or "",
            status=status,
            error=error,
            from_number=_text(event, "From", required=False),
        )
    ]


MESSAGE_EVENTS: dict[str, Callable[[ProviderEvent], list[MessageNotice]]] = {
    "message.received": read_inbound_message,
    **{f"message.{status}": read_message_status for status in _STATUSES},
}


class TwilioPlugin:
    """Offers ``twilio`` (SMS). Holds only the operator's API base, never a tenant's settings."""

    name = "twilio"

    def __init__(self, api_base: str | None = None) -> None:
        self.api_base = operator_api_base(api_base, API_BASE_ENV)

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        api_base = self.api_base
        return [
            ProviderSpec(
                slug="twilio",
                capability=Capability.SMS,
                name="Twilio SMS",
                config_model=TwilioConfig,
                build=lambda config: TwilioSms(config, api_base),
                description="Sends text messages through Twilio Programmable Messaging.",
                verify_webhook=verify_webhook,
                message_events=MESSAGE_EVENTS,
                acknowledgement=EMPTY_TWIML,
            )
        ]


__all__ = [
    "MESSAGE_EVENTS",
    "ProviderError",
    "TwilioConfig",
    "TwilioPlugin",
    "TwilioSms",
    "read_inbound_message",
    "read_message_status",
    "verify_webhook",
]
