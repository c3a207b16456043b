"""Text messages with customers, both ways, and the opt-outs that decide whether we may text them.

A message is outbound (a person, an API key or the system texts a customer) or inbound (a
customer texts the tenant's number). An outbound message is stored ``queued`` with an outbox job
in the same transaction; the worker sends it through the tenant's SMS provider (``sent``), or
finds the number opted out meanwhile (``blocked``) or the provider refusing (``failed``). The
provider's status callbacks then move it on (``delivered``, ``failed``), forward only: they
arrive at least once and in no guaranteed order.

Opt-outs work as carriers and Twilio's Advanced Opt-Out do: a message that is exactly one of the
opt-out keywords (case-insensitive, trimmed) stops every text to that number from the tenant;
one of the opt-in keywords allows them again. The check is one function (``handlers.opt_out_of``)
used by every sender: the send request, the worker at send time, and reminders.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from switchboard.core.customers.timeline import TimelineEntry, TimelineKind, TimelineRef
from switchboard.core.errors import Conflict, DomainError, InvalidInput

BODY_MAX = 1600  # Twilio's limit for one message body (it splits it into segments itself)
ERROR_MAX = 500
SEND_KIND = "sms.message.send"  # the outbox job that sends one stored message

# What carriers and Twilio's Advanced Opt-Out treat as opting out, and back in.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

# Line breaks are how texts are written; every other control character is refused.
_BODY_WHITESPACE = frozenset("\n")


class MessageDirection(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MessageStatus(StrEnum):
    QUEUED = "queued"  # stored, waiting for the worker to send it
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the carrier confirmed delivery
    FAILED = "failed"  # the provider refused it, or the carrier could not deliver it
    RECEIVED = "received"  # an inbound message
    BLOCKED = "blocked"  # never sent: the number had opted out


# Forward only: a late "sent" never undoes "delivered"; nothing moves a final status.
_RANK: dict[MessageStatus, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.DELIVERED: 2,
    MessageStatus.FAILED: 2,
    MessageStatus.BLOCKED: 2,
    MessageStatus.RECEIVED: 2,
}
FINAL = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.BLOCKED, MessageStatus.RECEIVED}
)


def advances(current: MessageStatus, reported: MessageStatus) -> bool:
    """Whether a reported status moves a message forward (a repeat, a late one or one after a
    final status does not)."""
    return current not in FINAL and _RANK[reported] > _RANK[current]


class SenderType(StrEnum):
    """Who sent an outbound message: a person, an API key, or Switchboard itself."""

    USER = "user"
    API_KEY = "api_key"
    SYSTEM = "system"


class OptKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"


@dataclass(frozen=True)
class Message:
    id: UUID
    tenant_id: UUID
    customer_id: UUID | None
    direction: MessageDirection
    from_number: str | None  # E.164; an outbound message's sender is known once the provider says
    to_number: str  # E.164
    body: str
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    provider: str | None = None  # the slug of the provider that carried it
    provider_message_id: str | None = None
    error: str | None = None
    sender_type: SenderType | None = None  # outbound only
    sender_id: UUID | None = None  # the user or API key; None for the system
    version: int = 1

    @property
    def customer_number(self) -> str | None:
        """The customer's side of the conversation."""
        return self.to_number if self.direction is MessageDirection.OUTBOUND else self.from_number


@dataclass(frozen=True)
class MessageFilter:
    customer_id: UUID | None = None
    direction: MessageDirection | None = None
    status: MessageStatus | None = None
    created_after: datetime | None = None  # exclusive
    created_before: datetime | None = None  # exclusive


@dataclass(frozen=True)
class SmsOptOut:
    """A number that asked the tenant to stop texting it: when, and with which keyword."""

    id: UUID
    tenant_id: UUID
    phone: str  # E.164
    keyword: str  # as the customer wrote it, upper case: "STOP", "UNSUBSCRIBE", ...
    opted_out_at: datetime
    customer_id: UUID | None = None  # the customer matched to the number then, if any
    message_id: UUID | None = None  # the inbound message that opted out


# --- what an SMS provider tells of messages (read by its plugin from its webhooks) ---------------


@dataclass(frozen=True)
class InboundMessage:
    """A customer texted the tenant's number."""

    provider_message_id: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class StatusReport:
    """The provider's news about a message it was given: sent, delivered, or failed (with why)."""

    provider_message_id: str
    status: MessageStatus
    error: str | None = None
    from_number: str | None = None  # the sender the provider picked, when it says


MessageNotice = InboundMessage | StatusReport


# --- rules ---------------------------------------------------------------------------------------


class CustomerHasNoPhone(DomainError):
    """The customer has no phone number to text."""

    code = "customer_has_no_phone"


def recipient_opted_out() -> Conflict:
    return Conflict("this number has opted out of text messages (it texted STOP)", code="recipient_opted_out")


def clean_body(value: object) -> str:
    """1 to 1600 characters of text, trimmed; line breaks kept (CRLF as LF), no other controls."""
    if not isinstance(value, str):
        raise InvalidInput.single("body", "must be text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidInput.single("body", "must not be blank")
    if len(text) > BODY_MAX:
        raise InvalidInput.single("body", f"must be at most {BODY_MAX} characters")
    if any(unicodedata.category(char) == "Cc" and char not in _BODY_WHITESPACE for char in text):
        raise InvalidInput.single("body", "must not contain control characters other than line breaks")
    return text


def keyword_of(body: str) -> tuple[OptKeyword, str] | None:
    """Whether an inbound message is an opt-out or opt-in keyword, and which one (upper case).

    Only the whole message counts, as carriers count it: "STOP" and " stop " do; "Please stop
    calling" does not.
    """
    word = unicodedata.normalize("NFKC", body).strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return OptKeyword.OPT_OUT, word
    if word in OPT_IN_KEYWORDS:
        return OptKeyword.OPT_IN, word
    return None


def short_error(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


def timeline_entry(message: Message) -> TimelineEntry:
    """The message on its customer's timeline. Never its body: that is free text the customer
    (or a colleague) wrote, which the timeline does not repeat."""
    if message.direction is MessageDirection.INBOUND:
        summary = "Text message received"
    elif message.status is MessageStatus.BLOCKED:
        summary = "Text message not sent: the number opted out"
    else:
        summary = f"Text message sent ({message.status.value})"
    return TimelineEntry(
        occurred_at=message.created_at,
        id=message.id,
        kind=TimelineKind.MESSAGE,
        summary=summary,
        ref=TimelineRef("message", message.id),
    )
