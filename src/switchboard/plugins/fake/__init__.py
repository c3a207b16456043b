"""The fake plugin: every capability it covers, in memory, recording what it was asked to do.

For development and end-to-end tests, and the worked example of docs/plugins.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from switchboard.core.integrations.model import Capability
from switchboard.plugins import ProviderSpec, hookimpl
from switchboard.ports.providers import (
    EmailMessage,
    IncomingWebhook,
    PaymentIntent,
    PaymentIntentRequest,
    ProviderEvent,
    Refund,
    RefundRequest,
    SmsMessage,
    WebhookRejected,
)


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
    refunds: list[tuple[str, RefundRequest]] = field(default_factory=list)
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
        return Refund(
            self._record.next_id("fake_re"), request.payment_id, request.amount or 0, "USD", "succeeded"
        )

    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent:
        self._record.payment_intents.append((self.config.label, request))
        provider_id = self._record.next_id("fake_pi")
        return PaymentIntent(
            provider_id, request.amount, request.currency, "requires_payment_method", f"{provider_id}_secret"
        )


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
            ),
        ]
