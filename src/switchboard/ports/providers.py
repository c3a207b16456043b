"""Outside providers, in Switchboard's words.

A capability is something a tenant gets from a provider (email, SMS, payments, ...). Each has a
port here; a plugin supplies adapters for the capabilities it covers, and a tenant's integration
picks which provider serves each capability for that tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from switchboard.core.integrations.model import Capability

if TYPE_CHECKING:
    from switchboard.ports.avatar_video import AvatarVideoPort
    from switchboard.ports.voice import VoiceMessages, VoicePort

__all__ = ["Capability"]


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    template_id: str | None = None
    template_data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class SmsMessage:
    to: str  # E.164
    body: str
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PaymentIntentRequest:
    amount: int  # minor units
    currency: str  # ISO 4217, upper case
    description: str
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PaymentIntent:
    provider_id: str
    amount: int
    currency: str
    status: str
    client_secret: str | None = None


@dataclass(frozen=True)
class PaymentLinkRequest:
    """A page the provider hosts where the customer pays ``amount`` (e.g. a Stripe Checkout
    Session), sending them to ``success_url`` afterwards (``cancel_url`` if they give up)."""

    amount: int  # minor units
    currency: str  # ISO 4217, upper case
    description: str  # what the customer sees they are paying for
    success_url: str
    cancel_url: str | None = None
    customer_email: str | None = None
    # Attached to the payment the page takes, so its success event names what it paid.
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PaymentLink:
    provider_id: str  # the provider's id of the page (a Checkout Session: cs_...)
    url: str
    amount: int
    currency: str
    expires_at: datetime | None = None


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str  # the provider's id of the payment intent
    amount: int | None = None  # minor units; None refunds what remains
    reason: str | None = None
    idempotency_key: str | None = None
    # Attached to the refund, so the provider's refund events name Switchboard's refund.
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refund:
    provider_id: str
    payment_id: str
    amount: int
    currency: str
    status: str


@dataclass(frozen=True)
class IncomingWebhook:
    """A provider's HTTP call to Switchboard, exactly as it arrived."""

    headers: dict[str, str]  # names in lower case
    body: bytes
    url: str  # the full URL the provider called (some sign it)


@dataclass(frozen=True)
class ProviderEvent:
    """One verified event from a provider, in a form the inbox can store."""

    event_id: str  # the provider's id: an event is stored once per (provider, event_id)
    type: str  # the provider's event type, e.g. "payment_intent.succeeded"
    data: dict[str, Any]  # JSON-serialisable
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class WebhookAcknowledgement:
    """What a provider expects back once its call is stored, where any JSON 200 will not do
    (Twilio's messaging webhook reads the answer as TwiML: an empty ``<Response/>`` replies
    nothing)."""

    body: bytes
    content_type: str
    status: int = 200


class ProviderError(Exception):
    """A provider refused a call or could not be reached.

    ``retryable`` says whether the same call may succeed later: true for rate limits, the
    provider's own failures (5xx) and network errors; false for a refusal (another 4xx: a bad
    number, a declined card, a revoked key), which would be refused again. The worker retries
    the first kind and parks the second as dead at once.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: str | int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code
        self.details = details


class WebhookRejected(Exception):
    """The call is not provably from the provider (signature, freshness) or is malformed."""


class EmailSender(Protocol):
    async def send_email(self, message: EmailMessage) -> str:
        """Send; return the provider's id for the message."""
        ...


class SmsSender(Protocol):
    async def send_sms(self, message: SmsMessage) -> str:
        """Send; return the provider's id for the message."""
        ...


class PaymentsPort(Protocol):
    async def create_payment_intent(self, request: PaymentIntentRequest) -> PaymentIntent: ...

    async def create_payment_link(self, request: PaymentLinkRequest) -> PaymentLink:
        """A hosted payment page for ``request.amount``; a repeat with the same idempotency key
        answers the same page."""
        ...

    async def refund(self, request: RefundRequest) -> Refund: ...


@dataclass(frozen=True)
class ProviderDescription:
    slug: str
    capability: Capability
    name: str
    plugin: str


@dataclass(frozen=True)
class ValidatedConfig:
    """A provider configuration its plugin accepted, with the names of its secret fields."""

    values: dict[str, Any]
    secret_fields: frozenset[str]


class ProviderCatalog(Protocol):
    """What the installed plugins offer."""

    def describe(self, slug: str) -> ProviderDescription | None: ...

    def all(self) -> list[ProviderDescription]: ...

    def validate_config(self, slug: str, config: dict[str, Any]) -> ValidatedConfig:
        """The plugin's own checks; raises ``InvalidInput`` naming ``config.<field>``."""
        ...

    def verify_webhook(
        self, slug: str, config: dict[str, Any], incoming: IncomingWebhook
    ) -> list[ProviderEvent]:
        """The provider's own signature and freshness checks; raises ``WebhookRejected``."""
        ...

    def acknowledgement(self, slug: str) -> WebhookAcknowledgement | None:
        """The answer the provider expects to a stored call; None when any JSON 200 will do."""
        ...

    def voice_messages(self, slug: str) -> VoiceMessages | None:
        """How a voice provider reads its platform's messages and shapes the answers to the
        ones that need one during the call; None for any other provider."""
        ...


class SecretBox(Protocol):
    """Authenticated encryption for credentials at rest, with rotatable keys."""

    def seal(self, plaintext: bytes) -> bytes: ...

    def open(self, sealed: bytes) -> bytes:
        """Decrypt with whichever configured key sealed it; raises ValueError if none did."""
        ...


class ProviderRegistry(Protocol):
    """The tenant's enabled provider for a capability, as a fresh adapter of its own."""

    async def email_for(self, tenant_id: UUID) -> EmailSender: ...

    async def account_email_for(self, tenant_id: UUID) -> EmailSender:
        """For mail about people's accounts: never held back by the email feature flag."""
        ...

    async def sms_for(self, tenant_id: UUID) -> SmsSender: ...

    async def payments_for(self, tenant_id: UUID) -> PaymentsPort: ...

    async def voice_for(self, tenant_id: UUID) -> VoicePort:
        """The tenant's voice platform (ports/voice.py)."""
        ...

    async def avatar_video_for(self, tenant_id: UUID) -> AvatarVideoPort:
        """The tenant's avatar video provider (ports/avatar_video.py)."""
        ...


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None  # None when no answer came
    error: str | None
    duration_ms: int


class WebhookSender(Protocol):
    """Outbound webhooks to addresses tenants chose: checked, signed, sent."""

    async def check_address(self, url: str) -> None:
        """Raise ``InvalidInput`` (field ``url``) unless every address the host resolves to is
        public: no loopback, private, link-local (cloud metadata) or reserved address."""
        ...

    async def deliver(self, url: str, secret: str, event_id: str, body: bytes) -> DeliveryResult:
        """Check the address again, sign per Standard Webhooks, POST without following redirects."""
        ...
