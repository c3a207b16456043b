"""Messaging use cases: texting a customer, reading conversations and opt-outs, and what the
worker does with outgoing messages and with what SMS providers tell of messages.

Sending is two steps. The request stores the message ``queued`` with an outbox job in one
transaction (nothing leaves in a request). The worker then checks the opt-out again, because one
may have arrived since, calls the provider with no transaction open, and records the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from switchboard.core.customers.model import normalize_phone
from switchboard.core.customers.timeline import CUSTOMER_NOT_FOUND
from switchboard.core.errors import Conflict, InvalidInput, NotFound, gather
from switchboard.core.flags.handlers import ensure_enabled
from switchboard.core.identity.model import Principal
from switchboard.core.integrations.model import Capability
from switchboard.core.messaging.model import (
    SEND_KIND,
    CustomerHasNoPhone,
    InboundMessage,
    Message,
    MessageDirection,
    MessageFilter,
    MessageStatus,
    OptKeyword,
    SenderType,
    SmsOptOut,
    StatusReport,
    advances,
    clean_body,
    keyword_of,
    recipient_opted_out,
    short_error,
)
from switchboard.core.pagination import Page, PageRequest
from switchboard.core.queues.model import new_outbox_message
from switchboard.core.tenancy.permissions import Action, require

if TYPE_CHECKING:  # ports appear in annotations only; the core imports nothing outside itself
    from switchboard.ports.clock import Clock
    from switchboard.ports.persistence import UnitOfWork

MESSAGE_NOT_FOUND = "no message with this id"
NO_PROVIDER = "no sms provider is connected"
OPTED_OUT_ERROR = "not sent: the number opted out of text messages"
SMS_FLAG = "sms"
RAW_NUMBER_MAX = 32  # a sender that is no phone number (a short code, a name) is kept as given


async def opt_out_of(uow: UnitOfWork, phone: str) -> SmsOptOut | None:
    """The one check every sender makes before texting ``phone`` (E.164) inside its open unit of
    work: the request, the worker at send time, and reminders."""
    return await uow.sms_opt_outs.get(phone)


# --- sending -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendMessage:
    customer_id: UUID
    body: str


async def send_message(cmd: SendMessage, principal: Principal, uow: UnitOfWork, clock: Clock) -> Message:
    """Queue a text to the customer's phone. 403 when the tenant's plan has no SMS, 404 for no
    such customer, 422 when they have no phone, 409 when their number opted out or no SMS
    provider is connected."""
    require(principal, Action.MESSAGES_WRITE)
    body = clean_body(cmd.body)
    now = clock.now()
    async with uow:
        await ensure_enabled(uow, SMS_FLAG)
        customer = await uow.customers.get(cmd.customer_id)
        if customer is None:
            raise NotFound(CUSTOMER_NOT_FOUND)
        if customer.phone is None:
            raise CustomerHasNoPhone("the customer has no phone number to text")
        if await opt_out_of(uow, customer.phone) is not None:
            raise recipient_opted_out()
        integration = await uow.integrations.enabled_for(Capability.SMS)
        if integration is None:
            raise Conflict(NO_PROVIDER, code="provider_not_connected")
        sender_type, sender_id = _sender(principal)
        message = Message(
            id=uuid4(),
            tenant_id=principal.tenant_id,
            customer_id=customer.id,
            direction=MessageDirection.OUTBOUND,
            from_number=None,
            to_number=customer.phone,
            body=body,
            status=MessageStatus.QUEUED,
            created_at=now,
            updated_at=now,
            provider=integration.provider,
            sender_type=sender_type,
            sender_id=sender_id,
        )
        await uow.messages.add(message)
        await uow.outbox.add(
            new_outbox_message(principal.tenant_id, SEND_KIND, {"message_id": str(message.id)}, now)
        )
        details = {"customer_id": str(customer.id), "to": customer.phone, "length": len(body)}
        await uow.audit.record("message.queued", "message", str(message.id), details)
        await uow.commit()
    return message


def _sender(principal: Principal) -> tuple[SenderType, UUID | None]:
    if principal.api_key_id is not None:
        return SenderType.API_KEY, principal.api_key_id
    if principal.user_id is not None:
        return SenderType.USER, principal.user_id
    return SenderType.SYSTEM, None


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListMessages:
    page: PageRequest = field(default_factory=PageRequest)
    customer_id: UUID | None = None
    direction: str | None = None
    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


async def list_messages(cmd: ListMessages, principal: Principal, uow: UnitOfWork) -> Page[Message]:
    require(principal, Action.MESSAGES_READ)
    return await _list(cmd, uow, customer_must_exist=False)


async def list_customer_messages(cmd: ListMessages, principal: Principal, uow: UnitOfWork) -> Page[Message]:
    """The conversation with one customer, newest first; 404 for no such customer."""
    require(principal, Action.MESSAGES_READ)
    return await _list(cmd, uow, customer_must_exist=True)


async def _list(cmd: ListMessages, uow: UnitOfWork, *, customer_must_exist: bool) -> Page[Message]:
    checks: dict[str, Callable[[], Any]] = {
        "direction": lambda: _enum(MessageDirection, cmd.direction, "direction"),
        "status": lambda: _enum(MessageStatus, cmd.status, "status"),
        "created_after": lambda: _utc(cmd.created_after, "created_after"),
        "created_before": lambda: _utc(cmd.created_before, "created_before"),
    }
    checked = gather(checks)
    filters = MessageFilter(customer_id=cmd.customer_id, **checked)
    async with uow:
        if customer_must_exist and (
            cmd.customer_id is None or await uow.customers.get(cmd.customer_id) is None
        ):
            raise NotFound(CUSTOMER_NOT_FOUND)
        return await uow.messages.list(filters, cmd.page)


def _enum(kind: Any, value: str | None, field: str) -> Any:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput.single(field, f"must be one of {allowed}") from None


def _utc(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput.single(field, "must include a time zone")
    return value


async def get_message(message_id: UUID, principal: Principal, uow: UnitOfWork) -> Message:
    require(principal, Action.MESSAGES_READ)
    async with uow:
        message = await uow.messages.get(message_id)
    if message is None:
        raise NotFound(MESSAGE_NOT_FOUND)
    return message


async def list_opt_outs(page: PageRequest, principal: Principal, uow: UnitOfWork) -> Page[SmsOptOut]:
    """The numbers that asked not to be texted, newest first."""
    require(principal, Action.MESSAGES_READ)
    async with uow:
        return await uow.sms_opt_outs.list(page)


# --- the worker: sending a queued message --------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    message: Message
    provider: str  # the SMS provider connected when the send was decided


async def prepare_send(message_id: UUID, uow: UnitOfWork, clock: Clock) -> Outgoing | None:
    """The message to send now, or None: it is gone or settled already, or its number opted out
    since it was queued (then it is ``blocked``, audited, and never sent)."""
    async with uow:
        message = await uow.messages.get(message_id, for_update=True)
        if message is None or message.status is not MessageStatus.QUEUED:
            return None
        if await opt_out_of(uow, message.to_number) is not None:
            await _settle(uow, message, MessageStatus.BLOCKED, clock.now(), error=OPTED_OUT_ERROR)
            details = {"customer_id": str(message.customer_id) if message.customer_id else None}
            await uow.audit.record("message.blocked", "message", str(message.id), details)
            await uow.commit()
            return None
        integration = await uow.integrations.enabled_for(Capability.SMS)
    provider = integration.provider if integration else (message.provider or "")
    return Outgoing(message, provider)


async def message_sent(
    message_id: UUID, provider: str, provider_message_id: str, uow: UnitOfWork, clock: Clock
) -> None:
    """The provider took the message: ``sent``, with its id for the status callbacks to come."""
    async with uow:
        message = await uow.messages.get(message_id, for_update=True)
        if message is None or message.status is not MessageStatus.QUEUED:
            return
        sent = replace(message, provider=provider, provider_message_id=provider_message_id)
        await _settle(uow, sent, MessageStatus.SENT, clock.now())
        await uow.commit()


async def message_failed(message_id: UUID, reason: str, uow: UnitOfWork, clock: Clock) -> None:
    """The provider refused it, could not be reached until the last try, or is gone: ``failed``."""
    async with uow:
        message = await uow.messages.get(message_id, for_update=True)
        if message is None or message.status is not MessageStatus.QUEUED:
            return
        await _settle(uow, message, MessageStatus.FAILED, clock.now(), error=reason)
        await uow.commit()


async def _settle(
    uow: UnitOfWork, message: Message, status: MessageStatus, now: datetime, *, error: str | None = None
) -> Message:
    settled = replace(
        message,
        status=status,
        error=short_error(error) if error else message.error,
        updated_at=now,
        version=message.version + 1,
    )
    if not await uow.messages.update(settled, expected_version=message.version):
        raise Conflict("the message changed while it was being updated")
    return settled


# --- the worker: what an SMS provider tells -------------------------------------------------------


async def receive_message(
    notice: InboundMessage,
    provider: str,
    tenant_id: UUID,
    uow: UnitOfWork,
    clock: Clock,
    received_at: datetime | None = None,
) -> Message | None:
    """Store a customer's text (at ``received_at``, when its webhook arrived, if known), matched
    to the customer by their number, and act on an opt-out or opt-in keyword. None when it was
    stored before (a repeated delivery)."""
    sender = _number(notice.from_number)
    now = received_at or clock.now()
    async with uow:
        if await uow.messages.get_by_provider_id(provider, notice.provider_message_id) is not None:
            return None
        customer = await uow.customers.find_by_phone(sender)
        message = Message(
            id=uuid4(),
            tenant_id=tenant_id,
            customer_id=customer.id if customer else None,
            direction=MessageDirection.INBOUND,
            from_number=sender,
            to_number=_number(notice.to_number),
            body=notice.body.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
            status=MessageStatus.RECEIVED,
            created_at=now,
            updated_at=now,
            provider=provider,
            provider_message_id=notice.provider_message_id,
        )
        await uow.messages.add(message)
        keyword = keyword_of(notice.body)
        if keyword is not None:
            await _apply_keyword(uow, message, *keyword)
        await uow.commit()
    return message


async def _apply_keyword(uow: UnitOfWork, message: Message, action: OptKeyword, word: str) -> None:
    phone = message.from_number or ""
    customer = str(message.customer_id) if message.customer_id else None
    if action is OptKeyword.OPT_OUT:
        opt_out = SmsOptOut(
            id=uuid4(),
            tenant_id=message.tenant_id,
            phone=phone,
            keyword=word,
            opted_out_at=message.created_at,
            customer_id=message.customer_id,
            message_id=message.id,
        )
        if await uow.sms_opt_outs.add(opt_out):
            details = {"keyword": word, "customer_id": customer, "message_id": str(message.id)}
            await uow.audit.record("sms.opted_out", "sms_opt_out", phone, details)
    elif await uow.sms_opt_outs.remove(phone) is not None:
        details = {"keyword": word, "customer_id": customer, "message_id": str(message.id)}
        await uow.audit.record("sms.opted_in", "sms_opt_out", phone, details)


def _number(raw: str) -> str:
    """E.164 where it is a phone number; a short code or an alphanumeric sender as given."""
    try:
        return normalize_phone(raw)
    except InvalidInput:
        return raw.strip()[:RAW_NUMBER_MAX]


async def apply_status(notice: StatusReport, provider: str, uow: UnitOfWork, clock: Clock) -> Message | None:
    """Move the message the provider reports on forward; a repeated or late report changes
    nothing. None when no message of this tenant has the provider's id (yet)."""
    async with uow:
        message = await uow.messages.get_by_provider_id(provider, notice.provider_message_id, for_update=True)
        if message is None:
            return None
        if not advances(message.status, notice.status):
            return message
        if message.from_number is None and notice.from_number:
            message = replace(message, from_number=_number(notice.from_number))
        error = notice.error if notice.status is MessageStatus.FAILED else None
        settled = await _settle(uow, message, notice.status, clock.now(), error=error)
        await uow.commit()
    return settled
