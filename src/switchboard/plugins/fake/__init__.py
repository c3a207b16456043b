"""The fake plugin: every capability it covers, in memory, recording what it was asked to do.

The fake voice platform (``fake_voice``) lives in ``plugins/fake/voice.py``; its record is
``FakeRecord.voice``. The fake avatar video provider (``fake_avatar_video``) lives in
``plugins/fake/avatar_video.py``; its record is ``FakeRecord.videos``.

For development and end-to-end tests, and the worked example of docs/plugins.md.

The fake payments provider tells of payments and refunds with two signed events of its own
(Standard Webhooks, body ``{"type": ..., "data": {...}}``), its equivalents of Stripe's:

- ``payment.succeeded``: ``{"payment_id", "amount", "currency", "metadata"}``, the payment id
  as ``create_payment_intent`` answered it, the metadata as it was given;
- ``refund.updated``: ``{"refund_id", "payment_id", "amount", "currency", "status", "metadata",
  "failure_reason"?}``, status ``pending``, ``succeeded`` or ``failed``.

Its refunds succeed at once, unless a test queued a failure in ``FakeRecord.refund_failures``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from switchboard.core.integrations.model import Capability
from switchboard.core.queues.model import PermanentFailure
from switchboard.core.sales.provider_payments import (
    PaymentNotice,
    PaymentSucceeded,
    RefundChanged,
    RefundStatus,
    provider_id,
)
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.plugins.fake.avatar_video import (
    FAKE_VIDEO_EVENTS,
    FakeAvatarVideo,
    FakeAvatarVideoConfig,
    FakeVideoRecord,
    verify_fake_video_webhook,
)
from switchboard.plugins.fake.voice import (
    FAKE_VOICE_MESSAGES,
    FakeVoice,
    FakeVoiceConfig,
    FakeVoiceRecord,
    verify_fake_voice_webhook,
)
from switchboard.ports.providers import (
    EmailMessage,
    IncomingWebhook,
    PaymentIntent,
    PaymentIntentRequest,
    PaymentLink,
    PaymentLinkRequest,
    ProviderError,
    ProviderEvent,
    Refund,
    RefundRequest,
    SmsMessage,
    WebhookRejected,
)

T = TypeVar("T")


class FakeConfig(BaseModel):
    """A real-looking configuration: a label anyone may see, and a secret key."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(default="fake", max_length=100)
    api_key: SecretStr = Field(min_length=8, max_length=200)
    # Standard Webhooks secret ("whsec_" + base64) for the fake provider's signed events.
    webhook_secret: SecretStr | None = Field(default=None, max_length=200)


@dataclass
class FakeRecord:
    """What the fake providers were asked to do, in order, with the label of the configuration."""

    emails: list[tuple[str, EmailMessage]] = field(default_factory=list)
    sms: list[tuple[str, SmsMessage]] = field(default_factory=list)
    payment_intents: list[tuple[str, PaymentIntentRequest]] = field(default_factory=list)
    payment_links: list[tuple[str, PaymentLinkRequest]] = field(default_factory=list)
    refunds: list[tuple[str, RefundRequest]] = field(default_factory=list)
    # What a test wants the next refunds to raise, in order (then they succeed again).
    refund_failures: list[ProviderError] = field(default_factory=list)
    # The currency of each payment made here, by its id, for the refunds of it.
    currencies: dict[str, str] = field(default_factory=dict)
    # The fake voice platform's accounts (plugins/fake/voice.py).
    voice: FakeVoiceRecord = field(default_factory=FakeVoiceRecord)
    # The fake avatar video provider's catalogs and videos (plugins/fake/avatar_video.py).
    videos: FakeVideoRecord = field(default_factory=FakeVideoRecord)
    # Answers given to idempotency keys, replayed for a repeat as a real provider does.
    _answers: dict[str, object] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"


class FakeEmail:
    def __init__(self, config: FakeConfig, record: FakeRecord) -> None:
        self.config, self._record = config, record

    async def send_email(self, message: EmailMessage) -> str:
        self._record.emails.append((self.config.label, message))
        return self._record.next_id("fake_email")


class FakeSms:
    def __init__(self, config: FakeConfig, record: FakeRecord) -> None:
        self.config, self._record = config, record

    async def send_sms(self, message: SmsMessage) -> str:
        self._record.sms.append((self.config.label, message))
        return self._record.next_id("fake_sms")


class FakePayments:
    def __init__(self, config: FakeConfig, record: FakeRecord) -> None:
        self.config, self._record = config, record

    async def refund(self, request: RefundRequest) -> Refund:
        self._record.refunds.append((self.config.label, request))
        replay = self._replay(request.idempotency_key, Refund)
        if replay is not None:
            return replay
        if self._record.refund_failures:
            raise self._record.refund_failures.pop(0)
        currency = self._record.currencies.get(request.payment_id, "USD")
        refund = Refund(
            self._record.next_id("fake_re"), request.payment_id, request.amount or 0, currency, "succeeded"
        )
        return self._keep(request.idempotency_key, refund)

    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        self._record.payment_intents.append((self.config.label, request))
        replay = self._replay(request.idempotency_key, PaymentIntent)
        if replay is not None:
            return replay
        intent_id = self._record.next_id("fake_pi")
        self._record.currencies[intent_id] = request.currency
        intent = PaymentIntent(
            intent_id, request.amount, request.currency, "requires_payment_method", f"{intent_id}_secret"
        )
        return self._keep(request.idempotency_key, intent)

    async def create_payment_link(self, request: PaymentLinkRequest) -> PaymentLink:
        self._record.payment_links.append((self.config.label, request))
        replay = self._replay(request.idempotency_key, PaymentLink)
        if replay is not None:
            return replay
        page_id = self._record.next_id("fake_page")
        link = PaymentLink(page_id, f"https://pay.fake.test/{page_id}", request.amount, request.currency)
        return self._keep(request.idempotency_key, link)

    def _replay(self, key: str | None, kind: type[T]) -> T | None:
        answer = self._record._answers.get(f"{self.config.label}:{key}") if key else None
        return answer if isinstance(answer, kind) else None

    def _keep(self, key: str | None, answer: T) -> T:
        if key:
            self._record._answers[f"{self.config.label}:{key}"] = answer
        return answer


def _fake_metadata(data: dict[str, Any]) -> dict[str, str]:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    return {str(key): value for key, value in metadata.items() if isinstance(value, str)}


def _fake_amount(data: dict[str, Any], event: ProviderEvent) -> tuple[int, str]:
    amount, currency = data.get("amount"), data.get("currency")
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int)
        or amount <= 0
        or not isinstance(currency, str)
    ):
        raise PermanentFailure(f"fake event {event.event_id}: no positive amount and currency")
    return amount, currency.upper()


def read_fake_payment(event: ProviderEvent) -> list[PaymentNotice]:
    """``payment.succeeded``."""
    payment_id = provider_id(event.data.get("payment_id"))
    if payment_id is None:
        raise PermanentFailure(f"fake event {event.event_id}: no payment_id")
    amount, currency = _fake_amount(event.data, event)
    return [PaymentSucceeded(payment_id, amount, currency, _fake_metadata(event.data))]


def read_fake_refund(event: ProviderEvent) -> list[PaymentNotice]:
    """``refund.updated``."""
    refund_id, payment_id = (
        provider_id(event.data.get("refund_id")),
        provider_id(event.data.get("payment_id")),
    )
    if refund_id is None or payment_id is None:
        raise PermanentFailure(f"fake event {event.event_id}: no refund_id or payment_id")
    amount, currency = _fake_amount(event.data, event)
    try:
        status = RefundStatus(str(event.data.get("status", "succeeded")))
    except ValueError as error:
        raise PermanentFailure(f"fake event {event.event_id}: {error}") from error
    failure = event.data.get("failure_reason")
    return [
        RefundChanged(
            refund_id,
            payment_id,
            amount,
            currency,
            status,
            _fake_metadata(event.data),
            failure_reason=failure if isinstance(failure, str) else None,
        )
    ]


FAKE_PAYMENT_EVENTS = {"payment.succeeded": read_fake_payment, "refund.updated": read_fake_refund}


def verify_fake_webhook(config: FakeConfig, incoming: IncomingWebhook) -> list[ProviderEvent]:
    """Fake events are signed per Standard Webhooks; the body is {"type": ..., "data": {...}}."""
    if config.webhook_secret is None:
        raise WebhookRejected("this connection has no webhook secret")
    try:
        body = Webhook(config.webhook_secret.get_secret_value()).verify(incoming.body, incoming.headers)
        return [ProviderEvent(incoming.headers["webhook-id"], str(body["type"]), dict(body.get("data", {})))]
    except (WebhookVerificationError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise WebhookRejected(f"not a valid signed event: {error}") from error


class FakePlugin:
    name = "fake"

    def __init__(self) -> None:
        self.record = FakeRecord()

    @hookimpl
    def switchboard_providers(self) -> list[ProviderSpec]:
        return [
            ProviderSpec(
                "fake_email",
                Capability.EMAIL,
                "Fake email",
                FakeConfig,
                lambda config: FakeEmail(config, self.record),
                "Records emails instead of sending them.",
                verify_fake_webhook,
            ),
            ProviderSpec(
                "fake_sms",
                Capability.SMS,
                "Fake SMS",
                FakeConfig,
                lambda config: FakeSms(config, self.record),
                "Records text messages instead of sending them.",
                verify_fake_webhook,
            ),
            ProviderSpec(
                "fake_payments",
                Capability.PAYMENTS,
                "Fake payments",
                FakeConfig,
                lambda config: FakePayments(config, self.record),
                "Creates payment intents that never charge.",
                verify_fake_webhook,
                FAKE_PAYMENT_EVENTS,
            ),
            ProviderSpec(
                "fake_voice",
                Capability.VOICE,
                "Fake voice",
                FakeVoiceConfig,
                lambda config: FakeVoice(config, self.record.voice),
                "Keeps agents, numbers and calls in memory; its server messages are signed JSON.",
                verify_fake_voice_webhook,
                voice=FAKE_VOICE_MESSAGES,
            ),
            ProviderSpec(
                "fake_avatar_video",
                Capability.AVATAR_VIDEO,
                "Fake avatar video",
                FakeAvatarVideoConfig,
                lambda config: FakeAvatarVideo(config, self.record.videos),
                "Keeps avatars, voices and videos in memory; a test says when a video is done.",
                verify_fake_video_webhook,
                video_events=FAKE_VIDEO_EVENTS,
            ),
        ]
